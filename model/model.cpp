#include "model.h"

#include "error.h"
#include "safetensors.h"

namespace differnet {

namespace {
const char* kFormat = "differnet-model";
const std::string kBackbonePrefix = "backbone.";
}  // namespace

Model Model::create(const ModelConfig& config, Backbone backbone, uint64_t seed) {
  config.validate();
  Extractor extractor(std::move(backbone), config);
  Flow flow(config.flow, config.feature_dim(), seed);
  return Model{config, Calibration{}, std::move(extractor), std::move(flow)};
}

void Model::to(const at::Device& device, Precision precision) {
  const at::ScalarType dtype = precision == Precision::FP16   ? at::kHalf
                               : precision == Precision::BF16 ? at::kBFloat16
                                                              : at::kFloat;
  extractor.to(device, dtype);
  flow.to(device);
}

void Model::prepare_for_inference(const std::string& device_name, Precision precision) {
  check_precision(device_name, precision);
  configure_device(device_name, /*allow_tf32=*/precision != Precision::FP32);
  to(at::Device(device_name), precision);
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
    TensorMap backbone_tensors, flow_tensors;
    for (const auto& [name, stored] : file.tensors) {
      if (stored.dtype != "F32") throw Error("tensor '" + name + "' has dtype " + stored.dtype + ", expected F32");
      if (name.rfind(kBackbonePrefix, 0) == 0) backbone_tensors[name.substr(kBackbonePrefix.size())] = from_stored(stored);
      else if (name.rfind("flow.", 0) == 0) flow_tensors[name] = from_stored(stored);
      else throw Error("unexpected tensor '" + name + "'");
    }
    Backbone backbone = Backbone::from_tensors(config.backbone, backbone_tensors);
    Extractor extractor(std::move(backbone), config);
    Flow flow(config.flow, config.feature_dim(), std::nullopt);
    flow.load(flow_tensors);
    return Model{config, calibration, std::move(extractor), std::move(flow)};
  } catch (const Error& e) {
    throw Error("model file '" + path + "': " + e.what());
  }
}

void save_model(const Model& model, const std::string& path) {
  SafetensorsFile file;
  for (const auto& [name, t] : model.extractor.backbone().trunk_tensors()) file.tensors[kBackbonePrefix + name] = to_stored(t);
  for (const auto& [name, t] : model.flow.named_tensors()) file.tensors[name] = to_stored(t);
  file.metadata = {{"format", kFormat},
                   {"format_version", std::to_string(kModelFormatVersion)},
                   {"config", model.config.to_json()},
                   {"calibration", model.calibration.to_json()}};
  write_safetensors(path, file);
}

}  // namespace differnet
