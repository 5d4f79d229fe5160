// differnet-calibrate: sets a model's decision threshold from good images, without retraining.
#include <cstdio>

#include "arithmetic_calibration.h"
#include "calibration.h"
#include "cli.h"
#include "dataset.h"
#include "image_file.h"
#include "image_score_choice.h"
#include "model.h"
#include "runtime.h"
#include "scoring.h"

using namespace differnet;

namespace {
const char* kHelp = R"(usage: differnet-calibrate [options] MODEL IMAGES...

Scores good images (files and/or folders) that the model was not trained on and sets its threshold to
the Q quantile of their scores; the model is rewritten atomically (or written to -o FILE). A reduced
precision moves every score a little, so the images are scored in every arithmetic (backbone and flow
precision) this machine runs and each gets its own threshold: the element's precision=auto uses only
an arithmetic the model holds a threshold for.
A model with a local scorer also gets a pixel threshold (the same quantile of the images' local-map
maxima): the element's defect regions are the heatmap cells at or above it.

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
  --calibrate-in LIST  the arithmetics to calibrate: "all" (default: every one this machine runs)
                   or BACKBONE/FLOW names such as fp32/fp32,bf16/int8 (fp32/fp32, the model's own
                   threshold, is always included); thresholds of other arithmetics are replaced
  --precision P, --flow-precision F  the same as --calibrate-in P/F (each fp32 when not given)
  --image-score M  score images with M from now on: flow, gaussian or combined (the last two need a
                   model holding the pooled Gaussian: differnet-train --image-score gaussian|combined),
                   or auto: the one of the three that best tells these good images from the same
                   images with synthetic defects planted (scratch, crack, spot, patch, stain; at
                   least 10 images; the table is printed)
  --seed N         the synthetic defects' seed for --image-score auto (default 0)
A model whose image score is combined also gets its scales: the spreads of the images' flow and
Gaussian scores.

example:
  differnet-calibrate parts.model fresh_good_parts/
)";
}  // namespace

int main(int argc, char** argv) {
  return cli::run_tool("differnet-calibrate", [&] {
    cli::Args args(argc, argv,
                   {{"transforms", true}, {"quantile", true}, {"ext", true}, {"exclude", true}, {"o", true},
                    {"threads", true}, {"device", true}, {"calibrate-in", true}, {"precision", true}, {"flow-precision", true}, {"tiles", true}, {"tile-overlap", true}, {"image-score", true}, {"seed", true}},
                   kHelp);
    if (args.positionals().size() < 2) throw cli::UsageError("give a model and good images (see --help)");
    const std::string path = args.positionals()[0];
    const int T = args.integer("transforms", 1, 1, 1024);
    const double quantile = args.number("quantile", 0.99, 0.5, 1.0);
    const std::string device = resolve_device(args.text("device", "auto"));
    std::vector<std::string> calibrate_in;
    if (args.has("precision") || args.has("flow-precision")) {
      if (args.has("calibrate-in")) throw cli::UsageError("give --calibrate-in or --precision/--flow-precision, not both");
      calibrate_in.push_back(args.text("precision", "fp32") + "/" + args.text("flow-precision", "fp32"));
    }
    for (const auto& a : args.list("calibrate-in", "all"))
      if (a != "all") calibrate_in.push_back(a);
    for (const auto& a : calibrate_in) parse_arithmetic(a, device);  // before the (slow) scoring
    set_threads(args.integer("threads", 0, 0, 1024));
    Model model = load_model(path);
    const bool choose = args.text("image-score", "") == "auto";
    if (args.has("seed") && !choose) throw cli::UsageError("--seed seeds the synthetic defects of --image-score auto only");
    if (args.has("image-score") && !choose) {
      try {
        model.config.image_score.method = image_score_name(parse_image_score(args.text("image-score", "")));
        model.config.image_score.chosen_by.clear();
        model.config.validate();
      } catch (const Error& e) {
        throw cli::UsageError(std::string("--image-score: ") + e.what());
      }
    }
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
    std::vector<std::vector<at::Tensor>> images;
    for (const auto& p : paths)
      images.push_back(load_resized_tiles(p, model.config.input_size, model.config.tiles, model.config.tile_overlap));
    if (choose) {
      if (!model.config.image_score.gaussian)
        throw cli::UsageError("--image-score auto needs a model holding the pooled Gaussian (differnet-train "
                              "--image-score gaussian, combined or auto)");
      const ImageScoreChoice choice = choose_image_score(
          model, images, device, static_cast<uint64_t>(args.integer("seed", 0, 0, 1 << 30)), [&](int done, int total) {
            cli::progress_line("synthetic defects " + std::to_string(done) + "/" + std::to_string(total),
                               static_cast<double>(done) / total);
            return true;
          });
      cli::progress_done();
      std::printf("image score: %s\n%s", choice.summary().c_str(), choice.table().c_str());
      model.config.image_score.method = choice.chosen;
      model.config.image_score.chosen_by = "auto: " + choice.summary();
    }
    ArithmeticCalibrationOptions o;
    std::vector<std::string> skipped;
    o.skipped = &skipped;
    o.transforms = T;
    o.quantile = quantile;
    o.arithmetics = calibrate_in;
    o.progress = [&](int done, int total) {
      cli::progress_line("scoring " + std::to_string(done) + "/" + std::to_string(total),
                         static_cast<double>(done) / total);
      return true;
    };
    const Calibration calibration = calibrate_arithmetics(model, images, device, o);
    for (const auto& why : skipped) std::fprintf(stderr, "differnet-calibrate: no threshold in %s\n", why.c_str());
    cli::progress_done();
    const double before = model.calibration.threshold;
    const bool was = model.calibration.calibrated;
    model.calibration = calibration;
    const std::string out = args.text("o", path);
    save_model(model, out);
    if (was) std::printf("threshold %.6g -> %.6g", before, model.calibration.threshold);
    else std::printf("threshold set to %.6g", model.calibration.threshold);
    std::printf(" (%s); wrote %s\n", model.calibration.method.c_str(), out.c_str());
    for (const auto& [name, t] : model.calibration.arithmetics)
      std::printf("  in %s: threshold %.6g\n", name.c_str(), t.threshold);
    if (model.calibration.pixel_threshold > 0)
      std::printf("pixel threshold %.6g (the local map's defect regions)\n", model.calibration.pixel_threshold);
    return cli::kOk;
  });
}
