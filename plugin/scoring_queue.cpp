#include "scoring_queue.h"

#include <algorithm>

namespace differnet {

ScoringQueue::ScoringQueue (Detector & detector, BatchPolicy policy):scheduler_ (BatchScheduler::of (detector)),
policy_ (policy), worker_ ([this] { run (); })
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
    // Skip the jobs that need no scoring; take the next ones that do (up to a batch).
    while (next_to_score_ < entries_.size () && entries_[next_to_score_].done)
      next_to_score_++;
    if (quit_)
      return;
    if (next_to_score_ >= entries_.size ()) {
      changed_.wait (lock);
      continue;
    }
    std::vector<FrameJob *> jobs;
    for (size_t i = next_to_score_; i < entries_.size ()
        && jobs.size () < static_cast<size_t>(std::max (1, policy_.max_frames)); ++i)
      if (!entries_[i].done)
        jobs.push_back (entries_[i].job.get ());
    busy_ = true;
    lock.unlock ();
    std::vector<BatchItem> items (jobs.size ());
    std::vector<BatchItem *> pointers;
    for (size_t i = 0; i < jobs.size (); ++i) {
      items[i].frame = &jobs[i]->upload;
      items[i].request = jobs[i]->request;
      pointers.push_back (&items[i]);
    }
    scheduler_->score (pointers, policy_);
    for (size_t i = 0; i < jobs.size (); ++i) {
      jobs[i]->detection = std::move (items[i].detection);
      jobs[i]->error = std::move (items[i].error);
      jobs[i]->batch_frames = items[i].batch_frames;
      jobs[i]->upload = UploadedFrame ();       // frees the device copy now, not when the frame leaves
    }
    lock.lock ();
    busy_ = false;
    // Done frames before these may have left meanwhile, so find them again; they are still there
    // (pop_oldest waits for them to be done, clear() for busy_ to drop).
    for (FrameJob *job : jobs)
      for (size_t i = 0; i < entries_.size (); ++i)
        if (entries_[i].job.get () == job) {
          entries_[i].done = true;
          next_to_score_ = std::max (next_to_score_, i + 1);
          break;
        }
    changed_.notify_all ();
  }
}

}  // namespace differnet
