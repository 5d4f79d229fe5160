#include "detector.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include "arithmetic_calibration.h"
#include "error.h"
#include "metrics.h"
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
  {  // names checked before the load too
    Precision p;
    FlowPrecision f;
    if (parse_precision_choice(options.precision, p)) check_precision(device_name, p);
    parse_flow_precision_choice(options.flow_precision, f);
  }
  set_threads(options.threads);
  Model model = load_model(options.model_path);
  const ChosenArithmetic chosen =
      choose_arithmetic(options.precision, options.flow_precision, device_name, model.calibration,
                        model.extractor.backbone().architecture());
  const Precision precision = chosen.backbone;
  const FlowPrecision flow_precision = chosen.flow;
  model.prepare_for_inference(device_name, precision, flow_precision);
  const at::Device device(device_name);
  ModelSummary s;
  s.path = options.model_path;
  s.model_id = sha256_file_hex(options.model_path).substr(0, 12);
  s.backbone = model.config.backbone;
  s.device = device_name;
  s.precision = precision_name(precision);
  s.flow_precision = flow_precision_name(flow_precision);
  s.input_size = model.config.input_size;
  s.feature_dim = model.config.feature_dim();
  s.flow_blocks = model.config.flow.blocks;
  s.flow_width = model.config.flow.width;
  s.calibrated = model.calibration.calibrated;
  s.threshold = model.calibration.threshold_for(chosen.threshold_arithmetic);
  s.threshold_arithmetic = chosen.threshold_arithmetic;
  s.pixel_threshold = model.calibration.pixel_threshold_for(chosen.threshold_arithmetic);
  s.precision_note = chosen.note;
  s.tiles = model.config.tiles;
  s.tile_overlap = model.config.tile_overlap;
  s.calibrated_transforms = model.calibration.transforms;
  s.local_scorer = model.extractor.local().enabled() && model.extractor.local().fitted();
  s.image_score = model.config.image_score.method;
  s.flow_trained = model.config.image_score.flow_trained;
  if (s.image_score == "combined" && !model.calibration.calibrated)
    throw Error("model '" + options.model_path + "' combines the flow's and the Gaussian's scores, which needs its "
                "calibration (their scales); this file is uncalibrated: differnet-calibrate MODEL GOOD_IMAGES");
  impl_.reset(new Impl{std::move(model), s, device, options.synchronize_stages, {}});
} catch (const c10::Error& e) {
  throw Error("model '" + options.model_path + "' cannot be set up: " + without_backtrace(e.what()));
}

Detector::~Detector() = default;

const ModelSummary& Detector::summary() const { return impl_->summary; }

const char* localization_name(Localization l) {
  switch (l) {
    case Localization::Gradient: return "gradient";
    case Localization::Local: return "local";
    default: return "auto";
  }
}

Localization parse_localization(const std::string& name) {
  if (name == "auto") return Localization::Auto;
  if (name == "gradient") return Localization::Gradient;
  if (name == "local") return Localization::Local;
  throw Error("unknown localization '" + name + "' (auto, gradient or local)");
}

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
  BatchItem item;
  item.frame = &frame;
  item.request = request;
  std::vector<BatchItem*> items{&item};
  score_batch(items);
  if (!item.error.empty()) throw Error(item.error);
  return std::move(item.detection);
}

namespace {
// The grid a request asks for over `area`: its own tiling, or the model's.
MapMethod resolve_method(const DetectRequest& request, const ModelSummary& model) {
  if (request.localization == Localization::Local && !model.local_scorer)
    throw Error("localization 'local' needs a model with a local scorer; this model has none (train it with "
                "differnet-train --local yes, or use localization 'gradient' or 'auto')");
  return request.localization == Localization::Gradient || !model.local_scorer ? MapMethod::Gradient : MapMethod::Local;
}

// What decides whether two frames can share a pass: the gradient pass, the local map from the forward
// pass, or the score alone.
int pass_kind(const DetectRequest& r, const ModelSummary& model) {
  const MapMethod m = resolve_method(r, model);
  if (r.localize) return m == MapMethod::Local ? 1 : 2;
  return m == MapMethod::Local && r.localize_on_anomaly ? 1 : 0;
}

// The hottest pixel of `map` ([H,W], covering `area`) as frame pixels: its centre.
void set_peak(Detection& d, const at::Tensor& map, const Region& area) {
  const int64_t h = map.size(0), w = map.size(1);
  const int64_t i = map.reshape({-1}).argmax().item<int64_t>();
  d.peak_x = area.x + static_cast<int>(std::min<double>(area.width - 1, ((i % w) + 0.5) * area.width / w));
  d.peak_y = area.y + static_cast<int>(std::min<double>(area.height - 1, ((i / w) + 0.5) * area.height / h));
}

// The defect regions of a local heatmap covering `area` (Detection::defects).
void find_defects(Detection& d, const Region& area, double pixel_threshold) {
  if (!d.heatmap.local || d.heatmap.values.empty() || std::isnan(pixel_threshold)) return;
  const int w = d.heatmap.width, h = d.heatmap.height;
  std::vector<int> mask(d.heatmap.values.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = d.heatmap.values[i] >= pixel_threshold;
  std::vector<int> regions;
  const int n = label_regions(mask, w, h, regions);
  if (n == 0) return;
  std::vector<int> x0(n, w), y0(n, h), x1(n, -1), y1(n, -1);
  std::vector<double> peak(n, -std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < regions.size(); ++i) {
    const int k = regions[i] - 1;
    if (k < 0) continue;
    const int x = static_cast<int>(i % w), y = static_cast<int>(i / w);
    x0[k] = std::min(x0[k], x), y0[k] = std::min(y0[k], y), x1[k] = std::max(x1[k], x), y1[k] = std::max(y1[k], y);
    peak[k] = std::max(peak[k], static_cast<double>(d.heatmap.values[i]));
  }
  for (int k = 0; k < n; ++k) {
    // Heatmap cells to frame pixels: a cell covers area.width / w pixels.
    const int left = area.x + static_cast<int>(std::floor(static_cast<double>(x0[k]) * area.width / w));
    const int top = area.y + static_cast<int>(std::floor(static_cast<double>(y0[k]) * area.height / h));
    const int right = area.x + static_cast<int>(std::ceil(static_cast<double>(x1[k] + 1) * area.width / w));
    const int bottom = area.y + static_cast<int>(std::ceil(static_cast<double>(y1[k] + 1) * area.height / h));
    d.defects.push_back({Region{left, top, std::min(right, area.x + area.width) - left,
                                std::min(bottom, area.y + area.height) - top},
                         peak[k]});
  }
  std::sort(d.defects.begin(), d.defects.end(),
            [](const DefectRegion& a, const DefectRegion& b) { return a.peak > b.peak; });
}

TileGrid resolve_grid(const DetectRequest& request, const ModelConfig& config, const Region& area) {
  const std::string tiles = request.tiles.empty() ? config.tiles : request.tiles;
  const double overlap = request.tile_overlap >= 0 ? request.tile_overlap : config.tile_overlap;
  if (tiles == "auto") return auto_grid(area.width, area.height, config.input_size, overlap);
  return TileGrid::parse(tiles, overlap);
}
}  // namespace

void Detector::score_batch(std::vector<BatchItem*>& items) {
  std::lock_guard<std::mutex> lock(impl_->scoring);
  // Checks each item and scores the tiled ones alone; the others wait in `plain` for their group.
  std::vector<BatchItem*> plain;
  for (BatchItem* item : items) {
    item->error.clear();
    item->batch_frames = 1;
    try {
      if (!item->frame || item->frame->empty()) throw Error("score() was given an empty UploadedFrame");
      const DetectRequest& r = item->request;
      if (r.heatmap_size < 0 || r.heatmap_size > 4096)
        throw Error("heatmap size must be in 0..4096, got " + std::to_string(r.heatmap_size));
      test_time_angles(r.transforms);  // throws for T < 1
      resolve_method(r, impl_->summary);  // throws for local without a local scorer
      const TileGrid grid = resolve_grid(r, impl_->model.config, item->frame->impl_->region);
      if (grid.tiled())
        item->detection = score_tiled(*item->frame, r, grid);
      else
        plain.push_back(item);
    } catch (const c10::Error& e) {  // LibTorch's own failures (out of memory, ...) become our Error
      item->error = "inference failed: " + without_backtrace(e.what());
    } catch (const std::exception& e) {
      item->error = e.what();
    }
  }
  // Groups of the same T and localization, in arrival order of their first item.
  std::vector<bool> taken(plain.size(), false);
  for (size_t i = 0; i < plain.size(); ++i) {
    if (taken[i]) continue;
    std::vector<BatchItem*> group;
    for (size_t j = i; j < plain.size(); ++j)
      if (!taken[j] && plain[j]->request.transforms == plain[i]->request.transforms &&
          pass_kind(plain[j]->request, impl_->summary) == pass_kind(plain[i]->request, impl_->summary)) {
        taken[j] = true;
        group.push_back(plain[j]);
      }
    try {
      score_group(group);
    } catch (const c10::Error& e) {
      for (BatchItem* item : group) item->error = "inference failed: " + without_backtrace(e.what());
    } catch (const std::exception& e) {
      for (BatchItem* item : group) item->error = e.what();
    }
  }
}

Detection Detector::detect(const FrameView& frame, const DetectRequest& request) {
  return score(upload(frame, request), request);
}

namespace {
void check_finite_score(double score) {
  if (!std::isfinite(score))  // fail closed: a NaN would compare as "not anomalous"
    throw Error("the model gave a non-finite score (" + std::to_string(score) +
                ") for this frame: its weights or the frame's features overflow; the frame cannot be judged good");
}

// The tiles' maps ([S,S] each) stitched over the area at `side` px per tile, overlaps averaged; the
// stitched map's longer side is kept within 4096.
at::Tensor stitch(const std::vector<at::Tensor>& maps, const std::vector<Region>& tiles, const Region& area, int side) {
  const double tile_w = tiles[0].width, tile_h = tiles[0].height;
  const double longest = std::max(area.width / tile_w, area.height / tile_h) * side;
  if (longest > 4096) side = std::max(1, static_cast<int>(side * 4096 / longest));
  const double sx = side / tile_w, sy = side / tile_h;
  const int64_t W = std::max<int64_t>(1, std::lround(area.width * sx)), H = std::max<int64_t>(1, std::lround(area.height * sy));
  at::Tensor sum = at::zeros({H, W}, maps[0].options().dtype(at::kFloat));
  at::Tensor count = at::zeros({H, W}, sum.options());
  for (size_t i = 0; i < maps.size(); ++i) {
    const int64_t x0 = std::min<int64_t>(std::lround((tiles[i].x - area.x) * sx), W - 1);
    const int64_t y0 = std::min<int64_t>(std::lround((tiles[i].y - area.y) * sy), H - 1);
    const int64_t w = std::min<int64_t>(side, W - x0), h = std::min<int64_t>(side, H - y0);
    at::Tensor m = at::adaptive_avg_pool2d(maps[i].to(at::kFloat).unsqueeze(0).unsqueeze(0), {side, side})[0][0];
    sum.slice(0, y0, y0 + h).slice(1, x0, x0 + w) += m.slice(0, 0, h).slice(1, 0, w);
    count.slice(0, y0, y0 + h).slice(1, x0, x0 + w) += 1;
  }
  return sum / count.clamp_min(1);
}
}  // namespace

Detection Detector::score_tiled(const UploadedFrame& frame, const DetectRequest& request, const TileGrid& grid) {
  const auto t0 = Clock::now();
  const Model& model = impl_->model;
  const ModelConfig& config = model.config;
  const Region area = frame.impl_->region;
  const std::vector<double> angles = test_time_angles(request.transforms);
  std::vector<Region> tiles = tile_regions(Region{0, 0, area.width, area.height}, grid);
  std::vector<at::Tensor> copies;  // per tile: [T,3,S,S]
  {
    at::NoGradGuard no_grad;
    const at::Tensor rgb = pixels_to_rgb(frame.impl_->pixels, frame.impl_->format);
    for (const Region& t : tiles)
      copies.push_back(make_copies(
          resize_antialiased(rgb.slice(2, t.y, t.y + t.height).slice(3, t.x, t.x + t.width), config.input_size), angles,
          config));
  }
  for (Region& t : tiles) t.x += area.x, t.y += area.y;  // frame pixels from here on
  if (impl_->synchronize_stages) synchronize(impl_->summary.device);
  Detection d;
  d.times.upload_ms = frame.impl_->upload_ms;
  d.times.preprocess_ms = ms_between(t0, Clock::now());
  std::vector<at::Tensor> maps;
  const MapMethod method = resolve_method(request, impl_->summary);
  // The local map comes with the forward pass: made for every tile when it may be wanted.
  const bool forward_map = method == MapMethod::Local && (request.localize || request.localize_on_anomaly);
  auto localize_tiles = [&](StageTimes& times) {
    for (const at::Tensor& c : copies) {
      ScoreResult r = score_copies(model, c, angles, true, impl_->synchronize_stages, method);
      if (d.tile_scores.size() < copies.size()) d.tile_scores.push_back(r.score);
      if (!std::isnan(r.local_score)) d.local_score = std::isnan(d.local_score) ? r.local_score : std::max(d.local_score, r.local_score);
      maps.push_back(r.map);
      times.backbone_ms += r.backbone_ms;
      times.flow_ms += r.flow_ms;
      times.localization_ms += r.localization_ms;
    }
  };
  if (request.localize || forward_map) {
    localize_tiles(d.times);
  } else {  // every tile's copies in one backbone batch and one flow batch
    at::NoGradGuard no_grad;
    const auto tb = Clock::now();
    const at::Tensor features = model.extractor.features(at::cat(copies, 0));
    if (impl_->synchronize_stages) synchronize(impl_->summary.device);
    d.times.backbone_ms = ms_between(tb, Clock::now());
    const auto tf = Clock::now();
    const at::Tensor scores = scores_from_features(model, features, static_cast<int64_t>(angles.size())).to(at::kCPU, at::kDouble);
    d.times.flow_ms = ms_between(tf, Clock::now());
    d.tile_scores.assign(scores.data_ptr<double>(), scores.data_ptr<double>() + scores.numel());
  }
  for (double s : d.tile_scores) check_finite_score(s);
  d.worst_tile = static_cast<int>(std::max_element(d.tile_scores.begin(), d.tile_scores.end()) - d.tile_scores.begin());
  d.score = d.tile_scores[static_cast<size_t>(d.worst_tile)];
  d.tiles = tiles;
  d.threshold = request.threshold >= 0 ? request.threshold : impl_->summary.threshold;
  d.anomaly = !std::isnan(d.threshold) && d.score >= d.threshold;
  if (!request.localize && request.localize_on_anomaly && d.anomaly && !forward_map) {  // the gradient pass now
    StageTimes extra;
    localize_tiles(extra);
    d.times.localization_ms = extra.backbone_ms + extra.flow_ms + extra.localization_ms;
  }
  if (!maps.empty() && (request.localize || (request.localize_on_anomaly && d.anomaly))) {
    const int side = request.heatmap_size > 0 ? request.heatmap_size : config.input_size;
    const at::Tensor map = stitch(maps, d.tiles, area, side).to(at::kCPU).contiguous();
    set_peak(d, map, area);
    d.heatmap.local = method == MapMethod::Local;
    d.heatmap.height = static_cast<int>(map.size(0));
    d.heatmap.width = static_cast<int>(map.size(1));
    d.heatmap.values.assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
    find_defects(d, area, impl_->summary.pixel_threshold);
  }
  d.times.total_ms = frame.impl_->upload_ms + ms_between(t0, Clock::now());
  return d;
}

void Detector::score_group(const std::vector<BatchItem*>& items) {
  const auto t0 = Clock::now();
  const DetectRequest& first = items[0]->request;
  const std::vector<double> angles = test_time_angles(first.transforms);
  const ModelConfig& config = impl_->model.config;
  std::vector<at::Tensor> copies;  // per frame: [T,3,S,S]
  {
    at::NoGradGuard no_grad;
    for (const BatchItem* item : items)
      copies.push_back(make_copies(resize_antialiased(pixels_to_rgb(item->frame->impl_->pixels, item->frame->impl_->format),
                                                      config.input_size),
                                   angles, config));
  }
  if (impl_->synchronize_stages) synchronize(impl_->summary.device);
  const double preprocess_ms = ms_between(t0, Clock::now());
  const int64_t n = static_cast<int64_t>(items.size());
  const MapMethod method = resolve_method(first, impl_->summary);
  const bool forward_map = method == MapMethod::Local && (first.localize || first.localize_on_anomaly);
  std::vector<ScoreResult> results = score_copies_batch(impl_->model, n == 1 ? copies[0] : at::cat(copies, 0), angles,
                                                        n, first.localize || forward_map, impl_->synchronize_stages, method);
  for (size_t i = 0; i < items.size(); ++i) {
    BatchItem& item = *items[i];
    const DetectRequest& request = item.request;
    ScoreResult& r = results[i];
    item.batch_frames = static_cast<int>(n);
    try {
      check_finite_score(r.score);
      Detection d;
      d.times.upload_ms = item.frame->impl_->upload_ms;
      d.times.preprocess_ms = preprocess_ms;
      d.score = r.score;
      d.threshold = request.threshold >= 0 ? request.threshold : impl_->summary.threshold;
      d.anomaly = !std::isnan(d.threshold) && d.score >= d.threshold;
      d.times.backbone_ms = r.backbone_ms;
      d.times.flow_ms = r.flow_ms;
      d.times.localization_ms = r.localization_ms;
      d.local_score = r.local_score;
      const bool localize = request.localize || (request.localize_on_anomaly && d.anomaly);
      if (localize && !request.localize && !forward_map) {  // on-anomaly: the gradient pass now, on the same copies
        ScoreResult again = score_copies(impl_->model, copies[i], angles, true, impl_->synchronize_stages);
        r.map = again.map;
        d.times.localization_ms = again.backbone_ms + again.flow_ms + again.localization_ms;
      }
      if (localize) {
        at::Tensor map = r.map;
        set_peak(d, map, item.frame->impl_->region);
        d.heatmap.local = method == MapMethod::Local;
        if (request.heatmap_size > 0 && request.heatmap_size != map.size(0))
          map = at::adaptive_avg_pool2d(map.unsqueeze(0).unsqueeze(0), {request.heatmap_size, request.heatmap_size})[0][0];
        map = map.to(at::kCPU, at::kFloat).contiguous();
        d.heatmap.height = static_cast<int>(map.size(0));
        d.heatmap.width = static_cast<int>(map.size(1));
        d.heatmap.values.assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
        find_defects(d, item.frame->impl_->region, impl_->summary.pixel_threshold);
      }
      d.times.total_ms = item.frame->impl_->upload_ms + ms_between(t0, Clock::now());
      item.detection = std::move(d);
    } catch (const c10::Error& e) {
      item.error = "inference failed: " + without_backtrace(e.what());
    } catch (const std::exception& e) {
      item.error = e.what();
    }
  }
}

void Detector::warm_up(const DetectRequest& request) {
  // A gray frame large enough for the request's tiles (64 px each), so that the tiled batch is warm too.
  const TileGrid grid = resolve_grid(request, impl_->model.config, Region{0, 0, 64, 64});
  const int w = 64 * grid.cols, h = 64 * grid.rows;
  std::vector<uint8_t> gray(static_cast<size_t>(w) * h, 128);
  FrameView frame{gray.data(), w, h, w, PixelFormat::GRAY8};
  DetectRequest r = request;
  r.region = Region{};
  detect(frame, r);
}

}  // namespace differnet
