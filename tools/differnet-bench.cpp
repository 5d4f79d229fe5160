// differnet-bench: times each stage of DifferNet and the whole per-frame path on this machine.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli.h"
#include "model.h"
#include "preprocess.h"
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
x 4 rotations = 96 vectors, cached features: flow forward, backward, Adam); the whole per-frame path
(frame -> score) at each T, and with localization.

options:
  --backbones LIST    squeezenet1_1,alexnet or files (default squeezenet1_1,alexnet; AlexNet uses
                      random weights when alexnet.safetensors is not installed: same speed)
  --flow-widths LIST  flow hidden widths to time (default 512,2048: the fast preset and the paper)
  --transforms LIST   T values for the per-frame path (default 1,8,64)
  --localize-transforms LIST  T values with localization (default 1,8)
  --iterations N      timed runs per stage (default 5); --warmup N untimed runs first (default 1)
  --device NAME       auto, cpu, cuda, cuda:N (default cpu)
  --threads N         CPU threads, 0 = one per core (default 0)
  --quick             1 iteration, T=1,8 only, one width: a smoke run

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
  bool cuda;
  // Median wall time of `fn` in ms; on CUDA every run ends with a synchronisation.
  double median_ms(const std::function<void()>& fn) const {
    for (int i = 0; i < warmup; ++i) fn();
    std::vector<double> t;
    for (int i = 0; i < iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      fn();
      if (cuda) sync();
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
  static void sync() { at::zeros({1}, at::kCUDA).cpu(); }  // a device round trip waits for the queue
};

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
                   {{"backbones", true}, {"flow-widths", true}, {"transforms", true}, {"localize-transforms", true},
                    {"iterations", true}, {"warmup", true}, {"device", true}, {"threads", true}, {"quick", false}},
                   kHelp);
    const bool quick = args.has("quick");
    const std::string device_name = resolve_device(args.text("device", "cpu"));
    const at::Device device(device_name);
    const int threads = set_threads(args.integer("threads", 0, 0, 1024));
    Timer timer{args.integer("warmup", 1, 0, 100), quick ? 1 : args.integer("iterations", 5, 1, 1000),
                device.is_cuda()};
    auto widths = ints(args.list("flow-widths", quick ? "512" : "512,2048"));
    auto transforms = ints(args.list("transforms", quick ? "1,8" : "1,8,64"));
    auto loc_transforms = ints(args.list("localize-transforms", "1,8"));

    std::printf("differnet-bench: device %s, %d threads, %d iterations after %d warm-up (median)\n",
                device_name.c_str(), threads, timer.iterations, timer.warmup);
    at::Tensor frame_rgb = at::randint(0, 256, {480, 640, 3}, at::kByte);
    FrameView frame{frame_rgb.data_ptr<uint8_t>(), 640, 480, 640 * 3, PixelFormat::RGB};

    for (const auto& name : args.list("backbones", "squeezenet1_1,alexnet")) {
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
      std::printf("\nbackbone %s%s\n", backbone.architecture().c_str(), note.c_str());
      ModelConfig config;
      config.backbone = backbone.architecture();
      config.trunk_channels = backbone.trunk_channels();
      at::NoGradGuard no_grad;
      backbone.to(device);
      for (int T : {1, 64}) {
        if (quick && T == 64) continue;
        row("preprocess 640x480 frame -> " + std::to_string(T) + " copies", timer.median_ms([&] {
          make_copies(resize_antialiased(frame_to_rgb(frame, {}).to(device), 448), test_time_angles(T), config);
        }));
      }
      for (int s : {448, 224, 112}) {
        at::Tensor x = at::randn({1, 3, s, s}).to(device);
        row("backbone pass " + std::to_string(s) + " px, batch 1", timer.median_ms([&] { backbone.trunk(x); }));
      }
      Extractor extractor(backbone, config);
      at::Tensor x1 = at::randn({1, 3, 448, 448}).to(device);
      row("extractor (3 scales, pooled, D=" + std::to_string(config.feature_dim()) + "), batch 1",
          timer.median_ms([&] { extractor.features(x1); }));
      std::printf("  peak memory so far: %.0f MiB\n", peak_mib());

      for (int width : widths) {
        ModelConfig c = config;
        c.flow.width = width;
        Model model = Model::create(c, backbone, 1);
        model.to(device);
        int64_t params = 0;
        for (const auto& p : model.flow.parameters()) params += p.numel();
        std::printf(" flow width %d (%.1f M parameters)\n", width, params / 1e6);
        for (int b : {1, 64}) {
          at::Tensor f = at::rand({b, c.feature_dim()}).to(device);
          row("flow forward, batch " + std::to_string(b), timer.median_ms([&] { model.flow.forward(f); }));
        }
        {
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
        for (int T : transforms) {
          row("per-frame path T=" + std::to_string(T), timer.median_ms([&] {
            at::Tensor levels = resize_antialiased(frame_to_rgb(frame, {}).to(device), 448);
            score_image(model, levels, T, false);
          }));
        }
        for (int T : loc_transforms) {
          row("per-frame path T=" + std::to_string(T) + " with localization", timer.median_ms([&] {
            at::Tensor levels = resize_antialiased(frame_to_rgb(frame, {}).to(device), 448);
            score_image(model, levels, T, true);
          }));
        }
        std::printf("  peak memory so far: %.0f MiB\n", peak_mib());
      }
    }
    return cli::kOk;
  });
}
