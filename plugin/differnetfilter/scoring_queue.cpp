#include "scoring_queue.h"

namespace differnet {

ScoringQueue::ScoringQueue (Detector & detector, BatchPolicy policy):scheduler_ (BatchScheduler::of (detector)),
policy_ (policy)
{
}

ScoringQueue::~ScoringQueue ()
{
  clear ();                     // after it no callback of the scheduler refers to this queue
}

void
ScoringQueue::push (std::unique_ptr<FrameJob> job)
{
  FrameJob *scored = nullptr;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    if (job->score) {
      scored = job.get ();
      scored->item.frame = &scored->upload;
      scored->item.request = scored->request;
      in_flight_++;
    }
    entries_.push_back (Entry {std::move (job), scored == nullptr});
  }
  if (scored)
    scheduler_->submit ({&scored->item}, policy_, [this, scored] { finished (scored); });
  else
    changed_.notify_all ();
}

void
ScoringQueue::finished (FrameJob * job)
{
  std::lock_guard<std::mutex> lock (mutex_);
  job->detection = std::move (job->item.detection);
  job->error = std::move (job->item.error);
  job->batch_frames = job->item.batch_frames;
  job->upload = UploadedFrame ();       // frees the device copy now, not when the frame leaves
  for (Entry & e : entries_)
    if (e.job.get () == job)
      e.done = true;
  in_flight_--;
  changed_.notify_all ();       // under the lock: once it is released, this queue may be destroyed
}

size_t
ScoringQueue::size () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return entries_.size ();
}

bool
ScoringQueue::oldest_done () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return !entries_.empty () && entries_.front ().done;
}

std::unique_ptr<FrameJob>
ScoringQueue::pop_oldest ()
{
  std::unique_lock<std::mutex> lock (mutex_);
  if (entries_.empty ())
    return nullptr;
  changed_.wait (lock, [this] { return entries_.front ().done; });
  std::unique_ptr<FrameJob> job = std::move (entries_.front ().job);
  entries_.pop_front ();
  return job;
}

void
ScoringQueue::clear ()
{
  std::unique_lock<std::mutex> lock (mutex_);
  // Take back what still waits for a batch (the scheduler's lock is taken inside ours, never the
  // other way round: its callbacks run without it).
  for (Entry & e : entries_)
    if (!e.done && scheduler_->withdraw (&e.job->item)) {
      e.done = true;
      in_flight_--;
    }
  changed_.wait (lock, [this] { return in_flight_ == 0; });
  entries_.clear ();
}

}  // namespace differnet
