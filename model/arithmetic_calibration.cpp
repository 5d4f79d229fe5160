#include "arithmetic_calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "calibration.h"
#include "error.h"
#include "preprocess.h"
#include "scoring.h"

namespace differnet {

std::pair<Precision, FlowPrecision> parse_arithmetic(const std::string& name, const std::string& device) {
  const auto slash = name.find('/');
  if (slash == std::string::npos) throw Error("arithmetic '" + name + "' is not BACKBONE/FLOW (e.g. bf16/int8)");
  const Precision b = parse_precision(name.substr(0, slash));
  const FlowPrecision f = parse_flow_precision(name.substr(slash + 1));
  check_precision(device, b);
  if (f == FlowPrecision::INT8 && device.rfind("cuda", 0) == 0)
    throw Error("arithmetic '" + name + "': flow precision int8 runs on the CPU only");
  return {b, f};
}

ChosenArithmetic choose_arithmetic(const std::string& precision, const std::string& flow_precision,
                                   const std::string& device, const Calibration& calibration,
                                   const std::string& architecture) {
  ChosenArithmetic c;
  const bool backbone_given = parse_precision_choice(precision, c.backbone);
  const bool flow_given = parse_flow_precision_choice(flow_precision, c.flow);
  if (backbone_given) check_precision(device, c.backbone);
  if ((!backbone_given || !flow_given) && !calibration.calibrated) {
    // The threshold comes from the user, and scores the user has seen are the method's: fp32.
    if (!backbone_given) c.backbone = Precision::FP32;
    if (!flow_given) c.flow = FlowPrecision::FP32;
    c.note = "auto: fp32 (an uncalibrated model: the threshold given is taken to be the method's arithmetic's)";
  } else if (!backbone_given || !flow_given) {
    const AutoPrecision a = auto_precision(device, architecture);
    if (!backbone_given) c.backbone = a.backbone;
    if (!flow_given) c.flow = a.flow;
    c.note = "auto: " + a.reason;
    // Keep an automatic choice only where the model holds a threshold computed in it: give up the
    // flow's first, then the backbone's.
    if (std::isnan(calibration.threshold_for(arithmetic_name(c.backbone, c.flow)))) {
      const std::string wanted = arithmetic_name(c.backbone, c.flow);
      std::vector<ChosenArithmetic> fallbacks;
      if (!flow_given) fallbacks.push_back({c.backbone, FlowPrecision::FP32, "", ""});
      if (!backbone_given) fallbacks.push_back({Precision::FP32, c.flow, "", ""});
      if (!backbone_given && !flow_given) fallbacks.push_back({Precision::FP32, FlowPrecision::FP32, "", ""});
      for (const ChosenArithmetic& f : fallbacks)
        if (!std::isnan(calibration.threshold_for(arithmetic_name(f.backbone, f.flow)))) {
          c.backbone = f.backbone;
          c.flow = f.flow;
          break;
        }
      c.note += "; the model has no threshold for " + wanted + ", so " + arithmetic_name(c.backbone, c.flow) +
                " (recalibrate to add it: differnet-calibrate MODEL GOOD_IMAGES)";
    }
  } else {
    c.note = "as asked";
  }
  c.threshold_arithmetic = arithmetic_name(c.backbone, c.flow);
  if (calibration.calibrated && std::isnan(calibration.threshold_for(c.threshold_arithmetic))) {
    // Explicit precisions without a threshold of their own: the method's, as before they had any.
    c.note += "; the model has no threshold for " + c.threshold_arithmetic +
              ": using fp32/fp32's (recalibrate for it: differnet-calibrate MODEL GOOD_IMAGES)";
    c.threshold_arithmetic = "fp32/fp32";
  }
  return c;
}

Calibration calibrate_arithmetics(const Model& model, const std::vector<std::vector<at::Tensor>>& images,
                                  const std::string& device, const ArithmeticCalibrationOptions& options) {
  if (images.size() < 2)
    throw Error("calibration needs at least 2 good images, got " + std::to_string(images.size()));
  // The arithmetics to score, grouped by backbone precision (one backbone pass each).
  std::map<Precision, std::vector<FlowPrecision>> plan;
  plan[Precision::FP32].push_back(FlowPrecision::FP32);
  if (options.arithmetics.empty()) {
    for (Precision b : runnable_precisions(device, model.extractor.backbone().architecture()))
      for (FlowPrecision f : runnable_flow_precisions(device))
        if (!(b == Precision::FP32 && f == FlowPrecision::FP32)) plan[b].push_back(f);
  } else {
    for (const std::string& name : options.arithmetics) {
      const auto [b, f] = parse_arithmetic(name, device);
      auto& flows = plan[b];
      if (std::find(flows.begin(), flows.end(), f) == flows.end()) flows.push_back(f);
    }
  }
  const std::vector<double> angles = test_time_angles(options.transforms);
  // An int8 backbone quantizes its activations over ranges measured here, in fp32, on the same images
  // (every tile, copy and scale): the largest value of each.
  std::vector<double> int8_ranges;
  if (plan.count(Precision::INT8)) {
    at::NoGradGuard no_grad;
    Model f = model;
    f.to(at::Device(device), Precision::FP32);
    for (const auto& tiles : images)
      for (const at::Tensor& tile : tiles) {
        const std::vector<double> r = f.extractor.int8_ranges(make_copies(tile.to(f.device()), angles, f.config));
        if (int8_ranges.empty()) int8_ranges.assign(r.size(), 0.0);
        for (size_t i = 0; i < r.size(); ++i) int8_ranges[i] = std::max(int8_ranges[i], r[i]);
      }
  }
  const int total = static_cast<int>(plan.size() * images.size());
  int done = 0;
  std::map<std::string, std::vector<double>> scores;
  std::map<Precision, std::vector<double>> local_maxima;  // per backbone precision: each image's local-map maximum
  const bool local = model.extractor.local().enabled() && model.extractor.local().fitted();
  const bool combined = model.config.image_score.method == "combined";
  double flow_scale = 0.0, gaussian_scale = 0.0;  // set from the fp32 pass (the first) for combined
  at::NoGradGuard no_grad;
  for (const auto& [backbone, flows] : plan) {
    // A reduced arithmetic that cannot score these images (a kernel that fails, scores that are not
    // finite) is left out, with the reason: auto then does not use it. fp32/fp32's failures are errors.
    std::vector<at::Tensor> features;
    std::vector<double> maxima;  // each image's local-map maximum
    const int done_before = done;
    bool stopped = false;
    Model m = model;  // a copy: converting the backbone to a reduced precision and back would round it
    m.calibration.int8_activation_max = int8_ranges;
    try {
      m.prepare_for_inference(device, backbone, FlowPrecision::FP32);
      // Each image's tiles' features, [tiles*T, D], in this backbone precision.
      features.reserve(images.size());
      for (const auto& tiles : images) {
        std::vector<at::Tensor> per_tile;
        double image_max = -std::numeric_limits<double>::infinity();
        for (const at::Tensor& tile : tiles) {
          // The local map: at T = 1 the element's; at T > 1 the copies' maps averaged unturned (as
          // differnet-eval's local score), close to the element's turned-back average.
          at::Tensor map;
          per_tile.push_back(m.extractor.features(make_copies(tile.to(m.device()), angles, m.config), 0,
                                                  local ? &map : nullptr));
          if (local) image_max = std::max(image_max, map.mean(0).max().item<double>());
        }
        features.push_back(at::cat(per_tile, 0));
        if (local) maxima.push_back(image_max);
        ++done;
        if (options.progress && !options.progress(done, total)) {
          stopped = true;
          throw Error("calibration stopped");
        }
      }
    } catch (const std::exception& e) {
      if (backbone == Precision::FP32 || stopped) throw;
      for (FlowPrecision flow : flows)
        if (options.skipped) options.skipped->push_back(arithmetic_name(backbone, flow) + ": " + without_backtrace(e.what()));
      done = done_before + static_cast<int>(images.size());
      continue;
    }
    if (local) local_maxima[backbone] = std::move(maxima);
    if (combined && backbone == Precision::FP32) {
      // The combined score's scales: each part's spread over these images' tiles, in fp32.
      m.flow.set_inference_precision(FlowPrecision::FP32);
      std::vector<at::Tensor> flow_parts, gaussian_parts;
      for (const at::Tensor& f : features) {
        const ScoreParts p = score_parts(m, f, static_cast<int64_t>(angles.size()));
        flow_parts.push_back(p.flow.to(at::kCPU, at::kDouble));
        gaussian_parts.push_back(p.gaussian.to(at::kCPU, at::kDouble));
      }
      flow_scale = at::cat(flow_parts).std().item<double>();
      gaussian_scale = at::cat(gaussian_parts).std().item<double>();
      if (!(flow_scale > 0 && gaussian_scale > 0 && std::isfinite(flow_scale) && std::isfinite(gaussian_scale)))
        throw Error("the calibration images' flow or Gaussian scores do not vary (spreads " + std::to_string(flow_scale) +
                    " and " + std::to_string(gaussian_scale) + "): the combined score cannot be scaled");
    }
    m.calibration.flow_scale = flow_scale;
    m.calibration.gaussian_scale = gaussian_scale;
    for (FlowPrecision flow : flows) {
      const std::string name = arithmetic_name(backbone, flow);
      try {
        m.flow.set_inference_precision(flow);
        std::vector<double> s;
        for (const at::Tensor& f : features) {  // the image's score: its largest tile score
          s.push_back(scores_from_features(m, f, static_cast<int64_t>(angles.size())).max().item<double>());
          if (!std::isfinite(s.back())) throw Error("a good image scores " + std::to_string(s.back()));
        }
        scores[name] = std::move(s);
      } catch (const std::exception& e) {
        if (name == "fp32/fp32") throw;
        if (options.skipped) options.skipped->push_back(name + ": " + without_backtrace(e.what()));
      }
    }
  }
  // The pixel threshold of a backbone precision: the same quantile of its images' local-map maxima.
  auto pixel_threshold = [&](const std::string& name) {
    const auto it = local_maxima.find(parse_precision(name.substr(0, name.find('/'))));
    if (it == local_maxima.end()) return 0.0;
    for (double v : it->second)
      if (!std::isfinite(v)) return 0.0;
    return calibrate_from_good_scores(it->second, options.transforms, options.quantile).threshold;
  };
  Calibration c = calibrate_from_good_scores(scores.at("fp32/fp32"), options.transforms, options.quantile);
  c.pixel_threshold = pixel_threshold("fp32/fp32");
  c.flow_scale = flow_scale;
  c.gaussian_scale = gaussian_scale;
  if (std::any_of(scores.begin(), scores.end(), [](const auto& s) { return s.first.rfind("int8/", 0) == 0; }))
    c.int8_activation_max = int8_ranges;
  for (const auto& [name, s] : scores) {
    if (name == "fp32/fp32") continue;
    const Calibration other = calibrate_from_good_scores(s, options.transforms, options.quantile);
    c.arithmetics[name] = {other.threshold, other.good_count, other.good_mean, other.good_std, other.good_max,
                           pixel_threshold(name)};
  }
  if (!c.arithmetics.empty()) c.method += "; also in " + std::to_string(c.arithmetics.size()) + " other arithmetic(s)";
  return c;
}

}  // namespace differnet
