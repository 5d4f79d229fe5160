#include "detector.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "error.h"
#include "model.h"
#include "preprocess.h"
#include "runtime.h"
#include "scoring.h"
#include "sha256.h"

namespace differnet {

struct Detector::Impl {
  Model model;
  ModelSummary summary;
  at::Device device;
};

Detector::Detector(const DetectorOptions& options) try {
  const std::string device_name = resolve_device(options.device);  // before the (slow) load
  set_threads(options.threads);
  Model model = load_model(options.model_path);
  at::Device device(device_name);
  model.to(device);
  ModelSummary s;
  s.path = options.model_path;
  s.model_id = sha256_file_hex(options.model_path).substr(0, 12);
  s.backbone = model.config.backbone;
  s.device = device_name;
  s.input_size = model.config.input_size;
  s.feature_dim = model.config.feature_dim();
  s.flow_blocks = model.config.flow.blocks;
  s.flow_width = model.config.flow.width;
  s.calibrated = model.calibration.calibrated;
  s.threshold = s.calibrated ? model.calibration.threshold : std::numeric_limits<double>::quiet_NaN();
  s.calibrated_transforms = model.calibration.transforms;
  impl_.reset(new Impl{std::move(model), s, device});
} catch (const c10::Error& e) {
  throw Error("model '" + options.model_path + "' cannot be set up: " + without_backtrace(e.what()));
}

Detector::~Detector() = default;

const ModelSummary& Detector::summary() const { return impl_->summary; }

Detection Detector::detect(const FrameView& frame, const DetectRequest& request) {
  try {
    return detect_checked(frame, request);
  } catch (const c10::Error& e) {  // LibTorch's own failures (out of memory, ...) become our Error
    throw Error("inference failed: " + without_backtrace(e.what()));
  }
}

Detection Detector::detect_checked(const FrameView& frame, const DetectRequest& request) {
  if (request.heatmap_size < 0 || request.heatmap_size > 4096)
    throw Error("heatmap size must be in 0..4096, got " + std::to_string(request.heatmap_size));
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const std::vector<double> angles = test_time_angles(request.transforms);
  const ModelConfig& config = impl_->model.config;
  at::Tensor copies;
  {
    at::NoGradGuard no_grad;
    at::Tensor levels = resize_antialiased(frame_to_rgb(frame, request.region).to(impl_->device), config.input_size);
    copies = make_copies(levels, angles, config);
  }
  Detection d;
  d.times.preprocess_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  ScoreResult r = score_copies(impl_->model, copies, angles, request.localize);
  d.score = r.score;
  d.threshold = request.threshold >= 0 ? request.threshold : impl_->summary.threshold;
  d.anomaly = !std::isnan(d.threshold) && d.score >= d.threshold;
  d.times.backbone_ms = r.backbone_ms;
  d.times.flow_ms = r.flow_ms;
  d.times.localization_ms = r.localization_ms;
  if (request.localize) {
    at::Tensor map = r.map;
    if (request.heatmap_size > 0 && request.heatmap_size != map.size(0))
      map = at::adaptive_avg_pool2d(map.unsqueeze(0).unsqueeze(0), {request.heatmap_size, request.heatmap_size})[0][0];
    map = map.to(at::kCPU, at::kFloat).contiguous();
    d.heatmap.height = static_cast<int>(map.size(0));
    d.heatmap.width = static_cast<int>(map.size(1));
    d.heatmap.values.assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
  }
  d.times.total_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  return d;
}

void Detector::warm_up(const DetectRequest& request) {
  std::vector<uint8_t> gray(64 * 64, 128);
  FrameView frame{gray.data(), 64, 64, 64, PixelFormat::GRAY8};
  DetectRequest r = request;
  r.region = Region{};
  detect(frame, r);
}

}  // namespace differnet
