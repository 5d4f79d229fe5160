// Learning a model from the frames of a live stream (differnetfilter mode=learn). Frames
// are collected (the region resized to the model's input as differnet-train resizes an image;
// near-duplicates of a still line skipped), then trained on a thread of its own with the training
// code differnet-train uses (a preset and overrides), part of the frames held out to calibrate the
// threshold, and the model is written atomically. A first model, scored by a Gaussian over the pooled
// features (closed form: seconds), is written to the same file before the flow's training starts. No LibTorch type here: the element includes it.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "frame.h"

namespace differnet {

struct LearnOptions {
  std::string output;              // the model file to write (atomically; checked writable at once)
  int frames = 100;                // frames to collect before training starts
  std::string preset = "accurate"; // differnet-train's presets (model/presets.h)
  // Overrides of the preset, named as differnet-train's options: backbone, input-size, layers
  // (comma separated), standardize (yes/no), flow-width, flow-blocks, epochs, batch-size,
  // feature-cache, rotation, feature-noise, lr, image-score, holdout, quantile, calibration-transforms, seed.
  std::map<std::string, std::string> settings;
  std::string device = "auto";
  int threads = 0;                 // 0: LibTorch's current setting
  // A frame whose 32x32 gray thumbnail differs from the last kept frame's by less than this mean
  // absolute difference (0..255 levels) is skipped as a near-duplicate (a still line); 0 keeps all.
  double min_difference = 1.0;
};

enum class LearnPhase { Collecting, Training, Calibrating, Writing, Done, Failed };
const char* learn_phase_name(LearnPhase phase);  // "collecting", "training", ...

struct LearnStatus {
  LearnPhase phase = LearnPhase::Collecting;
  int collected = 0, wanted = 0, skipped = 0;  // frames kept, asked for, skipped as near-duplicates
  int train_frames = 0, holdout_frames = 0;    // the split, once training started
  int features_done = 0, features_total = 0;   // training's feature cache being computed (0/0: none)
  int epoch = 0, epochs = 0;                   // epoch in progress (1-based; 0 before the first)
  double loss = 0.0;                           // mean loss of the epoch so far
  double elapsed_s = 0.0, remaining_s = 0.0;   // of the training
  bool stopped_early = false;                  // finish() cut the training short
  // The first model: the pooled Gaussian alone (closed form, no flow), written to the output as soon
  // as it is fitted and calibrated, while the flow trains; the element takes it over at once.
  // Empty until written; then its id, and its time from the start of training (the end of collection).
  std::string first_model_id;
  double first_model_s = 0.0;
  double first_threshold = 0.0;
  std::string model_id;                        // Done: the file's id
  double threshold = 0.0;                      // Done: the calibrated threshold (NaN: uncalibrated)
  std::string error;                           // Failed: why
};

// Result of Learner::add.
enum class LearnAdd { Kept, Duplicate, Full };

class Learner {
 public:
  // Checks the options (preset, overrides), that `output` can be written and the backbone loads.
  // Throws Error naming the problem: nothing is collected for a run that cannot end in a model.
  explicit Learner(const LearnOptions& options);
  ~Learner();  // a training in progress is stopped (after its current step) and joined; nothing is written
  Learner(const Learner&) = delete;
  Learner& operator=(const Learner&) = delete;

  // Collecting: copies `region` of `frame` (empty = the whole frame), resized to the model's input.
  // Throws Error on a bad frame or region.
  LearnAdd add(const FrameView& frame, const Region& region);
  bool full() const;
  // The fewest frames a run can train on (2 to train, and calibration on them).
  static int min_frames();

  // Starts training on the frames collected so far (on a thread of its own). Throws Error when
  // fewer than min_frames() were collected or training already started.
  void train();
  bool training_started() const;
  // Training: stop after the current step and write the model of the last finished epoch; stopped
  // before the flow's first epoch ended, the first model (the Gaussian's, already written) is the
  // run's model. Collecting: nothing (call train()).
  void finish_early();
  LearnStatus status() const;
  const LearnOptions& options() const;
  int input_size() const;
  // A remark on the variety of the collected frames ("" if none), made when training starts:
  // frames that hardly differ (a still scene), or that differ wildly (a moving camera).
  std::string variety_warning() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace differnet
