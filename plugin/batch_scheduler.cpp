#include "batch_scheduler.h"

#include <algorithm>
#include <map>

namespace differnet {

std::shared_ptr<BatchScheduler>
BatchScheduler::of (Detector & detector)
{
  static std::mutex registry_mutex;
  static std::map<Detector *, std::weak_ptr<BatchScheduler>> registry;
  std::lock_guard<std::mutex> lock (registry_mutex);
  for (auto it = registry.begin (); it != registry.end ();)      // forget schedulers nobody holds
    it = it->second.expired () ? registry.erase (it) : std::next (it);
  if (auto found = registry[&detector].lock ())
    return found;
  auto scheduler = std::make_shared<BatchScheduler> (detector);
  registry[&detector] = scheduler;
  return scheduler;
}

BatchScheduler::BatchScheduler (Detector & detector):detector_ (detector), worker_ ([this] { run (); })
{
}

BatchScheduler::~BatchScheduler ()
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    quit_ = true;
  }
  arrived_.notify_all ();
  worker_.join ();
}

void
BatchScheduler::score (const std::vector<BatchItem *> &items, const BatchPolicy & policy)
{
  if (items.empty ())
    return;
  std::unique_lock<std::mutex> lock (mutex_);
  size_t remaining = items.size ();
  const auto now = std::chrono::steady_clock::now ();
  BatchPolicy p = policy;
  p.max_frames = std::max (1, p.max_frames);
  for (BatchItem *item : items)
    waiting_.push_back (Waiting {item, p, now, &remaining});
  arrived_.notify_all ();
  finished_.wait (lock, [&] { return remaining == 0; });
}

uint64_t
BatchScheduler::batches () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return batches_;
}

uint64_t
BatchScheduler::frames () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return frames_;
}

void
BatchScheduler::run ()
{
  std::unique_lock<std::mutex> lock (mutex_);
  for (;;) {
    arrived_.wait (lock, [this] { return quit_ || !waiting_.empty (); });
    if (waiting_.empty ())
      return;                   // quit_, and nothing left to score
    // The oldest frame decides: score when its batch is full or its time is up (or at shutdown).
    const size_t want = static_cast<size_t>(waiting_.front ().policy.max_frames);
    const auto deadline = waiting_.front ().arrived + waiting_.front ().policy.timeout;
    arrived_.wait_until (lock, deadline, [&] { return quit_ || waiting_.size () >= want; });
    const size_t n = std::min (want, waiting_.size ());
    std::vector<Waiting> batch (waiting_.begin (), waiting_.begin () + static_cast<std::ptrdiff_t>(n));
    waiting_.erase (waiting_.begin (), waiting_.begin () + static_cast<std::ptrdiff_t>(n));
    std::vector<BatchItem *> items;
    for (const Waiting & w : batch)
      items.push_back (w.item);
    lock.unlock ();
    try {
      detector_.score_batch (items);    // a frame's failure is its item's error
    } catch (const std::exception & e) {        // (bad_alloc, ...): nothing may be left waiting
      for (BatchItem *item : items)
        item->error = e.what ();
    }
    lock.lock ();
    batches_++;
    frames_ += n;
    for (const Waiting & w : batch)
      (*w.remaining)--;
    finished_.notify_all ();
  }
}

}  // namespace differnet
