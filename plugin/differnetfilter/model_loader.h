/* ModelLoader: loads and warms up a DifferNet model on a thread of its own, for a live model swap
 * (differnetfilter's `model` set while PLAYING): the stream keeps running on the old model until the
 * new one is ready, and a model that cannot be loaded leaves the old one in place. */
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "detector.h"

namespace differnet {

class ModelLoader {
 public:
  struct Result {
    std::shared_ptr<Detector> detector;  // null when the load failed (shared: see ModelCache)
    std::string path;
    std::string error;                   // why it failed
  };
  ModelLoader ();
  ~ModelLoader ();                       // waits for a load in progress, drops its result
  ModelLoader (const ModelLoader &) = delete;
  ModelLoader & operator= (const ModelLoader &) = delete;

  // Loads `options.model_path` and scores one frame as `warm` asks (so that the first frame after
  // the switch is not slowed). A later call supersedes an earlier one still waiting or loading:
  // only the latest request's result is kept.
  // With `shared`, through the ModelCache (an element already holding that model lends it).
  void request (const DetectorOptions & options, const DetectRequest & warm, bool shared = true);
  // The result of the latest request, once it is finished (never blocks).
  std::optional<Result> take ();
  bool busy () const;

 private:
  void run ();
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct Request {
    DetectorOptions options;
    DetectRequest warm;
    bool shared;
  };
  std::optional<Request> pending_;
  uint64_t generation_ = 0;              // of the latest request
  bool loading_ = false, quit_ = false;
  std::optional<Result> ready_;
  std::thread worker_;
};

}  // namespace differnet
