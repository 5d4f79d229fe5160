// A whole DifferNet model: configuration, calibration, the frozen extractor and the flow, and its
// file format. A model file is one safetensors file: tensors "backbone.<name>" (the trunk weights)
// and "flow.block{k}.subnet{1,2}.fc{j}.{weight,bias}", with a local scorer "local.scale{k}.{matrix,offset}",
// with a pooled Gaussian "gaussian.{mean,matrix}",
// all F32; __metadata__ holds
// format = "differnet-model", format_version, config (JSON) and calibration (JSON).
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "config.h"
#include "error.h"
#include "extractor.h"
#include "flow.h"
#include "image_score.h"
#include "runtime.h"

namespace differnet {

struct Model {
  ModelConfig config;
  Calibration calibration;
  Extractor extractor;
  Flow flow;
  // The pooled Gaussian (config.image_score.gaussian): the image score "gaussian" and half of "combined".
  PooledGaussian gaussian;

  // A new model around `backbone`, with a freshly initialised flow (seeded).
  static Model create(const ModelConfig& config, Backbone backbone, uint64_t seed);
  // Moves the model to `device`; the backbone (only) in `precision`: the flow and the score stay fp32.
  // int8 (CPU) quantizes the backbone with the calibration's int8_activation_max; throws Error where
  // the model holds none (recalibrate) or the architecture has no int8 forward.
  void to(const at::Device& device, Precision precision = Precision::FP32);
  // to() for scoring: refuses a precision the device cannot run and sets the device up for it
  // (cuDNN autotuning; TF32 only when the precision is reduced anyway).
  // `flow_precision`: the flow's linear layers (device_name.h; int8 on the CPU only).
  void prepare_for_inference(const std::string& device, Precision precision,
                             FlowPrecision flow_precision = FlowPrecision::FP32);
  at::Device device() const;
};

// Reads and checks everything (container, format and version, configuration, every tensor's name,
// dtype and shape); throws Error naming the file and what is wrong. Loads onto the CPU.
Model load_model(const std::string& path);
// Writes atomically (temporary file, then rename).
void save_model(const Model& model, const std::string& path);

}  // namespace differnet
