/* BatchScheduler: cross-stream batching, as nvinfer's batch-size over nvstreammux's batches. The
 * elements that share one loaded model (ModelCache) share its scheduler; each element's scoring
 * worker hands it its frames and waits; the scheduler's own thread gathers the frames of every
 * element into batches of up to `max_frames`, waiting at most `timeout` after the oldest arrived,
 * and scores each batch with one Detector::score_batch call (one backbone pass and one flow pass for
 * the frames it can batch). Every frame gets its own result back; which element it came from and
 * its order there are the caller's (ScoringQueue keeps them). No GStreamer and no LibTorch here. */
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
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

  // Scores `items` together with the items other threads hand in meanwhile; returns when all of
  // them are done (each item's detection or error set, as Detector::score_batch does). The oldest
  // waiting item's policy decides when a batch closes: when `max_frames` items wait, or `timeout`
  // after it arrived.
  void score (const std::vector<BatchItem *> &items, const BatchPolicy & policy);

  Detector & detector () { return detector_; }
  uint64_t batches () const;    // score_batch calls so far
  uint64_t frames () const;     // frames scored so far

 private:
  void run ();
  struct Waiting {
    BatchItem *item;
    BatchPolicy policy;
    std::chrono::steady_clock::time_point arrived;
    size_t *remaining;          // the submitting call's count of unfinished items
  };
  Detector & detector_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_, finished_;
  std::deque<Waiting> waiting_;
  uint64_t batches_ = 0, frames_ = 0;
  bool quit_ = false;
  std::thread worker_;
};

}  // namespace differnet
