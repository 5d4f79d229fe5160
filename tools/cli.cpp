#include "cli.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>

#include "error.h"

namespace differnet::cli {

std::atomic<bool> stop_requested{false};

Args::Args(int argc, char** argv, const std::vector<OptionSpec>& options, const std::string& help) {
  auto find = [&](const std::string& name) -> const OptionSpec* {
    for (const auto& o : options)
      if (o.name == name) return &o;
    return nullptr;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(help.c_str(), stdout);
      std::exit(kOk);
    }
    if (arg == "--") {
      for (++i; i < argc; ++i) positionals_.push_back(argv[i]);
      break;
    }
    if (arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && std::isdigit(static_cast<unsigned char>(arg[1])))) {
      std::string name = arg.substr(arg[1] == '-' ? 2 : 1), value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      const OptionSpec* spec = find(name);
      if (!spec) throw UsageError("unknown option '" + arg + "' (see --help)");
      if (spec->takes_value && !inline_value) {
        if (i + 1 >= argc) throw UsageError("option --" + name + " needs a value");
        value = argv[++i];
      } else if (!spec->takes_value && inline_value) {
        throw UsageError("option --" + name + " takes no value");
      }
      values_[name] = spec->takes_value ? value : "1";
    } else {
      positionals_.push_back(arg);
    }
  }
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int Args::integer(const std::string& name, int fallback, int min, int max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < min || v > max)
    throw UsageError("--" + name + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max) +
                     ", got '" + it->second + "'");
  return static_cast<int>(v);
}

double Args::number(const std::string& name, double fallback, double min, double max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0' || !(v >= min && v <= max)) {
    std::ostringstream o;
    o << "--" << name << " must be a number in " << min << ".." << max << ", got '" << it->second << "'";
    throw UsageError(o.str());
  }
  return v;
}

std::vector<std::string> Args::list(const std::string& name, const std::string& fallback) const {
  std::vector<std::string> out;
  std::stringstream in(text(name, fallback));
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

int run_tool(const char* tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s\n", tool, e.what());
    return kUsage;
  } catch (const std::exception& e) {
    progress_done();
    std::fprintf(stderr, "%s: error: %s\n", tool, without_backtrace(e.what()).c_str());
    return kFailure;
  }
}

namespace {
void on_signal(int) {
  if (stop_requested.exchange(true)) std::_Exit(kInterrupted);  // second Ctrl-C: leave at once
  const char msg[] = "\nstopping after the current step (Ctrl-C again to quit at once)\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}
}  // namespace

void install_stop_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

namespace {
bool progress_open = false;
}

void progress_line(const std::string& text, double fraction) {
  const int width = 24;
  const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width);
  std::string bar(static_cast<size_t>(filled), '=');
  bar.resize(width, ' ');
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r[%s] %s\x1b[K", bar.c_str(), text.c_str());
    progress_open = true;
  } else {  // a log file: one line every 10 s at most, and the last
    static double last = -1e9;
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (now - last < 10 && fraction < 1.0) return;
    last = now;
    std::fprintf(stderr, "[%s] %s\n", bar.c_str(), text.c_str());
  }
  std::fflush(stderr);
}

void progress_done() {
  if (progress_open) std::fputc('\n', stderr);
  progress_open = false;
}

}  // namespace differnet::cli
