#include "learner.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "backbone.h"
#include "arithmetic_calibration.h"
#include "calibration.h"
#include "image_score_choice.h"
#include "local_training.h"
#include "error.h"
#include "image_file.h"
#include "model.h"
#include "preprocess.h"
#include "presets.h"
#include "runtime.h"
#include "safetensors.h"
#include "scoring.h"
#include "sha256.h"
#include "trainer.h"

namespace differnet {

const char* learn_phase_name(LearnPhase phase) {
  switch (phase) {
    case LearnPhase::Collecting: return "collecting";
    case LearnPhase::Training: return "training";
    case LearnPhase::Calibrating: return "calibrating";
    case LearnPhase::Writing: return "writing";
    case LearnPhase::Done: return "done";
    case LearnPhase::Failed: return "failed";
  }
  return "?";
}

namespace {
// The most training frames the first model (the pooled Gaussian's) is fitted on: about 10 s of
// ResNet50-v2 backbone passes on 2 CPU cores.
constexpr size_t kFirstModelFrames = 48;

constexpr int kThumb = 32;  // side of the gray thumbnails that near-duplicates are judged on

long parse_int(const std::string& key, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  const long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || x < lo || x > hi)
    throw Error("learn setting " + key + "='" + v + "' is not an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return x;
}

double parse_double(const std::string& key, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x) || x < lo || x > hi) {
    std::ostringstream range;
    range << "[" << lo << ", " << hi << "]";
    throw Error("learn setting " + key + "='" + v + "' is not a number in " + range.str());
  }
  return x;
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(v);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Recipe {
  Preset preset;
  int holdout = -1;  // -1: as differnet-train (10 %, at least 2; none under 10 frames)
  double quantile = 0.99;
  int calibration_transforms = 1;
};

// The preset with the overrides applied, as differnet-train applies its options.
Recipe make_recipe(const LearnOptions& o) {
  Recipe r;
  r.preset = preset(o.preset);
  ModelConfig& c = r.preset.config;
  TrainOptions& t = r.preset.train;
  // input-size first: the scales follow it as fractions
  if (auto it = o.settings.find("input-size"); it != o.settings.end())
    set_input_size(c, static_cast<int>(parse_int("input-size", it->second, 32, 4096)));
  for (const auto& [key, v] : o.settings) {
    if (key == "input-size") continue;
    else if (key == "backbone") c.backbone = v;
    else if (key == "layers") c.layers = split_list(v);
    else if (key == "standardize") {
      if (v != "yes" && v != "no" && v != "true" && v != "false")
        throw Error("learn setting standardize='" + v + "' is not yes or no");
      c.standardize = v == "yes" || v == "true";
    }
    else if (key == "whiten") {
      if (v != "yes" && v != "no" && v != "true" && v != "false")
        throw Error("learn setting whiten='" + v + "' is not yes or no");
      c.whiten = v == "yes" || v == "true";
    }
    else if (key == "flow-width") c.flow.width = static_cast<int>(parse_int(key, v, 1, 65536));
    else if (key == "flow-blocks") set_flow_blocks(c, static_cast<int>(parse_int(key, v, 1, 64)));
    else if (key == "epochs") t.epochs = static_cast<int>(parse_int(key, v, 1, 100000));
    else if (key == "batch-size") t.batch_size = static_cast<int>(parse_int(key, v, 1, 100000));
    else if (key == "feature-cache") t.feature_cache = static_cast<int>(parse_int(key, v, 0, 4096));
    else if (key == "rotation") t.rotation_deg = parse_double(key, v, 0, 180);
    else if (key == "feature-noise") t.feature_noise = parse_double(key, v, 0, 10);
    else if (key == "lr") t.lr = parse_double(key, v, 1e-12, 1);
    else if (key == "seed") t.seed = static_cast<uint64_t>(parse_int(key, v, 0, 1 << 30));
    else if (key == "image-score") {
      r.preset.choose_image_score = v == "auto";
      c.image_score.method = v == "auto" ? "combined" : image_score_name(parse_image_score(v));
      c.image_score.gaussian = c.image_score.method != "flow";
    }
    else if (key == "holdout") r.holdout = static_cast<int>(parse_int(key, v, 0, 1 << 20));
    else if (key == "quantile") r.quantile = parse_double(key, v, 0.5, 1.0);
    else if (key == "calibration-transforms") r.calibration_transforms = static_cast<int>(parse_int(key, v, 1, 1024));
    else
      throw Error("unknown learn setting '" + key + "' (known: backbone, input-size, layers, standardize, whiten, flow-width, "
                  "flow-blocks, epochs, batch-size, feature-cache, rotation, feature-noise, lr, seed, image-score, holdout, "
                  "quantile, calibration-transforms)");
  }
  return r;
}

}  // namespace

struct Learner::Impl {
  LearnOptions options;
  Recipe recipe;
  ModelConfig config;                  // the recipe's, completed with the loaded backbone's channels
  std::unique_ptr<Backbone> backbone;  // loaded at construction (a bad name fails there)

  mutable std::mutex mutex;
  LearnStatus status;
  std::vector<at::Tensor> frames;      // [1,3,S,S] uint8 each
  std::vector<at::Tensor> thumbnails;  // [32,32] float each
  at::Tensor last_thumb;
  std::string variety;
  std::atomic<bool> stop{false};       // finish early (write the last finished epoch)
  std::atomic<bool> abandon{false};    // destroyed: write nothing
  std::thread worker;

  void set_phase(LearnPhase p) {
    std::lock_guard<std::mutex> guard(mutex);
    status.phase = p;
  }
  void run();
  void judge_variety();
};

Learner::Learner(const LearnOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = options;
  if (options.output.empty()) throw Error("learning needs a model file to write");
  if (options.frames < min_frames())
    throw Error("learning needs at least " + std::to_string(min_frames()) + " frames, not " + std::to_string(options.frames));
  if (!(options.min_difference >= 0)) throw Error("the near-duplicate difference must be >= 0");
  m.recipe = make_recipe(options);
  // The same steps as differnet-train: the backbone, then its layers' channels.
  ModelConfig& c = m.config;
  c = m.recipe.preset.config;
  const std::string preset_backbone = c.backbone;
  m.backbone = std::make_unique<Backbone>(Backbone::load(c.backbone));
  c.backbone = m.backbone->architecture();
  c.trunk_channels = m.backbone->trunk_channels();
  if (!options.settings.count("layers") && c.backbone != preset_backbone) c.layers = {"last"};
  c.layer_channels.clear();
  for (const auto& layer : c.layers) c.layer_channels.push_back(m.backbone->layer_channels(layer));
  if (c.local.enabled()) {
    if (c.backbone != preset_backbone) c.local.layers = default_local_layers(c.backbone);
    c.local.layer_channels.clear();
    for (const auto& layer : c.local.layers) c.local.layer_channels.push_back(m.backbone->layer_channels(layer));
    c.local.projection_seed = static_cast<int>(m.recipe.preset.train.seed);  // seeded like the rest (differnet-train)
  }
  c.validate();
  // The frames are kept in memory at the model's input size until training ends.
  const double bytes = static_cast<double>(options.frames) * c.input_size * c.input_size * 3;
  if (bytes > 8.0 * (1 << 30))
    throw Error(std::to_string(options.frames) + " frames of " + std::to_string(c.input_size) + " px would take " +
                std::to_string(static_cast<int>(bytes / (1 << 30))) + " GiB of memory while learning (8 at most): "
                "learn from fewer frames, or train with differnet-train on files");
  resolve_device(options.device);  // a bad or missing device fails now
  check_writable(options.output);  // an unwritable model path fails before the first frame is kept
  m.status.wanted = options.frames;
}

Learner::~Learner() {
  impl_->abandon = true;
  impl_->stop = true;
  if (impl_->worker.joinable()) impl_->worker.join();
}

int Learner::min_frames() { return 4; }
const LearnOptions& Learner::options() const { return impl_->options; }
int Learner::input_size() const { return impl_->recipe.preset.config.input_size; }

LearnAdd Learner::add(const FrameView& frame, const Region& region) {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> guard(m.mutex);
    if (m.status.phase != LearnPhase::Collecting || m.status.collected >= m.options.frames) return LearnAdd::Full;
  }
  check_frame(frame, region);
  if (region.whole_frame()) check_image_pixels("the learnt frame", frame.width, frame.height);
  else check_image_pixels("the learnt region", region.width, region.height);
  at::NoGradGuard no_grad;
  at::Tensor resized = resize_antialiased(frame_to_rgb(frame, region), input_size()).to(at::kByte);
  at::Tensor thumb = at::adaptive_avg_pool2d(resized.to(at::kFloat).mean(1, true), {kThumb, kThumb}).reshape({kThumb, kThumb});
  if (m.options.min_difference > 0 && m.last_thumb.defined() &&
      (thumb - m.last_thumb).abs().mean().item<double>() < m.options.min_difference) {
    std::lock_guard<std::mutex> guard(m.mutex);
    m.status.skipped++;
    return LearnAdd::Duplicate;
  }
  m.last_thumb = thumb;
  std::lock_guard<std::mutex> guard(m.mutex);
  m.frames.push_back(resized);
  m.thumbnails.push_back(thumb);
  m.status.collected = static_cast<int>(m.frames.size());
  return LearnAdd::Kept;
}

bool Learner::full() const {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  return impl_->status.collected >= impl_->options.frames;
}

bool Learner::training_started() const {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  return impl_->status.phase != LearnPhase::Collecting;
}

void Learner::Impl::judge_variety() {
  // Mean absolute difference of each kept frame's thumbnail from the mean thumbnail: the spread
  // of what was shown, in gray levels.
  at::Tensor all = at::stack(thumbnails);
  const double spread = (all - all.mean(0, true)).abs().mean().item<double>();
  std::ostringstream w;
  if (spread < 1.0)
    w << "the " << thumbnails.size() << " frames collected hardly differ (mean difference " << spread
      << " gray levels): the model learns one picture and may flag any harmless change; show it more good parts";
  else if (spread > 50.0)
    w << "the " << thumbnails.size() << " frames collected differ a lot (mean difference " << spread
      << " gray levels, as from a moving camera or changing scenes): the model may be too lenient to find defects";
  variety = w.str();
}

void Learner::train() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> guard(m.mutex);
    if (m.status.phase != LearnPhase::Collecting) throw Error("learning has already started training");
    if (m.status.collected < min_frames())
      throw Error("only " + std::to_string(m.status.collected) + " frame(s) collected; at least " +
                  std::to_string(min_frames()) + " are needed to train");
    m.status.phase = LearnPhase::Training;
    m.status.epochs = m.recipe.preset.train.epochs;
  }
  m.judge_variety();
  m.worker = std::thread([&m] { m.run(); });
}

void Learner::finish_early() { impl_->stop = true; }

LearnStatus Learner::status() const {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  return impl_->status;
}

std::string Learner::variety_warning() const { return impl_->variety; }

void Learner::Impl::run() {
  const auto started = std::chrono::steady_clock::now();  // training starts when collection ends
  try {
    TrainOptions t = recipe.preset.train;
    const std::string device = resolve_device(options.device);
    // LibTorch starts with one thread on Debian; a Detector sets the element's count when it loads,
    // but learning may run before any model is loaded.
    set_threads(options.threads);

    // The split as differnet-train makes it for images in arrival order: shuffled by the seed, the
    // first `holdout` held out, the rest trained in arrival order (the same frames as PNG files
    // give differnet-train's model).
    const int n = static_cast<int>(frames.size());
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    std::mt19937_64 rng(t.seed);
    std::shuffle(order.begin(), order.end(), rng);
    int holdout = recipe.holdout >= 0 ? recipe.holdout : (n < 10 ? 0 : std::max(2, n / 10));
    holdout = std::min(holdout, n - 2);
    if (holdout == 1) holdout = 0;
    std::sort(order.begin() + holdout, order.end());
    std::vector<at::Tensor> calib, train;
    for (int i = 0; i < n; ++i) (i < holdout ? calib : train).push_back(frames[static_cast<size_t>(order[static_cast<size_t>(i)])]);
    {
      std::lock_guard<std::mutex> guard(mutex);
      status.train_frames = static_cast<int>(train.size());
      status.holdout_frames = holdout;
      status.epochs = t.epochs;
    }
    Model model = Model::create(config, std::move(*backbone), t.seed + 1);
    model.to(at::Device(device));
    // The pooled Gaussian (closed form, from the same features) gives a first model at once: scored
    // by the Gaussian alone, calibrated on the held-out frames, written and taken over by the element
    // while the flow trains. The final model keeps the Gaussian (its image score may use it).
    const std::vector<at::Tensor>& cal = holdout >= 2 ? calib : train;
    std::vector<std::vector<at::Tensor>> cal_tiles;
    for (const auto& img : cal) cal_tiles.push_back({img});
    ArithmeticCalibrationOptions o;
    o.transforms = recipe.calibration_transforms;
    o.quantile = recipe.quantile;
    o.progress = [&](int, int) { return !abandon; };
    // fp32/fp32 and what the element's precision=auto picks here: one more scoring pass at most.
    const AutoPrecision automatic = auto_precision(device, model.config.backbone);
    o.arithmetics = {arithmetic_name(automatic.backbone, automatic.flow)};
    auto calibrate = [&](Model& m) {
      try {
        m.calibration = calibrate_arithmetics(m, cal_tiles, device, o);
      } catch (const Error&) {
        if (abandon) throw Error("learning was abandoned");
        throw;
      }
      m.calibration.method += holdout >= 2 ? " (frames held out of learning)"
                                           : " (the learning frames themselves: optimistic, expect false alarms)";
    };
    // Closed form, one backbone pass per frame: the local scorer and the pooled Gaussian (the local
    // scorer's pass gives the pooled features too).
    auto fit_closed_form = [&](Model& m, const std::vector<at::Tensor>& frames_to_fit) {
      at::Tensor raw;
      if (m.extractor.local().enabled()) {
        raw = fit_local_scorer(m, frames_to_fit, t.seed, {}, &stop).raw_features;
        if (abandon) throw Error("learning was abandoned");
        if (!m.extractor.local().fitted()) throw Error("learning was stopped before the first epoch ended; nothing written");
      }
      if (fit_pooled_gaussian(m, frames_to_fit, raw, true, &stop) < 0 || abandon)
        throw Error(abandon ? "learning was abandoned" : "learning was stopped before the first epoch ended; nothing written");
      return raw;
    };
    // The first model is fitted on at most kFirstModelFrames of the training frames, spread over the
    // run, so that its backbone pass takes seconds; the final model's fit uses them all.
    const size_t first_count = std::min(train.size(), kFirstModelFrames);
    {
      Model first = model;  // shares the frozen backbone; its fits replace tensors, never change them
      if (first_count < train.size()) {
        std::vector<at::Tensor> subset;
        for (size_t k = 0; k < first_count; ++k) subset.push_back(train[k * train.size() / first_count]);
        fit_closed_form(first, subset);
      } else {
        t.unrotated_features = fit_closed_form(model, train);
        first = model;
      }
      first.config.image_score.method = "gaussian";
      first.config.image_score.flow_trained = false;
      calibrate(first);
      first.calibration.method += "; the pooled Gaussian alone, while the flow trains";
      save_model(first, options.output);
      const std::string id = sha256_file_hex(options.output).substr(0, 12);
      std::lock_guard<std::mutex> guard(mutex);
      status.first_model_id = id;
      status.first_model_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      status.first_threshold = first.calibration.threshold;
    }
    if (first_count < train.size()) t.unrotated_features = fit_closed_form(model, train);
    TrainReport report = train_flow(model, train, t, [this](const TrainProgress& p) {
      std::lock_guard<std::mutex> guard(mutex);
      if (p.caching) {
        status.features_done = p.step;
        status.features_total = p.steps_per_epoch;
        status.elapsed_s = p.elapsed_s;
        status.remaining_s = p.remaining_s;
        return;
      }
      status.features_done = status.features_total;
      status.epoch = p.epoch;
      status.epochs = p.epochs;
      status.loss = p.loss;
      status.elapsed_s = p.elapsed_s;
      status.remaining_s = p.remaining_s;
    }, &stop);
    if (abandon) throw Error("learning was abandoned");
    if (report.epochs_done == 0) {  // stopped before the flow's first epoch: the first model is the run's model
      std::lock_guard<std::mutex> guard(mutex);
      status.model_id = status.first_model_id;
      status.threshold = status.first_threshold;
      status.stopped_early = true;
      status.phase = LearnPhase::Done;
      return;
    }
    set_phase(LearnPhase::Calibrating);
    // Training with rotations fitted the standardisation to rotated copies: refit the Gaussian to it.
    if (t.rotation_deg != 0 && model.config.standardize) fit_pooled_gaussian(model, train, {}, false);
    // The image score, where the recipe chooses it: on the held-out frames with synthetic defects.
    if (recipe.preset.choose_image_score && holdout >= kImageScoreChoiceMinImages && model.config.image_score.gaussian) {
      try {
        const ImageScoreChoice choice =
            choose_image_score(model, cal_tiles, device, t.seed, [&](int, int) { return !abandon; });
        model.config.image_score.method = choice.chosen;
        model.config.image_score.chosen_by = "auto: " + choice.summary();
      } catch (const Error&) {
        if (abandon) throw Error("learning was abandoned");
        throw;
      }
    }
    calibrate(model);
    set_phase(LearnPhase::Writing);
    model.to(at::kCPU);
    save_model(model, options.output);  // atomic: a temporary file beside it, then renamed
    const std::string id = sha256_file_hex(options.output).substr(0, 12);
    std::lock_guard<std::mutex> guard(mutex);
    status.model_id = id;
    status.threshold = model.calibration.threshold;
    status.stopped_early = report.stopped;
    status.phase = LearnPhase::Done;
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> guard(mutex);
    status.error = without_backtrace(e.what());
    status.phase = LearnPhase::Failed;
  }
}

}  // namespace differnet
