// Integers out of untrusted JSON (model file headers and metadata). nlohmann's get<int>() on a
// floating-point or too-large number converts with undefined behaviour (found by scripts/fuzz.sh);
// these accept only JSON integers within [min, max] and throw nlohmann::json::type_error otherwise,
// which the callers already turn into "malformed" errors.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace differnet {

inline int64_t json_int(const nlohmann::json& v, int64_t min, int64_t max) {
  if (!v.is_number_integer())
    throw nlohmann::json::type_error::create(302, "expected an integer, got " + v.dump(), &v);
  if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(max) : v.get<int64_t>() > max)
    throw nlohmann::json::type_error::create(302, "integer " + v.dump() + " is too large", &v);
  if (!v.is_number_unsigned() && v.get<int64_t>() < min)
    throw nlohmann::json::type_error::create(302, "integer " + v.dump() + " is too small", &v);
  return v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
}

inline int json_int32(const nlohmann::json& v) { return static_cast<int>(json_int(v, INT32_MIN, INT32_MAX)); }

template <typename T>
std::vector<T> json_int_array(const nlohmann::json& v, int64_t min, int64_t max) {
  if (!v.is_array()) throw nlohmann::json::type_error::create(302, "expected an array, got " + v.dump(), &v);
  std::vector<T> out;
  for (const auto& e : v) out.push_back(static_cast<T>(json_int(e, min, max)));
  return out;
}

}  // namespace differnet
