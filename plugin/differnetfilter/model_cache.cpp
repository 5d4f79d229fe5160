#include "model_cache.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace differnet {

namespace {

std::mutex cache_mutex;
std::map<std::string, std::weak_ptr<Detector>> cache;
uint64_t load_count = 0;

// What makes two requests the same model: the file (resolved path, size, modification time: a file
// retrained in place is a new model) and how it runs.
std::string key_of (const DetectorOptions & o)
{
  std::string key;
  char resolved[PATH_MAX];
  key += realpath (o.model_path.c_str (), resolved) ? resolved : o.model_path;
  struct stat st;
  if (stat (o.model_path.c_str (), &st) == 0)
    key += "|" + std::to_string (st.st_size) + "|" + std::to_string (st.st_mtim.tv_sec) + "." +
        std::to_string (st.st_mtim.tv_nsec);
  key += "|" + o.device + "|" + o.precision + "|" + o.flow_precision + "|" + std::to_string (o.threads) + "|" +
      (o.synchronize_stages ? "sync" : "");
  return key;
}

}  // namespace

std::shared_ptr<Detector>
ModelCache::acquire (const DetectorOptions & options)
{
  const std::string key = key_of (options);
  std::lock_guard<std::mutex> lock (cache_mutex);
  for (auto it = cache.begin (); it != cache.end ();)     // forget models nobody holds any more
    it = it->second.expired () ? cache.erase (it) : std::next (it);
  if (auto found = cache[key].lock ())
    return found;
  auto detector = std::make_shared<Detector> (options);
  cache[key] = detector;
  ++load_count;
  return detector;
}

uint64_t
ModelCache::loads ()
{
  std::lock_guard<std::mutex> lock (cache_mutex);
  return load_count;
}

}  // namespace differnet
