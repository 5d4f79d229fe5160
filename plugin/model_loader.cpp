#include "model_loader.h"

#include "error.h"

namespace differnet {

ModelLoader::ModelLoader () : worker_ ([this] { run (); }) {}

ModelLoader::~ModelLoader ()
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    quit_ = true;
    pending_.reset ();
  }
  wake_.notify_all ();
  worker_.join ();
}

void
ModelLoader::request (const DetectorOptions & options, const DetectRequest & warm)
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    pending_ = std::make_pair (options, warm);
    ++generation_;
    ready_.reset ();                     // an older finished result is superseded too
  }
  wake_.notify_all ();
}

std::optional<ModelLoader::Result>
ModelLoader::take ()
{
  std::lock_guard<std::mutex> lock (mutex_);
  std::optional<Result> out = std::move (ready_);
  ready_.reset ();
  return out;
}

bool
ModelLoader::busy () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return loading_ || pending_.has_value ();
}

void
ModelLoader::run ()
{
  for (;;) {
    std::pair<DetectorOptions, DetectRequest> job;
    uint64_t generation;
    {
      std::unique_lock<std::mutex> lock (mutex_);
      wake_.wait (lock, [this] { return quit_ || pending_.has_value (); });
      if (quit_)
        return;
      job = std::move (*pending_);
      pending_.reset ();
      generation = generation_;
      loading_ = true;
    }
    Result result;
    result.path = job.first.model_path;
    try {
      auto detector = std::make_unique<Detector> (job.first);
      detector->warm_up (job.second);
      result.detector = std::move (detector);
    } catch (const std::exception & e) {
      result.error = without_backtrace (e.what ());
    }
    std::lock_guard<std::mutex> lock (mutex_);
    loading_ = false;
    if (generation == generation_ && !quit_)
      ready_ = std::move (result);       // else superseded: dropped here, on this thread
  }
}

}  // namespace differnet
