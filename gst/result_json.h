// One DifferNet result as a JSON object: the line differnetfilter writes to its results file and
// the message differnetpublish sends. No LibTorch here.
#pragma once
#include <gst/gst.h>

#include <string>

#include <gst/differnet/differnetmeta.h>

namespace differnet {

// {"pts_ns":…,"frame":…,"score":…,"threshold":…,"anomaly":…,"reused":…,"inference_ms":…,
//  "model_id":"…"<extra>} where `extra` (if not empty) is more members, each starting with a comma.
// Non-finite numbers (an uncalibrated threshold) are null; numbers have 9 significant digits.
std::string result_json(const GstDifferNetMeta& meta, GstClockTime pts, const std::string& extra = "");

// `"key":value` members for result_json's `extra`, each starting with a comma.
std::string json_member(const char* key, const std::string& text);  // a JSON string, escaped
std::string json_member(const char* key, long long value);
std::string json_member_raw(const char* key, const std::string& json);  // value already JSON

// ,"defects":[{"x":…,"y":…,"width":…,"height":…,"peak":…},…] from the buffer's
// GstVideoRegionOfInterestMeta of type "defect" (differnetfilter's defect regions, hottest first);
// "" when it has none.
std::string defects_member(GstBuffer* buffer);

}  // namespace differnet
