#include "scoring_queue.h"

namespace differnet {

ScoringQueue::ScoringQueue (Detector & detector):detector_ (detector), worker_ ([this] { run (); })
{
}

ScoringQueue::~ScoringQueue ()
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    quit_ = true;
  }
  changed_.notify_all ();
  worker_.join ();
  entries_.clear ();
}

void
ScoringQueue::push (std::unique_ptr<FrameJob> job)
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    const bool done = !job->score;
    entries_.push_back (Entry {std::move (job), done});
  }
  changed_.notify_all ();
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
  if (next_to_score_ > 0)
    next_to_score_--;
  return job;
}

void
ScoringQueue::clear ()
{
  std::unique_lock<std::mutex> lock (mutex_);
  changed_.wait (lock, [this] { return !busy_; });
  entries_.clear ();
  next_to_score_ = 0;
}

void
ScoringQueue::run ()
{
  std::unique_lock<std::mutex> lock (mutex_);
  for (;;) {
    // Skip the jobs that need no scoring; take the next that does.
    while (next_to_score_ < entries_.size () && entries_[next_to_score_].done)
      next_to_score_++;
    if (quit_)
      return;
    if (next_to_score_ >= entries_.size ()) {
      changed_.wait (lock);
      continue;
    }
    FrameJob *job = entries_[next_to_score_].job.get ();
    busy_ = true;
    lock.unlock ();
    try {
      job->detection = detector_.score (job->upload, job->request);
    } catch (const std::exception & e) {
      job->error = e.what ();
    }
    job->upload = UploadedFrame ();   // frees the device copy now, not when the frame leaves
    lock.lock ();
    busy_ = false;
    // Done frames before this one may have left meanwhile, so find it again; it is still there
    // (pop_oldest waits for it to be done, clear() for busy_ to drop).
    for (size_t i = 0; i < entries_.size (); ++i)
      if (entries_[i].job.get () == job) {
        entries_[i].done = true;
        next_to_score_ = i + 1;
        break;
      }
    changed_.notify_all ();
  }
}

}  // namespace differnet
