#include "model_loader.h"

#include "error.h"
#include "model_cache.h"

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
ModelLoader::request (const DetectorOptions & options, const DetectRequest & warm, bool shared)
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    pending_ = Request {options, warm, shared};
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
    Request job;
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
    result.path = job.options.model_path;
    try {
      std::shared_ptr<Detector> detector = job.shared ? ModelCache::acquire (job.options)
          : std::make_shared<Detector> (job.options);
      detector->warm_up (job.warm);
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
