#include "result_json.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace differnet {

namespace {

void append_number(std::string& out, const char* key, double v) {
  char buf[64];
  if (std::isfinite(v))
    std::snprintf(buf, sizeof buf, "\"%s\":%.9g", key, v);
  else
    std::snprintf(buf, sizeof buf, "\"%s\":null", key);
  out += buf;
}

}  // namespace

std::string result_json(const GstDifferNetMeta& m, GstClockTime pts, const std::string& extra) {
  std::string line = "{\"pts_ns\":";
  line += GST_CLOCK_TIME_IS_VALID(pts) ? std::to_string(pts) : "null";
  line += ",\"frame\":" + std::to_string(m.frame) + ",";
  append_number(line, "score", m.score);
  line += ",";
  append_number(line, "threshold", m.threshold);
  line += std::string(",\"anomaly\":") + (m.anomaly ? "true" : "false");
  line += std::string(",\"reused\":") + (m.reused ? "true" : "false") + ",";
  append_number(line, "inference_ms", m.inference_ms);
  // model_id is hex digits from the model file's digest; escaped all the same (a meta made by
  // someone else's code may hold anything).
  line += json_member("model_id", std::string(m.model_id, strnlen(m.model_id, sizeof m.model_id)));
  if (m.n_tiles > 0 && m.tile_scores) {  // tiled scoring: the worst tile and every tile's score
    line += ",\"worst_tile\":" + std::to_string(m.worst_tile) + ",\"tile_columns\":" + std::to_string(m.tile_columns);
    line += ",\"tile_scores\":[";
    for (guint i = 0; i < m.n_tiles; ++i) {
      std::string v;
      append_number(v, "x", m.tile_scores[i]);
      line += (i ? "," : "") + v.substr(4);  // the number (or null) without its key
    }
    line += "]";
  }
  if (m.peak_x >= 0 && m.peak_y >= 0)  // the heatmap's hottest point, frame pixels
    line += ",\"peak_x\":" + std::to_string(m.peak_x) + ",\"peak_y\":" + std::to_string(m.peak_y) +
            json_member("heatmap_method", std::string(m.heatmap_method, strnlen(m.heatmap_method, sizeof m.heatmap_method)));
  line += extra;
  line += "}";
  return line;
}

std::string json_member(const char* key, const std::string& text) {
  // Invalid UTF-8 is replaced, never an exception: a stream name comes from the user.
  return std::string(",\"") + key + "\":" + nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_member(const char* key, long long value) {
  return std::string(",\"") + key + "\":" + std::to_string(value);
}

std::string json_member_raw(const char* key, const std::string& json) {
  return std::string(",\"") + key + "\":" + json;
}

}  // namespace differnet
