/* BatchScheduler: cross-stream batching, as nvinfer's batch-size over nvstreammux's batches. The
 * elements that share one loaded model (ModelCache) share its scheduler; each element's ScoringQueue
 * hands it every frame due for scoring as the frame comes (without waiting), and the scheduler's own
 * thread gathers the frames of every element into batches of up to `max_frames`, waiting at most
 * `timeout` after the oldest arrived, and scores each batch with one Detector::score_batch call (one
 * backbone pass and one flow pass for the frames it can batch). Every frame gets its own result back
 * through its submission's callback; which element it came from and its order there are the
 * caller's (ScoringQueue keeps them). No GStreamer and no LibTorch here. */
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "detector.h"

namespace differnet {

struct BatchPolicy {
  int max_frames = 1;                      // 1: every frame is scored as it comes (no waiting)
  std::chrono::microseconds timeout{40000};  // the longest the oldest frame waits for a batch to fill
};

class BatchScheduler {
 public:
  // The scheduler of `detector`, shared by every caller that names the same Detector (made on first
  // use, freed with its last holder). It keeps a reference to the detector only, not ownership: its
  // holders must keep the detector alive longer (the element's run state does).
  static std::shared_ptr<BatchScheduler> of (Detector & detector);

  explicit BatchScheduler (Detector & detector);
  ~BatchScheduler ();           // scores what was handed in, then stops its thread
  BatchScheduler (const BatchScheduler &) = delete;
  BatchScheduler & operator= (const BatchScheduler &) = delete;

  // Hands `items` in and returns at once; `done` runs on the scheduler's thread (with no lock of
  // the scheduler held) once every item is scored, each item's detection or error set as
  // Detector::score_batch does. The items must stay valid until then, or until withdraw() took
  // them back. The oldest waiting item's policy decides when a batch closes: when `max_frames`
  // items wait, or `timeout` after it arrived.
  void submit (const std::vector<BatchItem *> &items, const BatchPolicy & policy, std::function<void ()> done);
  // Takes back `item`, submitted alone, if it still waits: true, and it will not be scored and its
  // `done` never runs; false when it is being scored or was scored (its `done` runs or ran), or was
  // not submitted alone.
  bool withdraw (BatchItem * item);
  // submit() and wait for `done`.
  void score (const std::vector<BatchItem *> &items, const BatchPolicy & policy);

  Detector & detector () { return detector_; }
  uint64_t batches () const;    // score_batch calls so far
  uint64_t frames () const;     // frames scored so far

 private:
  void run ();
  struct Submission {
    size_t total;               // items submitted together
    size_t remaining;           // items not scored yet
    std::function<void ()> done;
  };
  struct Waiting {
    BatchItem *item;
    BatchPolicy policy;
    std::chrono::steady_clock::time_point arrived;
    std::shared_ptr<Submission> submission;
  };
  Detector & detector_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Waiting> waiting_;
  uint64_t batches_ = 0, frames_ = 0;
  bool quit_ = false;
  std::thread worker_;
};

}  // namespace differnet
