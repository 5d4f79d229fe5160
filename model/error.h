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

// LibTorch's c10::Error messages carry a C++ backtrace after "Exception raised from": users get the
// first part only.
inline std::string without_backtrace(const std::string& message) {
  const auto cut = message.find("\nException raised from");
  return cut == std::string::npos ? message : message.substr(0, cut);
}

}  // namespace differnet
