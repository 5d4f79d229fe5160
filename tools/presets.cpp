#include "presets.h"

#include "error.h"

namespace differnet::cli {

Preset preset(const std::string& name) {
  Preset p;  // defaults = the authors' numbers
  if (name == "paper") return p;
  if (name == "fast") {
    // Same input, scales, optimiser, batch and rotations; a narrower flow, fewer epochs, and features
    // of a fixed pool of rotations computed once (the backbone is frozen).
    p.config.flow.width = 512;
    p.train.epochs = 48;
    p.train.feature_cache = 16;
    return p;
  }
  throw Error("unknown preset '" + name + "' (known: fast, paper)");
}

}  // namespace differnet::cli
