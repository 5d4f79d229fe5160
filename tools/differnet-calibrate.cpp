// differnet-calibrate: sets a model's decision threshold from good images, without retraining.
#include <cstdio>

#include "calibration.h"
#include "cli.h"
#include "dataset.h"
#include "image_file.h"
#include "model.h"
#include "runtime.h"
#include "scoring.h"

using namespace differnet;

namespace {
const char* kHelp = R"(usage: differnet-calibrate [options] MODEL IMAGES...

Scores good images (files and/or folders) that the model was not trained on and sets its threshold to
the Q quantile of their scores; the model is rewritten atomically (or written to -o FILE).

  --transforms T   test-time rotations to score with (default 1, the element's default); calibrate at
                   the T the element will use: it warns when the two differ
  --quantile Q     Q above (default 0.99: about 1 % of good parts flagged; with few images the
                   top quantiles approach their maximum)
  --ext LIST       extensions to take from folders (default png,jpg,jpeg,bmp)
  --tiles CxR|auto  score each image as tiles (its score: the largest tile score), and record this
                   tiling in the model (default: the model's own, differnet-info shows it)
  --tile-overlap F  fraction of a tile shared with its neighbour, 0..0.9 (default: the model's)
  --exclude LIST   skip images whose file names are listed in LIST (e.g. the training images)
  -o FILE          write the calibrated model there instead of over MODEL
  --threads N, --device NAME
  --precision P     the backbone's arithmetic: fp32 (default), fp16 (CUDA only) or bf16; the flow
                    and the score stay fp32
  --flow-precision P  the flow's linear layers: fp32 (default), bf16 or int8 (CPU only): calibrate
                    at the flow precision the element will score with (its flow-precision)

example:
  differnet-calibrate parts.model fresh_good_parts/
)";
}  // namespace

int main(int argc, char** argv) {
  return cli::run_tool("differnet-calibrate", [&] {
    cli::Args args(argc, argv,
                   {{"transforms", true}, {"quantile", true}, {"ext", true}, {"exclude", true}, {"o", true},
                    {"threads", true}, {"device", true}, {"precision", true}, {"flow-precision", true}, {"tiles", true}, {"tile-overlap", true}},
                   kHelp);
    if (args.positionals().size() < 2) throw cli::UsageError("give a model and good images (see --help)");
    const std::string path = args.positionals()[0];
    const int T = args.integer("transforms", 1, 1, 1024);
    const double quantile = args.number("quantile", 0.99, 0.5, 1.0);
    const std::string device = resolve_device(args.text("device", "auto"));
    const Precision precision = parse_precision(args.text("precision", "fp32"));
    check_precision(device, precision);
    const FlowPrecision flow_precision = parse_flow_precision(args.text("flow-precision", "fp32"));
    set_threads(args.integer("threads", 0, 0, 1024));
    Model model = load_model(path);
    model.config.tiles = args.text("tiles", model.config.tiles);
    model.config.tile_overlap = args.number("tile-overlap", model.config.tile_overlap, 0, 0.9);
    try {
      model.config.validate();
    } catch (const Error& e) {
      throw cli::UsageError(std::string("--tiles/--tile-overlap: ") + e.what());
    }
    std::vector<std::string> inputs(args.positionals().begin() + 1, args.positionals().end());
    auto paths = select_images(inputs, args.list("ext", "png,jpg,jpeg,bmp"), "", args.text("exclude", ""));
    if (paths.size() < 2) throw Error("calibration needs at least 2 good images, found " + std::to_string(paths.size()));
    model.prepare_for_inference(device, precision, flow_precision);
    std::vector<double> scores;
    for (const auto& p : paths) {
      // an image's score: its worst tile's
      scores.push_back(worst_tile_score(
          model, load_resized_tiles(p, model.config.input_size, model.config.tiles, model.config.tile_overlap), T));
      cli::progress_line("scoring " + std::to_string(scores.size()) + "/" + std::to_string(paths.size()),
                         static_cast<double>(scores.size()) / paths.size());
    }
    cli::progress_done();
    const double before = model.calibration.threshold;
    const bool was = model.calibration.calibrated;
    model.calibration = calibrate_from_good_scores(scores, T, quantile);
    model.to(at::kCPU);
    const std::string out = args.text("o", path);
    save_model(model, out);
    if (was) std::printf("threshold %.6g -> %.6g", before, model.calibration.threshold);
    else std::printf("threshold set to %.6g", model.calibration.threshold);
    std::printf(" (%s); wrote %s\n", model.calibration.method.c_str(), out.c_str());
    return cli::kOk;
  });
}
