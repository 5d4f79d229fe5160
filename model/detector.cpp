#include "detector.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include "error.h"
#include "model.h"
#include "preprocess.h"
#include "runtime.h"
#include "scoring.h"
#include "sha256.h"

namespace differnet {

struct UploadedFrame::Impl {
  at::Tensor pixels;  // [h,w,bpp] uint8 on the model's device
  PixelFormat format;
  Region region;
  double upload_ms;
};

UploadedFrame::UploadedFrame() = default;
UploadedFrame::~UploadedFrame() = default;
UploadedFrame::UploadedFrame(UploadedFrame&&) noexcept = default;
UploadedFrame& UploadedFrame::operator=(UploadedFrame&&) noexcept = default;
bool UploadedFrame::empty() const { return !impl_; }
Region UploadedFrame::region() const { return impl_ ? impl_->region : Region{}; }

struct Detector::Impl {
  Model model;
  ModelSummary summary;
  at::Device device;
  bool synchronize_stages;
  std::mutex scoring;  // score() from several threads (elements sharing one model) runs one at a time
};

Detector::Detector(const DetectorOptions& options) try {
  const std::string device_name = resolve_device(options.device);  // before the (slow) load
  const Precision precision = parse_precision(options.precision);
  check_precision(device_name, precision);
  set_threads(options.threads);
  Model model = load_model(options.model_path);
  model.prepare_for_inference(device_name, precision);
  const at::Device device(device_name);
  ModelSummary s;
  s.path = options.model_path;
  s.model_id = sha256_file_hex(options.model_path).substr(0, 12);
  s.backbone = model.config.backbone;
  s.device = device_name;
  s.precision = precision_name(precision);
  s.input_size = model.config.input_size;
  s.feature_dim = model.config.feature_dim();
  s.flow_blocks = model.config.flow.blocks;
  s.flow_width = model.config.flow.width;
  s.calibrated = model.calibration.calibrated;
  s.threshold = s.calibrated ? model.calibration.threshold : std::numeric_limits<double>::quiet_NaN();
  s.calibrated_transforms = model.calibration.transforms;
  impl_.reset(new Impl{std::move(model), s, device, options.synchronize_stages, {}});
} catch (const c10::Error& e) {
  throw Error("model '" + options.model_path + "' cannot be set up: " + without_backtrace(e.what()));
}

Detector::~Detector() = default;

const ModelSummary& Detector::summary() const { return impl_->summary; }

namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

UploadedFrame Detector::upload(const FrameView& frame, const DetectRequest& request) const {
  const auto t0 = Clock::now();
  UploadedFrame out;
  try {
    at::Tensor pixels = upload_region(frame, request.region, impl_->device);
    if (impl_->synchronize_stages) synchronize(impl_->summary.device);
    out.impl_.reset(new UploadedFrame::Impl{pixels, frame.format, effective_region(frame, request.region),
                                            ms_between(t0, Clock::now())});
  } catch (const c10::Error& e) {
    throw Error("uploading the frame failed: " + without_backtrace(e.what()));
  }
  return out;
}

Detection Detector::score(const UploadedFrame& frame, const DetectRequest& request) {
  if (frame.empty()) throw Error("score() was given an empty UploadedFrame");
  std::lock_guard<std::mutex> lock(impl_->scoring);
  try {
    return score_checked(frame, request);
  } catch (const c10::Error& e) {  // LibTorch's own failures (out of memory, ...) become our Error
    throw Error("inference failed: " + without_backtrace(e.what()));
  }
}

Detection Detector::detect(const FrameView& frame, const DetectRequest& request) {
  return score(upload(frame, request), request);
}

Detection Detector::score_checked(const UploadedFrame& frame, const DetectRequest& request) {
  if (request.heatmap_size < 0 || request.heatmap_size > 4096)
    throw Error("heatmap size must be in 0..4096, got " + std::to_string(request.heatmap_size));
  const auto t0 = Clock::now();
  const std::vector<double> angles = test_time_angles(request.transforms);
  const ModelConfig& config = impl_->model.config;
  at::Tensor copies;
  {
    at::NoGradGuard no_grad;
    at::Tensor rgb = pixels_to_rgb(frame.impl_->pixels, frame.impl_->format);
    copies = make_copies(resize_antialiased(rgb, config.input_size), angles, config);
  }
  if (impl_->synchronize_stages) synchronize(impl_->summary.device);
  Detection d;
  d.times.upload_ms = frame.impl_->upload_ms;
  d.times.preprocess_ms = ms_between(t0, Clock::now());
  ScoreResult r = score_copies(impl_->model, copies, angles, request.localize, impl_->synchronize_stages);
  if (!std::isfinite(r.score))  // fail closed: a NaN would compare as "not anomalous"
    throw Error("the model gave a non-finite score (" + std::to_string(r.score) +
                ") for this frame: its weights or the frame's features overflow; the frame cannot be judged good");
  d.score = r.score;
  d.threshold = request.threshold >= 0 ? request.threshold : impl_->summary.threshold;
  d.anomaly = !std::isnan(d.threshold) && d.score >= d.threshold;
  d.times.backbone_ms = r.backbone_ms;
  d.times.flow_ms = r.flow_ms;
  d.times.localization_ms = r.localization_ms;
  const bool localize = request.localize || (request.localize_on_anomaly && d.anomaly);
  if (localize && !request.localize) {  // on-anomaly: the gradient pass now, on the same copies
    ScoreResult again = score_copies(impl_->model, copies, angles, true, impl_->synchronize_stages);
    r.map = again.map;
    d.times.localization_ms = again.backbone_ms + again.flow_ms + again.localization_ms;
  }
  if (localize) {
    at::Tensor map = r.map;
    if (request.heatmap_size > 0 && request.heatmap_size != map.size(0))
      map = at::adaptive_avg_pool2d(map.unsqueeze(0).unsqueeze(0), {request.heatmap_size, request.heatmap_size})[0][0];
    map = map.to(at::kCPU, at::kFloat).contiguous();
    d.heatmap.height = static_cast<int>(map.size(0));
    d.heatmap.width = static_cast<int>(map.size(1));
    d.heatmap.values.assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
  }
  d.times.total_ms = frame.impl_->upload_ms + ms_between(t0, Clock::now());
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
