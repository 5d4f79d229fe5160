// The interface the GStreamer element and the tools use to score frames. No LibTorch type appears
// here, so code that includes it compiles in a second, not half a minute.
#pragma once
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "frame.h"
#include "tiling.h"

namespace differnet {

struct DetectorOptions {
  std::string model_path;
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  int threads = 0;              // 0 = one per core
  // The backbone's arithmetic: auto, fp32, fp16 (CUDA only) or bf16; the flow's linear layers: auto,
  // fp32, bf16 or int8 (CPU only); the score stays fp32 (device_name.h). "auto": the fastest this
  // machine runs well (runtime.h's auto_precision), kept only where the model holds a threshold
  // computed in it; ModelSummary says what was chosen and why.
  std::string precision = "auto";
  std::string flow_precision = "auto";
  // Wait for the device before each clock read, so that StageTimes on CUDA are the stages' real
  // durations rather than their launch times (costs a little; for benchmarks).
  bool synchronize_stages = false;
};

// How the heatmap is made. Gradient: the gradient of the pooled score with respect to the image (the
// method's; a second, backward pass). Local: the model's local scorer, per-cell scores of the feature
// maps from the same forward pass (model/local_scorer.h; models trained with it only). Auto: Local
// when the model has a local scorer, else Gradient.
enum class Localization { Auto, Gradient, Local };
const char* localization_name(Localization l);  // "auto", "gradient", "local"
// "auto", "gradient" or "local"; throws Error otherwise.
Localization parse_localization(const std::string& name);

struct DetectRequest {
  int transforms = 1;           // test-time rotations T (angles 360*i/T)
  bool localize = false;        // compute the heatmap
  Localization localization = Localization::Auto;
  // With localize false: compute the heatmap only when the frame is judged anomalous (with the
  // gradient, a second pass after the score; good frames cost the score alone).
  bool localize_on_anomaly = false;
  Region region;                // empty = the whole frame
  double threshold = -1.0;      // < 0: the model's calibrated threshold
  int heatmap_size = 0;         // side of the returned heatmap (area-averaged); 0 = the model's input size
                                // (with tiling: of each tile's part of the stitched map)
  // Tiled scoring (model/tiling.h): "" = the model's tiling, "1x1" = the region as one image, "CxR",
  // or "auto"; tile_overlap < 0 = the model's. Every tile is scored as an image of its own, in one
  // backbone and flow batch; the frame's score is the largest tile score.
  std::string tiles;
  double tile_overlap = -1.0;
};

struct Heatmap {
  int width = 0, height = 0;    // heatmap_size (or the model's input size); it covers the scored region
                                // (tiled: the tiles' maps stitched, overlaps averaged, the region's shape)
  // Row-major, unnormalised: the gradient map's squared mean |gradient|, or the local map's squared
  // Mahalanobis distance per dimension (about 1 on good cells, larger on anomalous ones).
  std::vector<float> values;
  bool local = false;           // made by the local scorer (else by the gradient)
};

// A defect region: cells of the local heatmap at or above the model's pixel threshold, 8-connected.
struct DefectRegion {
  Region box;                   // its bounding box, frame pixels
  double peak = 0.0;            // its hottest heatmap value
};

struct StageTimes {
  double upload_ms = 0, preprocess_ms = 0, backbone_ms = 0, flow_ms = 0, localization_ms = 0;
  double total_ms = 0;          // upload to result
};

struct Detection {
  double score = 0.0;           // the model's image score (flow: mean of z^2 over the T copies and D dimensions)
  double threshold = 0.0;       // the threshold used (NaN when the model is uncalibrated and none was given)
  bool anomaly = false;         // score >= threshold
  Heatmap heatmap;              // empty unless localize
  // The hottest point of the heatmap, in frame pixels (the centre of its hottest heatmap pixel);
  // -1 when no heatmap was made.
  int peak_x = -1, peak_y = -1;
  // The local map's largest value (the local image score), NaN when no local map was made.
  double local_score = std::numeric_limits<double>::quiet_NaN();
  // Where the defect is: the local heatmap's regions at or above the model's pixel threshold
  // (ModelSummary::pixel_threshold), hottest first. Empty without a local heatmap, without a pixel
  // threshold, or when no cell reaches it (as on most good frames).
  std::vector<DefectRegion> defects;
  StageTimes times;
  // Tiled scoring only: each tile's score and rectangle (frame pixels), row-major, and the index of
  // the largest score (the frame's). Empty and -1 when the region was scored as one image.
  std::vector<double> tile_scores;
  std::vector<Region> tiles;
  int worst_tile = -1;
};

struct ModelSummary {
  // precision and flow_precision: the arithmetic in use (never "auto").
  std::string path, model_id, backbone, device, precision, flow_precision;
  // Which arithmetic's threshold `threshold` is ("fp32/fp32", "bf16/int8", ...); it differs from the
  // arithmetic in use only where an explicit precision has no threshold of its own in the model.
  std::string threshold_arithmetic = "fp32/fp32";
  std::string precision_note;   // how the precisions were chosen, one line (for logs and the tools)
  int input_size = 0, feature_dim = 0, flow_blocks = 0, flow_width = 0;
  bool calibrated = false;
  double threshold = 0.0;       // NaN when uncalibrated
  int calibrated_transforms = 0;
  bool local_scorer = false;    // the model has a local scorer (Localization::Local works)
  // The local map's threshold for the arithmetic in use (Calibration::pixel_threshold); NaN where the
  // model has none (no local scorer, or calibrated before pixel thresholds): no defect regions then.
  double pixel_threshold = std::numeric_limits<double>::quiet_NaN();
  std::string tiles = "1x1";    // the tiling the model was trained with
  double tile_overlap = 0.0;
  // How the image score is made: "flow" (the method), "gaussian" or "combined" (model/image_score.h).
  std::string image_score = "flow";
  bool flow_trained = true;     // false: a first model of learn mode, scored by the Gaussian alone
};

// A frame's pixels (the requested region only) copied onto the model's device, waiting to be
// scored. Made by Detector::upload on one thread, scored by Detector::score on another.
class UploadedFrame {
 public:
  UploadedFrame();
  ~UploadedFrame();
  UploadedFrame(UploadedFrame&&) noexcept;
  UploadedFrame& operator=(UploadedFrame&&) noexcept;
  bool empty() const;
  Region region() const;        // the scored rectangle, in frame pixels

 private:
  friend class Detector;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One frame of a batch (Detector::score_batch): in, the uploaded frame and its request; out, its
// detection, or the reason it could not be scored (the other frames of the batch are unaffected).
struct BatchItem {
  const UploadedFrame* frame = nullptr;
  DetectRequest request;
  Detection detection;          // valid when error is empty
  std::string error;
  int batch_frames = 0;         // how many frames shared its backbone and flow pass (1: scored alone)
};

class Detector {
 public:
  // Loads, checks and moves the model to its device. Throws differnet::Error with a message that
  // names the file and the reason.
  explicit Detector(const DetectorOptions& options);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // upload + score. Throws Error on a bad frame or region and on inference failures.
  Detection detect(const FrameView& frame, const DetectRequest& request);

  // The two halves of detect(), for callers that overlap them: upload() copies the region out of
  // the frame (the frame may be reused as soon as it returns); score() runs the model. Both may be
  // called from several threads (elements sharing one Detector): calls of score() run one at a time.
  UploadedFrame upload(const FrameView& frame, const DetectRequest& request) const;
  Detection score(const UploadedFrame& frame, const DetectRequest& request);

  // Scores several uploaded frames (of one element or of several sharing this model) in as few
  // passes as they allow: the frames scored as one image with the same T and the same localization
  // (whether, and how) go through the backbone as one batch (in the extractor's chunks) and through the flow as one
  // batch, their gradient maps in one pass; tiled frames are scored one at a time. Each frame's score
  // is the one score() gives it (up to the rounding of batched kernels); its stage times are those of
  // the whole batch (what the frame waited). Never throws for one frame's failure: see BatchItem.
  void score_batch(std::vector<BatchItem*>& items);

  // One pass on a gray frame, so that the first real frame is not slow (allocators, kernels,
  // cuDNN's autotuning for the request's T: the network always sees the same shapes).
  void warm_up(const DetectRequest& request);
  const ModelSummary& summary() const;

 private:
  // Scores items that are all untiled with the same T and localize flag, in one batch.
  void score_group(const std::vector<BatchItem*>& items);
  Detection score_tiled(const UploadedFrame& frame, const DetectRequest& request, const TileGrid& grid);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace differnet
