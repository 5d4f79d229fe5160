// Scoring and gradient localization of DifferNet.
//   score = mean of z^2 over the T rotated copies and the D dimensions (no log-det);
//   map   = (mean over copies and channels of |smooth(rotate_back(dNLL/dx))|)^2, smoothing by a
//           Gaussian of sigma 3 px (scipy's gaussian_filter: truncate 4, 'reflect' borders).
#pragma once
#include <ATen/ATen.h>

#include <limits>
#include <vector>

#include "model.h"

namespace differnet {

// The training objective: mean over the batch of (0.5 |z|^2 - logdet) / D.
at::Tensor nll_loss(const FlowOutput& out);

// Normalised copies [A,3,S,S] of one resized image (levels 0..255, [1,3,S,S]) rotated by each angle.
at::Tensor make_copies(const at::Tensor& levels, const std::vector<double>& angles_deg, const ModelConfig& config);

// How a heatmap is made: the gradient of the pooled score with respect to the image (the method's; a
// backward pass), or the local scorer's per-cell map (local_scorer.h; the same forward pass).
enum class MapMethod { Gradient, Local };

struct ScoreResult {
  double score = 0.0;  // the model's image score (scores_from_features)
  at::Tensor map;  // [S,S] float (the local map: [S/4,S/4]), only when localizing
  // With MapMethod::Local: the largest value of the (smoothed) local map, the local image score.
  double local_score = std::numeric_limits<double>::quiet_NaN();
  double backbone_ms = 0.0, flow_ms = 0.0, localization_ms = 0.0;
};

// Scores the copies (one image, rotated by `angles_deg`); with `localize`, also the gradient map.
// With `synchronize_stages`, the device is waited for before each clock read (true CUDA stage times).
// `method` Local needs a model with a local scorer; its map is each copy's local map turned back by
// its angle and averaged over the copies.
ScoreResult score_copies(const Model& model, const at::Tensor& copies, const std::vector<double>& angles_deg,
                         bool localize, bool synchronize_stages = false, MapMethod method = MapMethod::Gradient);

// The same for several images at once: `copies` holds `images` groups of angles_deg.size() copies,
// image after image; one backbone batch (in the extractor's chunks) and one flow batch for all of
// them, and with `localize` one gradient pass. Each image's result is the one score_copies gives it
// alone (up to the rounding of batched kernels); the stage times are the whole batch's.
std::vector<ScoreResult> score_copies_batch(const Model& model, const at::Tensor& copies,
                                            const std::vector<double>& angles_deg, int64_t images, bool localize,
                                            bool synchronize_stages = false, MapMethod method = MapMethod::Gradient);

// Scores one resized image (levels 0..255, [1,3,S,S]) at the T fixed angles 360*i/T.
ScoreResult score_image(const Model& model, const at::Tensor& levels, int transforms, bool localize,
                        MapMethod method = MapMethod::Gradient);

// The score of an image given as tiles (one tensor per tile, as load_resized_tiles gives): the
// largest of its tiles' score_image scores (one tile: that tile's score).
double worst_tile_score(const Model& model, const std::vector<at::Tensor>& tiles, int transforms);
// Per-image scores of a batch of feature vectors grouped per image: [images*copies, D] -> [images],
// in the model's image score (config.image_score, image_score.h): the flow's mean z^2, the pooled
// Gaussian's distance, or the two combined (each divided by its calibration scale). Throws Error
// for a combined score without scales (an uncalibrated model).
at::Tensor scores_from_features(const Model& model, const at::Tensor& features, int64_t copies_per_image);
// The parts the image scores are made of, each [images] (means over the copies): the flow's score
// (undefined when the flow is untrained) and the pooled Gaussian's (undefined without one).
struct ScoreParts {
  at::Tensor flow, gaussian;
};
ScoreParts score_parts(const Model& model, const at::Tensor& features, int64_t copies_per_image);
// The model's image score from its parts, with the scales `flow_scale`, `gaussian_scale` for combined.
at::Tensor combine_score_parts(const Model& model, const ScoreParts& parts, double flow_scale, double gaussian_scale);

// Separable Gaussian smoothing of [N,C,H,W] maps as scipy.ndimage.gaussian_filter on the last two axes.
at::Tensor gaussian_smooth(const at::Tensor& maps, double sigma = 3.0, double truncate = 4.0);

}  // namespace differnet
