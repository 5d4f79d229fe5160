// differnet-info: prints what a model file holds, after checking all of it.
#include <cstdio>
#include <filesystem>

#include "arithmetic_calibration.h"
#include "cli.h"
#include "model.h"
#include "safetensors.h"
#include "sha256.h"

using namespace differnet;

namespace {
const char* kHelp = R"(usage: differnet-info [--json] MODEL

Loads MODEL with every check the element makes (container, format version, configuration, each
tensor's name, dtype and shape) and prints its backbone, configuration, calibration, size and
model-id (the first 12 hex digits of the file's SHA-256). Exit status 1 when the file is damaged.

  --json   print the configuration and calibration as one JSON object

example:
  differnet-info parts.model
)";
}  // namespace

int main(int argc, char** argv) {
  return cli::run_tool("differnet-info", [&] {
    cli::Args args(argc, argv, {{"json", false}}, kHelp);
    if (args.positionals().size() != 1) throw cli::UsageError("give exactly one model file (see --help)");
    const std::string path = args.positionals()[0];
    Model m = load_model(path);
    const std::string id = sha256_file_hex(path).substr(0, 12);
    int64_t params = 0;
    for (const auto& t : m.flow.parameters()) params += t.numel();
    const auto size = std::filesystem::file_size(path);
    if (args.has("json")) {
      std::printf("{\"path\":\"%s\",\"model_id\":\"%s\",\"bytes\":%ju,\"config\":%s,\"calibration\":%s}\n", path.c_str(),
                  id.c_str(), static_cast<uintmax_t>(size), m.config.to_json().c_str(), m.calibration.to_json().c_str());
      return cli::kOk;
    }
    const ModelConfig& c = m.config;
    std::printf("model        %s\n", path.c_str());
    std::printf("model-id     %s\n", id.c_str());
    std::printf("size         %.1f MB (%ju bytes), format version %d, checked: OK (container, configuration, "
                "shapes, finite weights, %s%s)\n", size / 1e6,
                static_cast<uintmax_t>(size), kModelFormatVersion,
                m.calibration.calibrated ? "calibration: finite positive threshold within its good scores, T >= 1"
                                         : "calibration: none",
                read_safetensors(path).metadata.count("tensor_sha256") ? ", tensor digest" : "; no tensor digest: an older file");
    std::string layers;
    for (size_t i = 0; i < c.layers.size(); ++i)
      layers += (i ? ", " : "") + c.layers[i] + " (" + std::to_string(c.channels_per_layer()[i]) + " channels)";
    std::printf("backbone     %s, pooled layers: %s\n", c.backbone.c_str(), layers.c_str());
    std::printf("input        %d px, scales", c.input_size);
    for (int s : c.scales) std::printf(" %d", s);
    std::printf(", feature dim D=%d%s\n", c.feature_dim(),
                c.whiten      ? ", standardised per dimension, then whitened (Ledoit-Wolf covariance)"
                : c.standardize ? ", standardised per dimension (training mean and std)"
                                : "");
    if (c.tiles != "1x1")
      std::printf("tiles        %s, overlap %g (each tile scored as an image; the frame's score is the largest)\n",
                  c.tiles.c_str(), c.tile_overlap);
    else
      std::printf("tiles        1x1 (whole images)\n");
    if (c.train_rotation_deg > 0)
      std::printf("training     random rotations of +-%g degrees\n", c.train_rotation_deg);
    else
      std::printf("training     no rotations: score at T=1 (rotated copies are outside what the flow learned)\n");
    std::printf("normalise    mean %.3f %.3f %.3f, std %.3f %.3f %.3f\n", c.mean[0], c.mean[1], c.mean[2], c.std[0],
                c.std[1], c.std[2]);
    std::printf("flow         %d blocks, %d hidden layers of width %d, clamp alpha %g, %.1f M parameters\n",
                c.flow.blocks, c.flow.hidden_layers, c.flow.width, c.flow.clamp_alpha, params / 1e6);
    if (c.local.enabled()) {
      std::string local_layers, local_scales;
      for (const auto& l : c.local.layers) local_layers += (local_layers.empty() ? "" : ",") + l;
      for (int k : c.local.scales) local_scales += (local_scales.empty() ? "" : ",") + std::to_string(c.scales[static_cast<size_t>(k)]);
      std::printf("local map    %s cells on the %s layer's grid, %dx%d-averaged, %d dimensions (projection seed %d), "
                  "scales %s px, smoothed %g px: heatmaps from the scoring pass\n", local_layers.c_str(),
                  c.local.grid == "shallowest" ? "shallowest" : "deepest", c.local.neighbourhood, c.local.neighbourhood,
                  c.local.dim, c.local.projection_seed, local_scales.c_str(), c.local.sigma);
      if (c.local.flow_blocks > 0)
        std::printf("local flow   %d coupling blocks, %d hidden channels (3x3 convolutions): cells scored by their "
                    "likelihood under the flow, not the Gaussian alone\n", c.local.flow_blocks, c.local.flow_hidden);
    } else {
      std::printf("local map    none: heatmaps by the gradient (differnet-train --local yes adds one)\n");
    }
    {
      const ImageScoreConfig& is = c.image_score;
      const char* what = is.method == "flow"       ? "the flow's mean z^2 (DifferNet's)"
                         : is.method == "gaussian" ? "the pooled Gaussian's Mahalanobis distance per dimension"
                                                   : "flow / flow scale + Gaussian / Gaussian scale";
      std::printf("image score  %s: %s%s%s\n", is.method.c_str(), what,
                  is.method == "combined" && m.calibration.flow_scale > 0
                      ? (" (scales " + std::to_string(m.calibration.flow_scale) + " and " +
                         std::to_string(m.calibration.gaussian_scale) + ")").c_str()
                      : "",
                  !is.flow_trained ? "; the flow is not trained (a first model of learn mode)"
                  : is.gaussian && is.method == "flow" ? "; also holds the pooled Gaussian" : "");
      if (!is.chosen_by.empty()) std::printf("             %s\n", is.chosen_by.c_str());
    }
    const Calibration& k = m.calibration;
    if (k.calibrated)
      std::printf("threshold    %.6g at T=%d: %s\n             good scores: mean %.4g, std %.4g, max %.4g (%d images)\n",
                  k.threshold, k.transforms, k.method.c_str(), k.good_mean, k.good_std, k.good_max, k.good_count);
    else
      std::printf("threshold    none (not calibrated: run differnet-calibrate)\n");
    if (k.calibrated && k.pixel_threshold > 0)
      std::printf("regions      pixel threshold %.6g: local heatmap cells at or above it are defect regions\n",
                  k.pixel_threshold);
    else if (k.calibrated && m.extractor.local().enabled())
      std::printf("regions      none: no pixel threshold (differnet-calibrate sets one)\n");
    if (k.calibrated) {
      std::printf("arithmetics  fp32/fp32 %.6g", k.threshold);
      for (const auto& [name, t] : k.arithmetics) std::printf(", %s %.6g", name.c_str(), t.threshold);
      std::printf("%s\n", k.arithmetics.empty() ? " only (others: differnet-calibrate)" : "");
    }
    if (!k.int8_activation_max.empty()) {
      std::printf("int8 ranges ");
      for (double r : k.int8_activation_max) std::printf(" %.4g", r);
      std::printf(" (the int8 backbone's activation ranges, from the calibration images)\n");
    }
    // What precision=auto scores in on this machine's CPU (and its first GPU, if any).
    std::vector<std::string> devices = {"cpu"};
    if (cuda_available()) devices.push_back("cuda:0");
    for (const auto& d : devices) {
      const ChosenArithmetic a = choose_arithmetic("auto", "auto", d, k, m.config.backbone);
      std::printf("auto here    %s: %s (%s)\n", d.c_str(), arithmetic_name(a.backbone, a.flow).c_str(), a.note.c_str());
    }
    return cli::kOk;
  });
}
