// What the command-line tools share: option parsing with --help, exit codes, progress lines,
// Ctrl-C handling and the training presets.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace differnet::cli {

// Exit codes of every tool.
constexpr int kOk = 0, kFailure = 1, kUsage = 2, kInterrupted = 130;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;   // without the leading "--"
  bool takes_value;
};

class Args {
 public:
  // Parses argv against `options` ("-o" is allowed as a short name where declared as "o").
  // --help prints `help` and exits 0; an unknown option or missing value throws UsageError.
  Args(int argc, char** argv, const std::vector<OptionSpec>& options, const std::string& help);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string text(const std::string& name, const std::string& fallback) const;
  int integer(const std::string& name, int fallback, int min, int max) const;
  double number(const std::string& name, double fallback, double min, double max) const;
  std::vector<std::string> list(const std::string& name, const std::string& fallback) const;  // comma separated
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

// Runs `body`, turning exceptions into a one-line "TOOL: error: ..." message and an exit code.
int run_tool(const char* tool, const std::function<int()>& body);

// Set by SIGINT/SIGTERM once install_stop_handler() ran; a second Ctrl-C kills the process.
extern std::atomic<bool> stop_requested;
void install_stop_handler();

// "1:02:03" style duration.
std::string format_duration(double seconds);
// A one-line progress bar redrawn in place on a terminal (plain lines otherwise).
void progress_line(const std::string& text, double fraction);
void progress_done();

}  // namespace differnet::cli
