// The configuration of a DifferNet model and its calibration, as stored in a model file's metadata.
// Defaults are the authors' numbers (differnet-method.md); presets change them explicitly.
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

namespace differnet {

struct FlowConfig {
  int blocks = 8;               // coupling blocks
  int width = 2048;             // fc_internal: width of the subnets' hidden layers
  int hidden_layers = 3;        // hidden layers per subnet
  double clamp_alpha = 3.0;     // soft clamp c(a) = alpha * 0.636 * atan(a / alpha)
  std::vector<int> permutation_seeds = {0, 1, 2, 3, 4, 5, 6, 7};  // numpy seed of block k's permutation
};

// The local scorer (model/local_scorer.h): a Gaussian over the cells of un-pooled feature maps, which
// scores every cell of the frame in the same forward pass as the pooled score. Absent (no layers) in
// files written before it and in the `paper` preset: those localize with the gradient.
struct LocalConfig {
  std::vector<std::string> layers;   // backbone layers read at each scale, shallow to deep; empty = none
  std::vector<int> layer_channels;   // their channels
  int dim = 256;                     // cells are projected (random Gaussian, seeded) to this many dimensions
  int neighbourhood = 3;             // each cell is averaged over this many cells square (odd)
  // The grid the layers meet on: "deepest" (stage-3 cells: the layers average-pooled to the deepest
  // one's grid; files written before this setting) or "shallowest" (PatchCore's: the deeper layers
  // upsampled to the shallowest one's grid, twice as fine with the default layers)
  std::string grid = "deepest";
  double sigma = 4.0;                // the map's Gaussian smoothing, in input pixels
  std::vector<int> scales = {0, 1, 2};  // which of the model's scales (indices) contribute a map
  int projection_seed = 0;
  // The local flow (model/local_flow.h): coupling blocks of a fully convolutional normalizing flow
  // over the whitened cells (0 = none: the Gaussian scores them; files written before it), and the
  // hidden channels of its 3 x 3 convolutional subnets. Its permutations and initial weights are
  // drawn from projection_seed.
  int flow_blocks = 0;
  int flow_hidden = 64;
  bool enabled() const { return !layers.empty(); }
  int channels() const;              // sum of layer_channels
};

// How the image score is made (model/image_score.h): "flow" (the method), "gaussian" (one Gaussian
// over the pooled features, closed form) or "combined" (the two, each divided by its spread over the
// calibration's good images). Files written before it score with the flow.
struct ImageScoreConfig {
  std::string method = "flow";
  bool gaussian = false;      // the file holds the pooled Gaussian (tensors gaussian.mean, gaussian.matrix)
  // false: the flow was never trained (a first model of learn mode, scored by the Gaussian until the
  // trained flow replaces it); such a file scores with "gaussian" only
  bool flow_trained = true;
  // How `method` was chosen, where differnet-train, differnet-calibrate or learn mode chose it
  // (--image-score auto: image_score_choice.h), e.g. "auto: gaussian (ROC AUC on synthetic defects in
  // 76 held-out good images: combined 0.9196, flow 0.9079, gaussian 0.9225)"; empty when it was
  // given. At most 1,000 characters.
  std::string chosen_by;
};

struct ModelConfig {
  std::string backbone = "squeezenet1_1";  // architecture name stored in the backbone weights
  int trunk_channels = 512;                // channels of the backbone's last feature map
  // The backbone layers whose outputs are pooled, in network order, and their channels. "last" (the
  // method's choice) is the trunk's last feature map; Backbone::layer_names lists the others.
  // layer_channels may stay empty for layers = {"last"}: it is then {trunk_channels}.
  std::vector<std::string> layers = {"last"};
  std::vector<int> layer_channels;
  // Features standardised per dimension (training mean and std, tensors "norm.mean"/"norm.std")
  // before the flow. Not in the method; the faithful configuration leaves it off.
  bool standardize = false;
  // After standardising, the features are whitened: centred and multiplied by the inverse square root
  // of their Ledoit-Wolf covariance (tensors "norm.whiten_mean" [D], "norm.whiten" [D,D]), so that the
  // flow starts from the Gaussian yardstick's metric and learns what is not Gaussian. Needs
  // standardize. Not in the method.
  bool whiten = false;
  // The rotations the flow saw in training: angles uniform in +-train_rotation_deg (the method: 180).
  // With 0 the flow never saw a rotated part, and test-time rotations (T > 1) are out of its range.
  double train_rotation_deg = 180.0;
  int input_size = 448;                    // side of the square network input
  std::vector<int> scales = {448, 224, 112};  // each a nearest subsampling of the normalised input
  // The tiling the model was trained with (model/tiling.h): "1x1" = whole images (the method), "CxR",
  // or "auto"; and the overlap of neighbouring tiles. The element scores with it unless told otherwise.
  std::string tiles = "1x1";
  double tile_overlap = 0.0;
  std::array<double, 3> mean = {0.485, 0.456, 0.406};
  std::array<double, 3> std = {0.229, 0.224, 0.225};
  FlowConfig flow;
  LocalConfig local;
  ImageScoreConfig image_score;

  std::vector<int> channels_per_layer() const;  // layer_channels, or {trunk_channels} for the default
  int pooled_channels() const;                  // their sum
  int feature_dim() const { return pooled_channels() * static_cast<int>(scales.size()); }
  std::string to_json() const;
  static ModelConfig from_json(const std::string& text);  // throws Error on a bad or incomplete config
  void validate() const;                                  // throws Error on nonsense values
};

// A threshold and the good scores it was computed from.
struct GoodScoreThreshold {
  double threshold = 0.0;
  int good_count = 0;
  double good_mean = 0.0, good_std = 0.0, good_max = 0.0;
  double pixel_threshold = 0.0;  // see Calibration::pixel_threshold; 0 = none
};

// The decision threshold and what it rests on. Scores are means over T rotations, so a threshold
// set at one T carries over to another approximately; `transforms` records the T it was set at.
struct Calibration {
  bool calibrated = false;
  double threshold = 0.0;       // in the method's arithmetic: fp32 backbone, fp32 flow
  int transforms = 0;
  std::string method;           // e.g. "quantile 0.99 of 40 held-out good images"
  int good_count = 0;
  double good_mean = 0.0, good_std = 0.0, good_max = 0.0;
  // The local map's threshold: the same quantile of the good images' local-map maxima, so that about
  // as many good images show a defect region as are flagged. Cells of a heatmap at or above it form
  // the defect regions (Detection::defects). 0 = none (no local scorer, or a file written before it).
  double pixel_threshold = 0.0;
  // The same calibration (same images, T and quantile) scored in other arithmetics, keyed by
  // arithmetic_name() ("bf16/fp32", "fp32/int8", ...): a reduced precision moves every score a little,
  // so each arithmetic gets the threshold of its own scores. Empty in files written before them.
  std::map<std::string, GoodScoreThreshold> arithmetics;
  // The combined image score's scales: the standard deviations of the calibration images' flow and
  // Gaussian scores (fp32). 0 = none (any other image score, or a file written before them).
  double flow_scale = 0.0, gaussian_scale = 0.0;
  // The int8 backbone's activation ranges (Precision::INT8): the largest value of each quantized
  // activation (the architecture's order: AlexNet's five ReLU outputs) over the calibration images
  // in fp32, at every scale. Empty where the model was not calibrated for an int8 backbone.
  std::vector<double> int8_activation_max = {};

  // The threshold for scoring in `arithmetic` ("fp32/fp32": `threshold`); NaN when the model is
  // uncalibrated or holds none for it.
  double threshold_for(const std::string& arithmetic) const;
  // The pixel threshold for `arithmetic` (its backbone's local map); NaN where there is none.
  double pixel_threshold_for(const std::string& arithmetic) const;
  std::string to_json() const;
  // Parses and validates (see validate()); throws Error on a malformed or inconsistent block.
  static Calibration from_json(const std::string& text);
  // For a calibrated block: a positive finite threshold at T >= 1, resting on at least 2 good scores
  // with finite positive statistics, lying between their median's bound (mean - std) and their max,
  // as calibrate_from_good_scores makes it; the same for every arithmetic's threshold, each under a
  // valid arithmetic name. Throws Error naming what is wrong.
  void validate() const;
};

constexpr int kModelFormatVersion = 1;
constexpr int kMaxWhitenedDim = 8192;  // a whitening matrix of at most 256 MiB

}  // namespace differnet
