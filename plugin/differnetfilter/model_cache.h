/* ModelCache: the elements of one process that name the same model file (same path, size and
 * modification time), device, precision and thread count share one loaded Detector, as
 * DeepStream's elements share one model instance per process. Reference-counted: the last element
 * that lets go of it frees it. Memory with N elements stays about that of one model. */
#pragma once

#include <cstdint>
#include <memory>

#include "detector.h"

namespace differnet {

class ModelCache {
 public:
  // The loaded model for `options`, loading it if no element holds it now. Throws Error (from the
  // Detector) with the file and the reason. Loads run one at a time.
  static std::shared_ptr<Detector> acquire (const DetectorOptions & options);
  // Models loaded through the cache since the process started (a shared model counts once).
  static uint64_t loads ();
};

}  // namespace differnet
