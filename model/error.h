// The one exception type of the model library: every message names the file or value at fault
// and says what is wrong, so callers can show it to a user as it is.
#pragma once
#include <stdexcept>
#include <string>

namespace differnet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace differnet
