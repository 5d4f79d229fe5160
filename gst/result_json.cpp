#include "result_json.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <gst/video/video.h>
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

std::string defects_member(GstBuffer* buffer) {
  std::string out;
  gpointer state = nullptr;
  GstMeta* meta;
  while ((meta = gst_buffer_iterate_meta_filtered(buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    const auto* roi = reinterpret_cast<const GstVideoRegionOfInterestMeta*>(meta);
    if (roi->roi_type != g_quark_from_static_string("defect")) continue;
    double peak = NAN;
    if (const GstStructure* p = gst_video_region_of_interest_meta_get_param(const_cast<GstVideoRegionOfInterestMeta*>(roi),
                                                                          "differnet/defect"))
      gst_structure_get_double(p, "peak", &peak);
    std::string item = "{\"x\":" + std::to_string(roi->x) + ",\"y\":" + std::to_string(roi->y) +
                       ",\"width\":" + std::to_string(roi->w) + ",\"height\":" + std::to_string(roi->h) + ",";
    append_number(item, "peak", peak);
    out += (out.empty() ? "" : ",") + item + "}";
  }
  return out.empty() ? "" : ",\"defects\":[" + out + "]";
}

std::string json_member(const char* key, long long value) {
  return std::string(",\"") + key + "\":" + std::to_string(value);
}

std::string json_member_raw(const char* key, const std::string& json) {
  return std::string(",\"") + key + "\":" + json;
}

}  // namespace differnet
