#include "model.h"

#include "error.h"
#include "safetensors.h"
#include "sha256.h"

namespace differnet {

namespace {
const char* kFormat = "differnet-model";
const std::string kBackbonePrefix = "backbone.";
const char* kDigestKey = "tensor_sha256";

// SHA-256 of every tensor's bytes, in name order (the order save_model writes them in).
std::string tensor_digest(const std::map<std::string, StoredTensor>& tensors) {
  std::vector<ByteRange> parts;
  for (const auto& [name, t] : tensors) parts.push_back({t.bytes.data(), t.bytes.size()});
  return sha256_hex(parts);
}

// A NaN or Inf weight makes every score NaN, and a NaN compares as "not anomalous": refuse it here.
void check_finite(const std::string& name, const at::Tensor& t) {
  const int64_t bad = t.numel() - at::isfinite(t).sum().item<int64_t>();
  if (bad > 0)
    throw Error("tensor '" + name + "' holds " + std::to_string(bad) + " non-finite value(s) (NaN or Inf); a model with "
                "such weights scores every frame NaN and must not be used");
}
}  // namespace

Model Model::create(const ModelConfig& config, Backbone backbone, uint64_t seed) {
  config.validate();
  Extractor extractor(std::move(backbone), config);
  Flow flow(config.flow, config.feature_dim(), seed);
  return Model{config, Calibration{}, std::move(extractor), std::move(flow), PooledGaussian{}};
}

void Model::to(const at::Device& device, Precision precision) {
  const at::ScalarType dtype = precision == Precision::FP16   ? at::kHalf
                               : precision == Precision::BF16 ? at::kBFloat16
                                                              : at::kFloat;
  extractor.to(device, dtype);
  flow.to(device);
  gaussian.to(device);
  if (precision == Precision::INT8) {
    if (!device.is_cpu()) throw Error("precision int8 runs on the CPU only");
    if (calibration.int8_activation_max.empty() && Backbone::runs_int8(config.backbone))
      throw Error("precision int8: this model holds no int8 activation ranges (they are measured when it is "
                  "calibrated on a CPU: differnet-calibrate MODEL GOOD_IMAGES); use fp32");
    extractor.backbone().set_int8(calibration.int8_activation_max);
  }
}

void Model::prepare_for_inference(const std::string& device_name, Precision precision, FlowPrecision flow_precision) {
  check_precision(device_name, precision);
  configure_device(device_name, /*allow_tf32=*/precision != Precision::FP32);
  to(at::Device(device_name), precision);
  flow.set_inference_precision(flow_precision);
}

at::Device Model::device() const { return flow.parameters().front().device(); }

Model load_model(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  auto meta = [&](const std::string& key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) throw Error("model file '" + path + "': metadata has no '" + key + "' (not a DifferNet model file?)");
    return it->second;
  };
  if (meta("format") != kFormat)
    throw Error("model file '" + path + "': format is '" + meta("format") + "', expected '" + kFormat + "'");
  const std::string version = meta("format_version");
  if (version != std::to_string(kModelFormatVersion))
    throw Error("model file '" + path + "': format version " + version + " is unknown (this build reads version " +
                std::to_string(kModelFormatVersion) + ")");
  try {
    ModelConfig config = ModelConfig::from_json(meta("config"));
    Calibration calibration = Calibration::from_json(meta("calibration"));
    TensorMap backbone_tensors, flow_tensors, norm_tensors, local_tensors, gaussian_tensors;
    std::vector<std::pair<std::string, at::Tensor>> converted;  // every tensor, for the finiteness check
    for (const auto& [name, stored] : file.tensors) {
      if (stored.dtype != "F32") throw Error("tensor '" + name + "' has dtype " + stored.dtype + ", expected F32");
      at::Tensor t = from_stored(stored);
      converted.emplace_back(name, t);
      if (name.rfind(kBackbonePrefix, 0) == 0) backbone_tensors[name.substr(kBackbonePrefix.size())] = t;
      else if (name.rfind("flow.", 0) == 0) flow_tensors[name] = t;
      else if (name.rfind("local.", 0) == 0) local_tensors[name] = t;
      else if (config.image_score.gaussian && (name == "gaussian.mean" || name == "gaussian.matrix")) gaussian_tensors[name] = t;
      else if (config.standardize && (name == "norm.mean" || name == "norm.std")) norm_tensors[name] = t;
      else if (config.whiten && (name == "norm.whiten_mean" || name == "norm.whiten")) norm_tensors[name] = t;
      else throw Error("unexpected tensor '" + name + "'");
    }
    Backbone backbone = Backbone::from_tensors(config.backbone, backbone_tensors);
    Extractor extractor(std::move(backbone), config);
    if (config.standardize) {
      if (!norm_tensors.count("norm.mean") || !norm_tensors.count("norm.std"))
        throw Error("the configuration standardises features but norm.mean/norm.std are missing");
      extractor.set_standardization(norm_tensors.at("norm.mean"), norm_tensors.at("norm.std"));
    }
    if (config.whiten) {
      if (!norm_tensors.count("norm.whiten_mean") || !norm_tensors.count("norm.whiten"))
        throw Error("the configuration whitens features but norm.whiten_mean/norm.whiten are missing");
      extractor.set_whitening(norm_tensors.at("norm.whiten_mean"), norm_tensors.at("norm.whiten"));
    }
    extractor.local().load(local_tensors);  // none without a local scorer
    // A first model of learn mode stores no flow (it was never trained): an unused one stands in.
    const bool flow_stored = config.image_score.flow_trained;
    Flow flow(config.flow, config.feature_dim(), flow_stored ? std::nullopt : std::optional<uint64_t>(0));
    if (flow_stored) flow.load(flow_tensors);
    else if (!flow_tensors.empty())
      throw Error("unexpected tensor '" + flow_tensors.begin()->first + "' (the configuration says the flow is not trained)");
    // Files written since format version 1 was extended carry a digest of their tensor data: a flipped
    // byte anywhere in the weights is then caught here rather than seen as odd scores on the line.
    if (auto it = file.metadata.find(kDigestKey); it != file.metadata.end()) {
      const std::string actual = tensor_digest(file.tensors);
      if (actual != it->second)
        throw Error("its tensor data does not match the digest stored in it (SHA-256 " +
                    actual.substr(0, 12) + "..., stored " + it->second.substr(0, 12) +
                    "...): the file is damaged or was changed after it was written");
    }
    PooledGaussian gaussian;
    if (config.image_score.gaussian) gaussian.load(gaussian_tensors, config.feature_dim());
    if (config.image_score.method == "combined" && calibration.calibrated && !(calibration.flow_scale > 0))
      throw Error("the combined image score needs the calibration's scales (recalibrate: differnet-calibrate MODEL GOOD_IMAGES)");
    for (const auto& [name, t] : converted) check_finite(name, t);
    return Model{config, calibration, std::move(extractor), std::move(flow), std::move(gaussian)};
  } catch (const Error& e) {
    throw Error("model file '" + path + "': " + e.what());
  }
}

void save_model(const Model& model, const std::string& path) {
  SafetensorsFile file;
  for (const auto& [name, t] : model.extractor.backbone().trunk_tensors()) file.tensors[kBackbonePrefix + name] = to_stored(t);
  if (model.config.image_score.flow_trained)  // an untrained flow (learn mode's first model) is not stored
    for (const auto& [name, t] : model.flow.named_tensors()) file.tensors[name] = to_stored(t);
  if (model.extractor.standardizes()) {
    file.tensors["norm.mean"] = to_stored(model.extractor.feature_mean());
    file.tensors["norm.std"] = to_stored(model.extractor.feature_std());
  }
  if (model.extractor.whitens()) {
    file.tensors["norm.whiten_mean"] = to_stored(model.extractor.whitening_centre());
    file.tensors["norm.whiten"] = to_stored(model.extractor.whitening_matrix());
  }
  if (model.config.image_score.gaussian) {
    if (!model.gaussian.fitted()) throw Error("the model's pooled Gaussian is not fitted and cannot be saved");
    for (const auto& [name, t] : model.gaussian.named_tensors()) file.tensors[name] = to_stored(t);
  }
  if (model.extractor.local().enabled()) {
    if (!model.extractor.local().fitted())
      throw Error("the model's local scorer is not fitted (fit_local_scorer) and cannot be saved");
    for (const auto& [name, t] : model.extractor.local().named_tensors()) file.tensors[name] = to_stored(t);
  }
  file.metadata = {{"format", kFormat},
                   {"format_version", std::to_string(kModelFormatVersion)},
                   {"config", model.config.to_json()},
                   {"calibration", model.calibration.to_json()}};
  file.metadata[kDigestKey] = tensor_digest(file.tensors);
  write_safetensors(path, file);
}

}  // namespace differnet
