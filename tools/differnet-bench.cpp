// differnet-bench: times each stage of DifferNet and the whole per-frame path on this machine.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "cli.h"
#include "detector.h"
#include "local_training.h"
#include "model.h"
#include "preprocess.h"
#include "presets.h"
#include "runtime.h"
#include "scoring.h"
#include "trainer.h"

using namespace differnet;

namespace {

const char* kHelp = R"(usage: differnet-bench [options]

Times DifferNet's stages on this machine after warm-up runs and prints the median of each (ms),
frames per second and the process's peak memory. The project's speed claims come from it.

Stages: preprocessing of a 640x480 RGB frame into T normalised copies; one backbone pass at each
scale (448/224/112); the 3-scale extractor; the flow at batch 1 and 64; one training step (24 images
x 4 rotations = 96 vectors, cached features: flow forward, backward, Adam). Then the whole
per-frame path through the Detector the element uses (upload -> preprocess -> backbone -> flow
[-> localization]) at each T and precision: median latency per stage and frames per second
(one frame at a time), and T=1 with --batch frames scored together. On CUDA every clock read
waits for the device first, so the figures are device time, not launch time.

options:
  --backbones LIST    squeezenet1_1, resnet50v2, mobilenetv2, alexnet or files, each with the
                      layers pooled as NAME:LAYER[+LAYER] (default: the last layer), e.g.
                      squeezenet1_1:fire6,resnet50v2:stage3 (the fast and accurate presets);
                      default squeezenet1_1,alexnet; AlexNet uses random weights when
                      alexnet.safetensors is not installed: same speed
  --flow-widths LIST  flow hidden widths to time (default 512,2048: the fast preset and the paper)
  --transforms LIST   T values for the per-frame path (default 1,8,64)
  --localize-transforms LIST  T values with localization (default 1,8)
  --local yes|no      also time the local scorer's map (default yes; its layers are the
                      backbone's defaults, its Gaussian fitted on random pixels: timing only)
  --local-flow N      score its cells with a local flow of N coupling blocks (default 0: the
                      Gaussian); --local-flow-hidden N its subnets' channels (64)
  --iterations N      timed runs per stage (default 5); --warmup N untimed runs first (default 1)
  --device NAME       auto, cpu, cuda, cuda:N (default cpu)
  --precision LIST    backbone precisions for the per-frame path: auto (the element's default:
                      what this machine runs fastest, printed first), fp32, fp16 (CUDA), bf16,
                      int8 (CPU, AlexNet; its activation ranges from the benchmark's frame)
                      (default auto)
  --flow-precision LIST  the flow's linear layers: auto, fp32 (the method), bf16, int8 (CPU only)
                      (default auto); each is timed at batch 1 and 64 and on the per-frame path
  --batch N           frames per batch for the batched T=1 row (default 16; 0 skips it)
  --threads N         CPU threads, 0 = one per core (default 0)
  --quick             1 iteration, T=1,8 only, one width: a smoke run
  --path-only         time the per-frame path only (no stage rows: scripts/bench/compare-pytorch.py)

example:
  differnet-bench --backbones squeezenet1_1 --flow-widths 512 --transforms 1,8
)";

double peak_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

struct Timer {
  int warmup, iterations;
  std::string device;
  // Median wall time of `fn` in ms; on CUDA every run ends with a synchronisation.
  double median_ms(const std::function<void()>& fn) const {
    for (int i = 0; i < warmup; ++i) fn();
    std::vector<double> t;
    for (int i = 0; i < iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      fn();
      synchronize(device);
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

// The median of each stage over `iterations` detections (after `warmup`), stages timed on the device.
StageTimes median_times(const Timer& timer, const std::function<StageTimes()>& fn) {
  for (int i = 0; i < timer.warmup; ++i) fn();
  std::vector<StageTimes> runs;
  for (int i = 0; i < timer.iterations; ++i) runs.push_back(fn());
  auto median = [&](double StageTimes::*field) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  StageTimes m;
  m.upload_ms = median(&StageTimes::upload_ms);
  m.preprocess_ms = median(&StageTimes::preprocess_ms);
  m.backbone_ms = median(&StageTimes::backbone_ms);
  m.flow_ms = median(&StageTimes::flow_ms);
  m.localization_ms = median(&StageTimes::localization_ms);
  m.total_ms = median(&StageTimes::total_ms);
  return m;
}

// Lines repeated at the end, so that the headline figures are the last thing printed.
std::vector<std::string> g_summary;

void stage_row(const std::string& label, const StageTimes& t) {
  std::printf("  %-30s upload %6.2f  preprocess %7.2f  backbone %8.2f  flow %7.2f  localization %8.2f  "
              "= %8.2f ms  %8.2f frames/s\n",
              label.c_str(), t.upload_ms, t.preprocess_ms, t.backbone_ms, t.flow_ms, t.localization_ms, t.total_ms,
              1000.0 / t.total_ms);
  std::fflush(stdout);
}

void row(const std::string& stage, double ms, const std::string& note = "") {
  std::printf("  %-46s %10.2f ms %9.2f /s   %s\n", stage.c_str(), ms, 1000.0 / ms, note.c_str());
  std::fflush(stdout);
}

std::vector<int> ints(const std::vector<std::string>& v) {
  std::vector<int> out;
  for (const auto& s : v) out.push_back(std::stoi(s));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run_tool("differnet-bench", [&] {
    cli::Args args(argc, argv,
                   {{"backbones", true}, {"flow-widths", true}, {"transforms", true}, {"localize-transforms", true}, {"local", true},
                    {"iterations", true}, {"warmup", true}, {"device", true}, {"threads", true}, {"quick", false},
                    {"precision", true}, {"flow-precision", true}, {"batch", true}, {"path-only", false},
                    {"local-flow", true}, {"local-flow-hidden", true}},
                   kHelp);
    const bool quick = args.has("quick");
    const std::string device_name = resolve_device(args.text("device", "cpu"));
    const at::Device device(device_name);
    const int threads = set_threads(args.integer("threads", 0, 0, 1024));
    Timer timer{args.integer("warmup", 1, 0, 100), quick ? 1 : args.integer("iterations", 5, 1, 1000),
                device_name};
    auto widths = ints(args.list("flow-widths", quick ? "512" : "512,2048"));
    auto transforms = ints(args.list("transforms", quick ? "1,8" : "1,8,64"));
    auto loc_transforms = ints(args.list("localize-transforms", "1,8"));
    const std::string local_arg = args.text("local", "yes");
    if (local_arg != "yes" && local_arg != "no") throw cli::UsageError("--local takes yes or no, not '" + local_arg + "'");
    const bool with_local = local_arg == "yes";
    const int local_flow_blocks = args.integer("local-flow", 0, 0, 16);
    const int local_flow_hidden = args.integer("local-flow-hidden", 64, 1, 4096);
    if (local_flow_blocks > 0 && !with_local) throw cli::UsageError("--local-flow needs --local yes");
    const auto precisions = args.list("precision", "auto");
    for (const auto& p : precisions) check_precision_choice(p);  // a typo fails now, not after minutes
    const auto flow_precisions = args.list("flow-precision", "auto");
    for (const auto& p : flow_precisions) check_flow_precision_choice(p);
    {
      const AutoPrecision a = auto_precision(device_name);
      std::printf("precision auto on %s: backbone %s, flow %s (%s)\n", device_name.c_str(), precision_name(a.backbone),
                  flow_precision_name(a.flow), a.reason.c_str());
    }
    const int batch = args.integer("batch", quick ? 4 : 16, 0, 1024);
    const bool path_only = args.has("path-only");

    std::printf("differnet-bench: device %s, %d threads, %d iterations after %d warm-up (median)\n",
                device_name.c_str(), threads, timer.iterations, timer.warmup);
    at::Tensor frame_rgb = at::randint(0, 256, {480, 640, 3}, at::kByte);
    FrameView frame{frame_rgb.data_ptr<uint8_t>(), 640, 480, 640 * 3, PixelFormat::RGB};

    for (const auto& item : args.list("backbones", "squeezenet1_1,alexnet")) {
      const size_t colon = item.find(':');
      const std::string name = item.substr(0, colon);
      std::vector<std::string> layers = {"last"};
      if (colon != std::string::npos) {
        layers.clear();
        std::string rest = item.substr(colon + 1);
        for (size_t start = 0; start <= rest.size();) {
          size_t end = std::min(rest.find('+', start), rest.size());
          if (end > start) layers.push_back(rest.substr(start, end - start));
          start = end + 1;
        }
        if (layers.empty()) throw cli::UsageError("--backbones: no layer after ':' in '" + item + "'");
      }
      std::string note;
      Backbone backbone = [&] {
        try {
          return Backbone::load(name);
        } catch (const Error&) {
          if (name != "alexnet") throw;
          note = " (random weights: alexnet.safetensors not installed)";
          return Backbone::random("alexnet", 1);
        }
      }();
      ModelConfig config;
      config.backbone = backbone.architecture();
      config.trunk_channels = backbone.trunk_channels();
      config.layers = layers;
      config.layer_channels.clear();
      if (with_local) {  // the presets' local scorer on the backbone's default layers (fitted on random pixels below)
        config.local = preset("fast").config.local;
        config.local.layers = default_local_layers(backbone.architecture());
        config.local.layer_channels.clear();
        for (const auto& l : config.local.layers) config.local.layer_channels.push_back(backbone.layer_channels(l));
        config.local.flow_blocks = local_flow_blocks;  // untrained: the same arithmetic as a trained one
        config.local.flow_hidden = local_flow_hidden;
      }
      std::string layer_list;
      for (const auto& l : layers) {
        config.layer_channels.push_back(backbone.layer_channels(l));  // an unknown layer fails here
        layer_list += (layer_list.empty() ? "" : "+") + l;
      }
      std::printf("\nbackbone %s, layers %s%s\n", backbone.architecture().c_str(), layer_list.c_str(), note.c_str());
      at::NoGradGuard no_grad;
      backbone.to(device);
      for (int T : {1, 64}) {
        if ((quick && T == 64) || path_only) continue;
        row("preprocess 640x480 frame -> " + std::to_string(T) + " copies", timer.median_ms([&] {
          make_copies(resize_antialiased(pixels_to_rgb(upload_region(frame, {}, device), frame.format), 448),
                      test_time_angles(T), config);
        }));
      }
      for (int s : {448, 224, 112}) {
        if (path_only) break;
        at::Tensor x = at::randn({1, 3, s, s}).to(device);
        row("backbone pass " + std::to_string(s) + " px, batch 1", timer.median_ms([&] { backbone.taps(x, layers); }));
      }
      Extractor extractor(backbone, config);
      at::Tensor x1 = at::randn({1, 3, 448, 448}).to(device);
      if (!path_only)
        row("extractor (3 scales, pooled, D=" + std::to_string(config.feature_dim()) + "), batch 1",
            timer.median_ms([&] { extractor.features(x1); }));
      std::printf("  peak memory so far: %.0f MiB\n", peak_mib());

      for (int width : widths) {
        ModelConfig c = config;
        c.flow.width = width;
        Model model = Model::create(c, backbone, 1);
        model.to(device);
        if (with_local) {  // timing only: two random images give it a Gaussian to score with
          at::AutoGradMode off(false);
          fit_local_scorer(model, {at::randint(0, 256, {1, 3, 448, 448}, at::kByte), at::randint(0, 256, {1, 3, 448, 448}, at::kByte)}, 1);
        }
        int64_t params = 0;
        for (const auto& p : model.flow.parameters()) params += p.numel();
        std::printf(" flow width %d (%.1f M parameters)\n", width, params / 1e6);
        for (const auto& choice : flow_precisions) {
          FlowPrecision chosen = auto_precision(device_name).flow;
          parse_flow_precision_choice(choice, chosen);
          const std::string fp = flow_precision_name(chosen);
          try {
            model.flow.set_inference_precision(chosen);
          } catch (const Error& e) {
            std::printf("  flow %s skipped: %s\n", fp.c_str(), e.what());
            continue;
          }
          for (int b : {1, 64}) {
            if (path_only) break;
            at::Tensor f = at::rand({b, c.feature_dim()}).to(device);
            row("flow forward, batch " + std::to_string(b) + (fp == "fp32" ? "" : ", " + fp),
                timer.median_ms([&] { model.flow.forward(f); }));
          }
        }
        model.flow.set_inference_precision(FlowPrecision::FP32);
        if (!path_only) {
          at::NoGradGuard inner;
          model.flow.set_requires_grad(true);
          Adam adam(model.flow.parameters(), 2e-4, 0.8, 0.8, 1e-4, 1e-5);
          at::Tensor f = at::rand({96, c.feature_dim()}).to(device);
          row("training step, 96 vectors (cached features)", timer.median_ms([&] {
            at::AutoGradMode on(true);
            nll_loss(model.flow.forward(f)).backward();
            adam.step();
          }));
          model.flow.set_requires_grad(false);
        }
        if (device.is_cpu() && Backbone::runs_int8(c.backbone)) {
          // An int8 backbone quantizes its activations over ranges measured on good images when the
          // model is calibrated; timing only: the ranges of the benchmark's own frame.
          at::Tensor copy = make_copies(resize_antialiased(pixels_to_rgb(upload_region(frame, {}, device), frame.format), 448),
                                        {0.0}, c);
          model.calibration.int8_activation_max = model.extractor.int8_ranges(copy);
        }
        // The per-frame path exactly as the element runs it: a model file, a Detector.
        const std::string model_file =
            (std::filesystem::temp_directory_path() / ("differnet-bench-" + std::to_string(::getpid()) + ".model")).string();
        save_model(model, model_file);
        for (const auto& backbone_precision : precisions)
        for (const auto& flow_precision : flow_precisions) {
          std::unique_ptr<Detector> detector;
          try {
            // "auto" resolved here: the benchmark's model is uncalibrated, where the Detector's auto is fp32.
            const AutoPrecision automatic = auto_precision(device_name, c.backbone);
            const std::string b = backbone_precision == "auto" ? precision_name(automatic.backbone) : backbone_precision;
            const std::string f = flow_precision == "auto" ? flow_precision_name(automatic.flow) : flow_precision;
            detector = std::make_unique<Detector>(DetectorOptions{model_file, device_name, threads, b, f, true});
          } catch (const Error& e) {
            std::printf("  backbone %s%s skipped: %s\n", backbone_precision.c_str(),
                        flow_precision == "fp32" || flow_precision == "auto" ? "" : (", flow " + flow_precision).c_str(), e.what());
            continue;
          }
          const ModelSummary& active = detector->summary();
          const std::string precision = active.precision + "/" + active.flow_precision;
          std::printf(" per-frame path, 640x480 RGB frame, backbone %s, flow %s%s (median ms per stage)\n",
                      active.precision.c_str(), active.flow_precision.c_str(),
                      backbone_precision == "auto" || flow_precision == "auto" ? " (auto)" : "");
          auto path_row = [&](int T, bool localize, Localization how = Localization::Gradient) {
            DetectRequest request;
            request.transforms = T;
            request.localize = localize;
            request.localization = how;
            request.heatmap_size = 112;
            const std::string label = "T=" + std::to_string(T) +
                                      (!localize ? "" : how == Localization::Local ? " + local map" : " + gradient map") +
                                      ", batch 1";
            const StageTimes t = median_times(timer, [&] { return detector->detect(frame, request).times; });
            stage_row(label, t);
            char line[200];
            std::snprintf(line, sizeof line, "%-22s %-9s w%-5d %-28s %9.2f ms %9.2f frames/s", item.c_str(),
                          precision.c_str(), width, label.c_str(), t.total_ms, 1000.0 / t.total_ms);
            g_summary.push_back(line);
          };
          for (int T : transforms) path_row(T, false);
          for (int T : loc_transforms) path_row(T, true);
          if (with_local)
            for (int T : loc_transforms) path_row(T, true, Localization::Local);
          if (batch > 0) {
            // T=1 for `batch` frames at once: each frame uploaded and preprocessed, one backbone batch,
            // one flow batch, one score per frame.
            Model batched = load_model(model_file);
            batched.prepare_for_inference(device_name, parse_precision(active.precision),
                                          parse_flow_precision(active.flow_precision));
            const double ms = timer.median_ms([&] {
              at::NoGradGuard guard;
              std::vector<at::Tensor> copies;
              for (int i = 0; i < batch; ++i) {
                at::Tensor rgb = pixels_to_rgb(upload_region(frame, {}, device), frame.format);
                copies.push_back(make_copies(resize_antialiased(rgb, 448), {0.0}, c));
              }
              at::Tensor features = batched.extractor.features(at::cat(copies, 0));
              scores_from_features(batched, features, 1).cpu();
            });
            const std::string label = "T=1, batch " + std::to_string(batch);
            std::printf("  %-30s %8.2f ms per batch = %8.2f ms per frame  %8.2f frames/s\n", label.c_str(), ms, ms / batch,
                        1000.0 * batch / ms);
            char line[200];
            std::snprintf(line, sizeof line, "%-22s %-9s w%-5d %-28s %9.2f ms %9.2f frames/s (latency %.2f ms)",
                          item.c_str(), precision.c_str(), width, label.c_str(), ms / batch,
                          1000.0 * batch / ms, ms);
            g_summary.push_back(line);
          }
        }
        std::filesystem::remove(model_file);
        std::printf("  peak memory so far: %.0f MiB\n", peak_mib());
      }
    }
    std::printf("\nsummary (%s, %d threads; per frame, median; peak host memory %.0f MiB)\n", device_name.c_str(), threads,
                peak_mib());
    for (const auto& line : g_summary) std::printf("  %s\n", line.c_str());
    return cli::kOk;
  });
}
