/* The frames differnetfilter holds between taking them in and sending them on: a bounded FIFO.
 * Each frame due for scoring is handed to the model's BatchScheduler as it comes (push() does not
 * wait), whose thread scores it, alone or batched with other frames of this element and of the
 * elements sharing the model; meanwhile the streaming thread uploads frame N+1 and draws and pushes
 * frame N. Frames always leave in the order they came. */
#pragma once
#include <gst/gst.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "batch_scheduler.h"
#include "detector.h"

namespace differnet {

// One frame in flight. The streaming thread fills the first part; the scheduler the second.
struct FrameJob {
  GstBuffer *buffer = nullptr;    // a reference, handed on (or dropped) when the job leaves
  guint64 number = 0;             // frame counter since start
  bool score = false;             // false: the frame carries the result of the last scored one
  DetectRequest request;
  UploadedFrame upload;           // the region's pixels on the model's device (scored jobs only)
  Region region;                  // the scored rectangle in frame pixels (scored jobs only)
  // Set when `done`:
  Detection detection;
  std::string error;              // non-empty when scoring failed
  int batch_frames = 0;           // frames scored in the same pass (1: alone)
  BatchItem item;                 // what the scheduler scores (points at `upload`)
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
  ~ScoringQueue ();               // as clear()
  ScoringQueue (const ScoringQueue &) = delete;
  ScoringQueue & operator= (const ScoringQueue &) = delete;

  void push (std::unique_ptr<FrameJob> job);  // scored jobs go to the scheduler; others are done at once
  size_t size () const;
  bool oldest_done () const;
  // The oldest job, once it is done (waits for its score); null when the queue is empty.
  std::unique_ptr<FrameJob> pop_oldest ();
  // Drops every job (their buffers are unreffed): those still waiting for a batch are taken back,
  // those being scored are waited for.
  void clear ();

 private:
  void finished (FrameJob * job);  // the scheduler's callback
  struct Entry {
    std::unique_ptr<FrameJob> job;
    bool done;
  };
  std::shared_ptr<BatchScheduler> scheduler_;
  BatchPolicy policy_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Entry> entries_;     // in arrival order
  size_t in_flight_ = 0;          // jobs handed to the scheduler and not finished
};

}  // namespace differnet
