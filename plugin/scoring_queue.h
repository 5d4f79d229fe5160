/* The frames differnetfilter holds between taking them in and sending them on: a bounded FIFO
 * whose scoring runs on one worker thread, so that the streaming thread can upload frame N+1 and
 * draw and push frame N while frame N+1 is scored. The worker hands the frames waiting for a score
 * (up to the batch policy's max_frames at once) to the model's BatchScheduler, which may score them
 * together with other elements' frames. Frames always leave in the order they came. */
#pragma once
#include <gst/gst.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "batch_scheduler.h"
#include "detector.h"

namespace differnet {

// One frame in flight. The streaming thread fills the first part; the worker the second.
struct FrameJob {
  GstBuffer *buffer = nullptr;    // a reference, handed on (or dropped) when the job leaves
  guint64 number = 0;             // frame counter since start
  bool score = false;             // false: the frame carries the result of the last scored one
  DetectRequest request;
  UploadedFrame upload;           // the region's pixels on the model's device (scored jobs only)
  Region region;                  // the scored rectangle in frame pixels (scored jobs only)
  // Set by the worker when `done`:
  Detection detection;
  std::string error;              // non-empty when scoring failed
  int batch_frames = 0;           // frames scored in the same batch (1: alone)
  FrameJob () = default;
  FrameJob (const FrameJob &) = delete;
  FrameJob & operator= (const FrameJob &) = delete;
  ~FrameJob () {
    if (buffer)
      gst_buffer_unref (buffer);
  }
};

class ScoringQueue {
 public:
  // Scores on `detector` through its shared BatchScheduler, batching as `policy` says.
  explicit ScoringQueue (Detector & detector, BatchPolicy policy = BatchPolicy ());
  ~ScoringQueue ();               // finishes the job being scored, drops the rest
  ScoringQueue (const ScoringQueue &) = delete;
  ScoringQueue & operator= (const ScoringQueue &) = delete;

  void push (std::unique_ptr<FrameJob> job);  // scored jobs go to the worker; others are done at once
  size_t size () const;
  bool oldest_done () const;
  // The oldest job, once it is done (waits for the worker); null when the queue is empty.
  std::unique_ptr<FrameJob> pop_oldest ();
  // Drops every job (their buffers are unreffed), after the worker has finished its current one.
  void clear ();

 private:
  void run ();
  struct Entry {
    std::unique_ptr<FrameJob> job;
    bool done;
  };
  std::shared_ptr<BatchScheduler> scheduler_;
  BatchPolicy policy_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Entry> entries_;     // in arrival order
  size_t next_to_score_ = 0;      // index in entries_ of the next job the worker takes
  bool busy_ = false, quit_ = false;
  std::thread worker_;
};

}  // namespace differnet
