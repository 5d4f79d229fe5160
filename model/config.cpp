#include "config.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "device_name.h"
#include "error.h"
#include "json_checked.h"
#include "tiling.h"

namespace differnet {

using nlohmann::json;

std::string ModelConfig::to_json() const {
  json j = {{"backbone", backbone},
            {"trunk_channels", trunk_channels},
            {"layers", layers},
            {"layer_channels", channels_per_layer()},
            {"standardize", standardize},
            {"whiten", whiten},
            {"train_rotation_deg", train_rotation_deg},
            {"input_size", input_size},
            {"scales", scales},
            {"tiles", tiles},
            {"tile_overlap", tile_overlap},
            {"normalization", {{"mean", mean}, {"std", std}}},
            {"flow",
             {{"blocks", flow.blocks},
              {"width", flow.width},
              {"hidden_layers", flow.hidden_layers},
              {"clamp_alpha", flow.clamp_alpha},
              {"permutation_seeds", flow.permutation_seeds}}},
            {"feature_dim", feature_dim()}};
  if (local.enabled())
    j["local"] = {{"layers", local.layers},       {"layer_channels", local.layer_channels},
                  {"dim", local.dim},             {"neighbourhood", local.neighbourhood},
                  {"sigma", local.sigma},         {"scales", local.scales},
                  {"projection_seed", local.projection_seed}, {"grid", local.grid}};
  if (local.enabled() && local.flow_blocks > 0)
    j["local"]["flow"] = {{"blocks", local.flow_blocks}, {"hidden", local.flow_hidden}};
  j["image_score"] = {{"method", image_score.method}, {"gaussian", image_score.gaussian},
                      {"flow_trained", image_score.flow_trained}};
  if (!image_score.chosen_by.empty()) j["image_score"]["chosen_by"] = image_score.chosen_by;
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  ModelConfig c;
  try {
    json j = json::parse(text);
    c.backbone = j.at("backbone").get<std::string>();
    c.trunk_channels = json_int32(j.at("trunk_channels"));
    // Absent in files written before layers were configurable: those pooled the last layer.
    c.layers = j.value("layers", std::vector<std::string>{"last"});
    if (j.contains("layer_channels")) c.layer_channels = json_int_array<int>(j.at("layer_channels"), INT32_MIN, INT32_MAX);
    c.standardize = j.value("standardize", false);
    c.whiten = j.value("whiten", false);  // absent in files written before whitening
    c.train_rotation_deg = j.value("train_rotation_deg", 180.0);
    c.input_size = json_int32(j.at("input_size"));
    c.scales = json_int_array<int>(j.at("scales"), INT32_MIN, INT32_MAX);
    // Absent in files written before tiling: whole images.
    c.tiles = j.value("tiles", std::string("1x1"));
    c.tile_overlap = j.value("tile_overlap", 0.0);
    c.mean = j.at("normalization").at("mean").get<std::array<double, 3>>();
    c.std = j.at("normalization").at("std").get<std::array<double, 3>>();
    const json& f = j.at("flow");
    c.flow.blocks = json_int32(f.at("blocks"));
    c.flow.width = json_int32(f.at("width"));
    c.flow.hidden_layers = json_int32(f.at("hidden_layers"));
    c.flow.clamp_alpha = f.at("clamp_alpha").get<double>();
    c.flow.permutation_seeds = json_int_array<int>(f.at("permutation_seeds"), INT32_MIN, INT32_MAX);
    if (j.contains("image_score")) {  // absent in files written before it: the flow scores
      const json& s = j.at("image_score");
      c.image_score.method = s.at("method").get<std::string>();
      c.image_score.gaussian = s.at("gaussian").get<bool>();
      c.image_score.flow_trained = s.at("flow_trained").get<bool>();
      if (s.contains("chosen_by")) c.image_score.chosen_by = s.at("chosen_by").get<std::string>();  // absent before it
    }
    if (j.contains("local")) {  // absent in files written before the local scorer
      const json& l = j.at("local");
      c.local.layers = l.at("layers").get<std::vector<std::string>>();
      c.local.layer_channels = json_int_array<int>(l.at("layer_channels"), INT32_MIN, INT32_MAX);
      c.local.dim = json_int32(l.at("dim"));
      c.local.neighbourhood = json_int32(l.at("neighbourhood"));
      c.local.sigma = l.at("sigma").get<double>();
      c.local.scales = json_int_array<int>(l.at("scales"), INT32_MIN, INT32_MAX);
      c.local.projection_seed = json_int32(l.at("projection_seed"));
      if (l.contains("grid")) c.local.grid = l.at("grid").get<std::string>();  // absent before it: "deepest"
      if (l.contains("flow")) {  // absent without a local flow
        c.local.flow_blocks = json_int32(l.at("flow").at("blocks"));
        c.local.flow_hidden = json_int32(l.at("flow").at("hidden"));
      }
      if (!c.local.enabled()) throw Error("configuration: a local block must name at least one layer");
    }
  } catch (const json::exception& e) {
    throw Error(std::string("configuration is malformed: ") + e.what());
  }
  c.validate();
  return c;
}

void ModelConfig::validate() const {
  auto bad = [](const std::string& what) { throw Error("configuration: " + what); };
  if (backbone.empty()) bad("backbone is empty");
  if (trunk_channels <= 0) bad("trunk_channels must be positive");
  if (layers.empty() || layers.size() > 16) bad("layers must name 1 to 16 backbone layers");
  if (channels_per_layer().size() != layers.size()) bad("layer_channels must give one count per layer");
  for (int ch : channels_per_layer())
    if (ch <= 0 || ch > 65536) bad("layer channels must be in 1..65536");
  if (whiten && !standardize) bad("whiten needs standardize (whitening acts on the standardised features)");
  if (whiten && feature_dim() > kMaxWhitenedDim)
    bad("whiten needs a feature dimension of at most " + std::to_string(kMaxWhitenedDim) + " (its matrix is D x D), got " +
        std::to_string(feature_dim()));
  if (!(train_rotation_deg >= 0 && train_rotation_deg <= 180)) bad("train_rotation_deg must be in 0..180");
  if (input_size < 32 || input_size > 4096) bad("input_size must be in 32..4096, got " + std::to_string(input_size));
  if (scales.empty() || scales.size() > 8) bad("scales must hold 1 to 8 sizes");
  for (int s : scales)
    if (s <= 0 || input_size % s != 0)
      bad("scale " + std::to_string(s) + " must divide input_size " + std::to_string(input_size));
  for (double s : std)
    if (!(s > 0)) bad("normalization std must be positive");
  if (tiles != "auto") {
    try {
      TileGrid::parse(tiles, tile_overlap);
    } catch (const Error& e) {
      bad(e.what());
    }
  } else if (!(tile_overlap >= 0 && tile_overlap <= 0.9)) {
    bad("tile_overlap must be in [0, 0.9]");
  }
  if (flow.blocks < 1 || flow.blocks > 64) bad("flow blocks must be in 1..64");
  if (flow.width < 1 || flow.width > 65536) bad("flow width must be in 1..65536");
  if (flow.hidden_layers < 0 || flow.hidden_layers > 16) bad("flow hidden_layers must be in 0..16");
  if (!(flow.clamp_alpha > 0)) bad("flow clamp_alpha must be positive");
  if (static_cast<int>(flow.permutation_seeds.size()) != flow.blocks)
    bad("flow needs one permutation seed per block");
  if (feature_dim() < 2) bad("feature dimension must be at least 2");
  if (image_score.method != "flow" && image_score.method != "gaussian" && image_score.method != "combined")
    bad("image_score method '" + image_score.method + "' is not one of flow, gaussian, combined");
  if (image_score.method != "flow" && !image_score.gaussian)
    bad("image_score method '" + image_score.method + "' needs the pooled Gaussian (gaussian: true)");
  if (image_score.chosen_by.size() > 1000)
    bad("image_score chosen_by has " + std::to_string(image_score.chosen_by.size()) + " characters (at most 1000)");
  if (image_score.method != "gaussian" && !image_score.flow_trained)
    bad("image_score method '" + image_score.method + "' needs a trained flow (flow_trained is false)");
  if (image_score.gaussian && feature_dim() > kMaxWhitenedDim)
    bad("the pooled Gaussian needs a feature dimension of at most " + std::to_string(kMaxWhitenedDim) +
        " (its matrix is D x D), got " + std::to_string(feature_dim()));
  if (local.enabled()) {
    if (local.layers.size() > 8) bad("local layers must name 1 to 8 backbone layers");
    if (local.layer_channels.size() != local.layers.size()) bad("local layer_channels must give one count per layer");
    for (int ch : local.layer_channels)
      if (ch <= 0 || ch > 65536) bad("local layer channels must be in 1..65536");
    if (local.dim < 1 || local.dim > 4096) bad("local dim must be in 1..4096");
    if (local.dim > local.channels()) bad("local dim " + std::to_string(local.dim) + " exceeds the layers' " +
                                          std::to_string(local.channels()) + " channels");
    if (local.grid != "deepest" && local.grid != "shallowest")
      bad("local grid must be deepest or shallowest, not '" + local.grid + "'");
    if (local.neighbourhood < 1 || local.neighbourhood > 15 || local.neighbourhood % 2 == 0)
      bad("local neighbourhood must be odd, in 1..15");
    if (!(local.sigma >= 0 && local.sigma <= 64)) bad("local sigma must be in 0..64 px");
    if (local.flow_blocks < 0 || local.flow_blocks > 16) bad("local flow blocks must be in 0..16");
    if (local.flow_hidden < 1 || local.flow_hidden > 4096) bad("local flow hidden channels must be in 1..4096");
    if (local.flow_blocks > 0 && local.dim < 2) bad("the local flow needs local dim >= 2");
    // Its weights (two 3 x 3 convolutions per subnet, two subnets per block, per scale), checked
    // before anything is allocated for them: at most 64 M parameters.
    const double local_flow_params = static_cast<double>(local.scales.size()) * local.flow_blocks * 27.0 * local.flow_hidden * local.dim;
    if (local_flow_params > 64e6)
      bad("the local flow would hold " + std::to_string(static_cast<long long>(local_flow_params / 1e6)) +
          " M parameters (blocks x hidden x dim too large; at most 64 M)");
    if (local.scales.empty() || local.scales.size() > scales.size()) bad("local scales must name 1 to " +
                                                                         std::to_string(scales.size()) + " scales");
    for (size_t i = 0; i < local.scales.size(); ++i) {
      if (local.scales[i] < 0 || local.scales[i] >= static_cast<int>(scales.size()))
        bad("local scale index " + std::to_string(local.scales[i]) + " is not one of the model's " +
            std::to_string(scales.size()) + " scales");
      for (size_t j = 0; j < i; ++j)
        if (local.scales[j] == local.scales[i]) bad("local scales repeat index " + std::to_string(local.scales[i]));
    }
  }
}

int LocalConfig::channels() const {
  int64_t sum = 0;
  for (int ch : layer_channels) sum += ch;
  return static_cast<int>(std::min<int64_t>(sum, 1 << 20));
}

std::vector<int> ModelConfig::channels_per_layer() const {
  if (layer_channels.empty() && layers == std::vector<std::string>{"last"}) return {trunk_channels};
  return layer_channels;
}

int ModelConfig::pooled_channels() const {
  int64_t sum = 0;
  for (int ch : channels_per_layer()) sum += ch;
  return static_cast<int>(std::min<int64_t>(sum, 1 << 20));
}

namespace {
json threshold_json(const GoodScoreThreshold& t) {
  json j = {{"threshold", t.threshold}, {"good_count", t.good_count}, {"good_mean", t.good_mean},
            {"good_std", t.good_std}, {"good_max", t.good_max}};
  if (t.pixel_threshold != 0) j["pixel_threshold"] = t.pixel_threshold;
  return j;
}

GoodScoreThreshold threshold_from_json(const json& j) {
  GoodScoreThreshold t;
  t.threshold = j.at("threshold").get<double>();
  t.good_count = json_int32(j.at("good_count"));
  t.good_mean = j.at("good_mean").get<double>();
  t.good_std = j.at("good_std").get<double>();
  t.good_max = j.at("good_max").get<double>();
  if (j.contains("pixel_threshold")) t.pixel_threshold = j.at("pixel_threshold").get<double>();
  return t;
}

// The checks of Calibration::validate() for one threshold; `where` names it in the message.
void validate_threshold(const GoodScoreThreshold& t, const std::string& where) {
  auto bad = [&](const std::string& what) {
    throw Error("calibration is inconsistent: " + where + what +
                " (recalibrate: differnet-calibrate MODEL GOOD_IMAGES)");
  };
  auto num = [](double v) {
    std::ostringstream o;
    o.precision(6);
    o << v;
    return o.str();
  };
  if (!std::isfinite(t.threshold) || t.threshold <= 0)
    bad("threshold " + num(t.threshold) + " is not a positive finite number");
  if (t.good_count < 2) bad("it rests on " + std::to_string(t.good_count) + " good scores (at least 2 are needed)");
  if (!std::isfinite(t.good_mean) || !std::isfinite(t.good_std) || !std::isfinite(t.good_max) || t.good_mean <= 0 ||
      t.good_std < 0 || t.good_max <= 0)
    bad("its good scores' mean " + num(t.good_mean) + ", std " + num(t.good_std) + " and max " + num(t.good_max) +
        " are not positive finite numbers");
  // Rounding slack of the stored decimal figures (JSON keeps 17 significant digits; 1e-9 is ample).
  const double slack = 1e-9 * t.good_max;
  if (t.good_mean > t.good_max + slack)
    bad("the good scores' mean " + num(t.good_mean) + " exceeds their max " + num(t.good_max));
  // A quantile of the good scores lies at or below their largest; the quantile is at least the median,
  // which lies within one standard deviation of the mean (Chebyshev-Cantelli: |median - mean| <= std).
  if (t.threshold > t.good_max + slack)
    bad("threshold " + num(t.threshold) + " is above the largest good score it was computed from (" +
        num(t.good_max) + ")");
  if (!std::isfinite(t.pixel_threshold) || t.pixel_threshold < 0)
    bad("pixel threshold " + num(t.pixel_threshold) + " is not a finite number >= 0");
  if (t.threshold < t.good_mean - t.good_std - slack)
    bad("threshold " + num(t.threshold) + " is below the good scores' median (mean " + num(t.good_mean) + ", std " +
        num(t.good_std) + ")");
}
}  // namespace

double Calibration::pixel_threshold_for(const std::string& arithmetic) const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!calibrated) return nan;
  if (arithmetic == "fp32/fp32") return pixel_threshold > 0 ? pixel_threshold : nan;
  auto it = arithmetics.find(arithmetic);
  return it == arithmetics.end() || !(it->second.pixel_threshold > 0) ? nan : it->second.pixel_threshold;
}

double Calibration::threshold_for(const std::string& arithmetic) const {
  if (!calibrated) return std::numeric_limits<double>::quiet_NaN();
  if (arithmetic == "fp32/fp32") return threshold;
  auto it = arithmetics.find(arithmetic);
  return it == arithmetics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second.threshold;
}

std::string Calibration::to_json() const {
  json j = {{"calibrated", calibrated}, {"threshold", threshold}, {"transforms", transforms},
            {"method", method},         {"good_count", good_count}, {"good_mean", good_mean},
            {"good_std", good_std},     {"good_max", good_max}};
  if (pixel_threshold != 0) j["pixel_threshold"] = pixel_threshold;
  if (flow_scale != 0 || gaussian_scale != 0) j["scales"] = {{"flow", flow_scale}, {"gaussian", gaussian_scale}};
  if (!int8_activation_max.empty()) j["int8_activation_max"] = int8_activation_max;
  if (!arithmetics.empty()) {
    json a = json::object();
    for (const auto& [name, t] : arithmetics) a[name] = threshold_json(t);
    j["arithmetics"] = a;
  }
  return j.dump();
}

Calibration Calibration::from_json(const std::string& text) {
  Calibration c;
  try {
    json j = json::parse(text);
    c.calibrated = j.at("calibrated").get<bool>();
    c.threshold = j.at("threshold").get<double>();
    c.transforms = json_int32(j.at("transforms"));
    c.method = j.at("method").get<std::string>();
    c.good_count = json_int32(j.at("good_count"));
    c.good_mean = j.at("good_mean").get<double>();
    c.good_std = j.at("good_std").get<double>();
    c.good_max = j.at("good_max").get<double>();
    if (j.contains("pixel_threshold")) c.pixel_threshold = j.at("pixel_threshold").get<double>();
    if (j.contains("scales")) {
      c.flow_scale = j.at("scales").at("flow").get<double>();
      c.gaussian_scale = j.at("scales").at("gaussian").get<double>();
    }
    if (j.contains("int8_activation_max"))  // absent before the int8 backbone
      c.int8_activation_max = j.at("int8_activation_max").get<std::vector<double>>();
    if (j.contains("arithmetics")) {
      const json& a = j.at("arithmetics");
      if (!a.is_object()) throw Error("calibration is malformed: 'arithmetics' is not an object");
      for (const auto& [name, t] : a.items()) c.arithmetics[name] = threshold_from_json(t);
    }
  } catch (const json::exception& e) {
    throw Error(std::string("calibration is malformed: ") + e.what());
  }
  c.validate();
  return c;
}

void Calibration::validate() const {
  if (!calibrated) {
    if (!arithmetics.empty())
      throw Error("calibration is inconsistent: an uncalibrated model holds thresholds of other arithmetics "
                  "(recalibrate: differnet-calibrate MODEL GOOD_IMAGES)");
    return;  // the element refuses to run on it unless given a threshold
  }
  for (double scale : {flow_scale, gaussian_scale})
    if (!std::isfinite(scale) || scale < 0)
      throw Error("calibration is malformed: the combined score's scales must be finite and >= 0");
  if ((flow_scale > 0) != (gaussian_scale > 0))
    throw Error("calibration is malformed: the combined score needs both scales (flow and gaussian) or neither");
  if (int8_activation_max.size() > 64)
    throw Error("calibration is malformed: more than 64 int8 activation ranges");
  for (double r : int8_activation_max)
    if (!std::isfinite(r) || r <= 0)
      throw Error("calibration is malformed: the int8 activation ranges must be finite and > 0");
  if (transforms < 1)
    throw Error("calibration is inconsistent: it was computed at transforms=" + std::to_string(transforms) +
                " (T must be at least 1) (recalibrate: differnet-calibrate MODEL GOOD_IMAGES)");
  validate_threshold({threshold, good_count, good_mean, good_std, good_max, pixel_threshold}, "");
  for (const auto& [name, t] : arithmetics) {
    const auto slash = name.find('/');
    Precision backbone;
    FlowPrecision flow;
    bool named = slash != std::string::npos;
    try {
      named = named && parse_precision_choice(name.substr(0, slash), backbone) &&
              parse_flow_precision_choice(name.substr(slash + 1), flow) && arithmetic_name(backbone, flow) == name &&
              name != "fp32/fp32";
    } catch (const Error&) {
      named = false;
    }
    if (!named)
      throw Error("calibration is malformed: '" + name + "' is not an arithmetic other than fp32/fp32 "
                  "(BACKBONE/FLOW, e.g. bf16/int8)");
    validate_threshold(t, "in " + name + ": ");
  }
}

}  // namespace differnet
