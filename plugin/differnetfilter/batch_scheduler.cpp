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
BatchScheduler::submit (const std::vector<BatchItem *> &items, const BatchPolicy & policy, std::function<void ()> done)
{
  if (items.empty ()) {
    done ();
    return;
  }
  {
    std::lock_guard<std::mutex> lock (mutex_);
    auto submission = std::make_shared<Submission> (Submission {items.size (), items.size (), std::move (done)});
    const auto now = std::chrono::steady_clock::now ();
    BatchPolicy p = policy;
    p.max_frames = std::max (1, p.max_frames);
    for (BatchItem *item : items)
      waiting_.push_back (Waiting {item, p, now, submission});
  }
  arrived_.notify_all ();
}

bool
BatchScheduler::withdraw (BatchItem * item)
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    auto it = std::find_if (waiting_.begin (), waiting_.end (), [&](const Waiting & w) { return w.item == item; });
    if (it == waiting_.end () || it->submission->total != 1)
      return false;
    waiting_.erase (it);
  }
  arrived_.notify_all ();       // the oldest waiting item (and its deadline) may have changed
  return true;
}

void
BatchScheduler::score (const std::vector<BatchItem *> &items, const BatchPolicy & policy)
{
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  submit (items, policy, [&] {
        std::lock_guard<std::mutex> lock (m);
        finished = true;
        cv.notify_all ();
      });
  std::unique_lock<std::mutex> lock (m);
  cv.wait (lock, [&] { return finished; });
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
    // The oldest frame decides: score when its batch is full or its time is up (or at shutdown);
    // until then every arrival or withdrawal looks again.
    const size_t want = static_cast<size_t>(waiting_.front ().policy.max_frames);
    const auto deadline = waiting_.front ().arrived + waiting_.front ().policy.timeout;
    if (!quit_ && waiting_.size () < want && std::chrono::steady_clock::now () < deadline) {
      arrived_.wait_until (lock, deadline);
      continue;
    }
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
    std::vector<std::function<void ()>> finished;
    for (Waiting & w : batch)
      if (--w.submission->remaining == 0)
        finished.push_back (std::move (w.submission->done));
    batch.clear ();
    lock.unlock ();
    for (auto & done : finished)        // without the scheduler's lock: they take their callers' locks
      done ();
    lock.lock ();
  }
}

}  // namespace differnet
