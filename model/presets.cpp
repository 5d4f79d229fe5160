#include "presets.h"

#include "error.h"

namespace differnet {

Preset preset(const std::string& name) {
  Preset p;  // defaults = the authors' numbers
  if (name == "paper") return p;
  if (name == "fast") {
    // Measured on Magnetic Tile (README, "Detection"): the pooled output of SqueezeNet's fire6
    // instead of its last layer, each feature dimension standardised by its training mean and std,
    // no training rotations, and Gaussian noise of std 0.2 on the standardised features: without
    // it the held-out loss bottoms out at epoch 12 and rises after, the flow memorising its few
    // hundred training vectors. Same input, scales, optimiser and batch; 48 epochs.
    p.config.layers = {"fire6"};
    p.config.layer_channels = {384};
    p.config.standardize = true;
    p.config.flow.width = 512;
    p.train.rotation_deg = 0;
    p.train.feature_noise = 0.2;
    p.train.epochs = 48;
    // The local scorer (local_scorer.h): heatmaps from the forward pass. Its channels are set by
    // differnet-train from the backbone it loads.
    p.config.local.layers = default_local_layers(p.config.backbone);
    p.config.local.layer_channels = {256, 384};
    // PatchCore's grid (the stride-8 layer's cells) and the two finer scales: the coarsest scale's map
    // (112 px input) was the weakest for every defect class. Chosen on a development half of Magnetic
    // Tile's defective test images with ResNet50-v2 features, the other half confirming
    // (docs/research/2026-12-local-scorer-grid.md).
    p.config.local.grid = "shallowest";
    p.config.local.scales = {0, 1};
    // The image score: the flow's and the pooled Gaussian's together (image_score.h), each divided
    // by its spread over the held-out good images. Neither part is reliably ahead: on Magnetic Tile the
    // Gaussian led with accurate's features and the two were level with fast's
    // (docs/benchmarks/detection.md). The rule was fixed before measuring, not chosen on a test set.
    p.config.image_score.method = "combined";
    p.config.image_score.gaussian = true;
    // ... and then the image score is chosen among flow, gaussian and combined on the held-out good
    // images with synthetic defects planted (image_score_choice.h), combined where fewer than 10 are
    // held out. On Magnetic Tile it took the Gaussian with accurate's features (0.003 above combined);
    // with fast's, where the three lie within 0.0012, combined or the Gaussian by the seed
    // (docs/benchmarks/detection.md).
    p.choose_image_score = true;
    return p;
  }
  if (name == "accurate") {
    // The fast preset's choices on the features that measured best: the pooled output of
    // ResNet50-v2's stage 3 (1024 channels). About 4 times the frame time of fast (README, "Speed").
    p = preset("fast");
    p.config.backbone = "resnet50v2";
    p.config.trunk_channels = 1024;
    p.config.layers = {"stage3"};
    p.config.layer_channels = {1024};
    p.config.local.layers = default_local_layers(p.config.backbone);
    p.config.local.layer_channels = {512, 1024};
    // 96 epochs, not fast's 48: on these features the held-out loss (685 images train, 76 good ones
    // held out, --curve) still falls at 48 (-0.71) and goes on falling to 96 (-0.82); README,
    // "Detection". About 18 minutes of flow training on 2 CPU cores (fast's 96 were not measured).
    p.train.epochs = 96;
    // Not whitened (--whiten yes): whitening raised the test-set ROC AUC (0.982 -> 0.988, seed 0) but
    // the held-out loss, by which presets are chosen, says the whitened flow models unseen good
    // images far worse (README, "Detection": 293 against -0.71 per dimension at epoch 48, held out).
    return p;
  }
  if (name == "fast-last-layer") {
    // The former default: the method's last layer and rotations, a narrower flow, fewer epochs and
    // a cache of 16 rotations per image (kept to reproduce the earlier figures).
    p.config.flow.width = 512;
    p.train.epochs = 48;
    p.train.feature_cache = 16;
    return p;
  }
  throw Error("unknown preset '" + name + "' (known: fast, accurate, paper, fast-last-layer)");
}

std::vector<std::string> default_local_layers(const std::string& architecture) {
  if (architecture == "resnet50v2") return {"stage2", "stage3"};
  if (architecture == "squeezenet1_1") return {"fire5", "fire7"};
  if (architecture == "mobilenetv2") return {"block6", "block13"};
  if (architecture == "alexnet") return {"conv3", "conv5"};
  throw Error("no default local-scorer layers for backbone '" + architecture + "' (give them with --local-layers)");
}

void set_input_size(ModelConfig& c, int size) {
  const int old_size = c.input_size;
  c.input_size = size;
  for (int& s : c.scales) s = c.input_size / (old_size / s);
}

void set_flow_blocks(ModelConfig& c, int blocks) {
  c.flow.blocks = blocks;
  c.flow.permutation_seeds.resize(static_cast<size_t>(blocks));
  for (int k = 0; k < blocks; ++k) c.flow.permutation_seeds[static_cast<size_t>(k)] = k;
}

}  // namespace differnet
