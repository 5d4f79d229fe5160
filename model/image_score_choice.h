// Choosing a model's image score (flow, gaussian or combined: image_score.h) from good images alone.
// Which score ranks defects best depends on the parts: on one real set the flow leads, on another the
// Gaussian over the same features, and a default picked on one test set does not carry to the next.
// So each candidate is asked the question a test set would answer, on images the model has not
// trained on: how well does it tell the held-out good images from the same images with a synthetic
// defect planted (synthetic_defects.h: every kind in each image)? The one with the highest ROC AUC
// is chosen; on a tie, the earlier of combined, flow, gaussian.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model.h"

namespace differnet {

struct ImageScoreCandidate {
  std::string method;                      // "combined", "flow" or "gaussian"
  double auroc = 0.0;                      // synthetic defects against good images, all kinds
  std::map<std::string, double> per_kind;  // each kind alone against the good images
};

struct ImageScoreChoice {
  std::string chosen;                          // the method with the highest auroc
  std::vector<ImageScoreCandidate> candidates;  // in the order combined, flow, gaussian
  int good_images = 0, synthetic_images = 0;
  // One line: "gaussian (ROC AUC on synthetic defects of 76 held-out good images: combined 0.9712, ...)".
  std::string summary() const;
  // A table: a row per candidate, its ROC AUC over all kinds and for each kind; the chosen one marked.
  std::string table() const;
};

// The rule on given scores. parts[i][0]: good image i's tiles' (flow, Gaussian) parts; parts[i][j]
// for j >= 1: the same image with kind j-1 of `kinds` planted. An image scores its largest tile; a
// non-finite score ranks above every finite one. Throws Error when the good images' parts do not vary.
struct TileScoreParts {
  double flow = 0.0, gaussian = 0.0;
};
ImageScoreChoice choose_from_parts(const std::vector<std::vector<std::vector<TileScoreParts>>>& parts,
                                   const std::vector<std::string>& kinds);

// Scores `good_images` (each as its tiles, as load_resized_tiles gives them; an image's score is its
// largest tile's) and, for each of them and each synthetic defect kind, a copy with that defect
// planted in one of its tiles (seeded by `seed`, the image's index and the kind), in fp32 at one
// transform, and returns each candidate's ROC AUC and the choice. The combined candidate's scales are
// the good images' spreads, as calibration sets them. `model` needs a trained flow and a fitted pooled
// Gaussian (config.image_score.gaussian); it is left as it was. Throws Error without them, or for
// fewer than `kMinImages` good images. `progress(done, total)` returning false stops (Error).
constexpr int kImageScoreChoiceMinImages = 10;
ImageScoreChoice choose_image_score(const Model& model, const std::vector<std::vector<at::Tensor>>& good_images,
                                    const std::string& device, uint64_t seed,
                                    const std::function<bool(int, int)>& progress = nullptr);

}  // namespace differnet
