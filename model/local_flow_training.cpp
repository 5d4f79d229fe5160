#include "local_flow_training.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "error.h"
#include "scoring.h"
#include "trainer.h"

namespace differnet {

std::vector<std::vector<at::Tensor>> whitened_cell_maps(const Model& model, const std::vector<at::Tensor>& images) {
  const LocalScorer& local = model.extractor.local();
  if (!local.enabled() || !local.fitted()) throw Error("the model's local scorer is not fitted");
  at::NoGradGuard no_grad;
  std::vector<std::vector<at::Tensor>> out(static_cast<size_t>(local.slots()));
  for (const at::Tensor& image : images) {
    const at::Tensor copies = make_copies(image.to(model.device()), {0.0}, model.config);
    const std::vector<at::Tensor> cells = model.extractor.local_cells(copies, 0);
    for (int k = 0; k < local.slots(); ++k)
      out[static_cast<size_t>(k)].push_back(cells[static_cast<size_t>(k)][0].permute({2, 0, 1}).to(at::kCPU).to(at::kHalf).contiguous());
  }
  return out;
}

namespace {
double heldout_nll(const LocalFlow& flow, int slot, const std::vector<at::Tensor>& maps, const at::Device& device,
                   bool identity) {
  at::NoGradGuard no_grad;
  double sum = 0.0;
  int64_t cells = 0;
  for (const at::Tensor& m : maps) {
    const at::Tensor x = m.to(device).to(at::kFloat).unsqueeze(0);
    const at::Tensor nll = identity ? 0.5 * x.pow(2).mean(1) : LocalFlow::nll_per_dim(flow.forward(slot, x));
    sum += nll.sum().item<double>();
    cells += nll.numel();
  }
  return sum / static_cast<double>(std::max<int64_t>(1, cells));
}
}  // namespace

LocalFlowReport train_local_flow(Model& model, const std::vector<std::vector<at::Tensor>>& maps,
                                 const std::vector<std::vector<at::Tensor>>& heldout, const LocalFlowTrainOptions& o,
                                 const std::function<void(const LocalFlowProgress&)>& progress,
                                 const std::atomic<bool>* stop) {
  LocalScorer& local = model.extractor.local();
  LocalFlow& flow = local.flow();
  if (!flow.enabled()) throw Error("this model has no local flow (local flow blocks 0)");
  if (static_cast<int>(maps.size()) != flow.slots())
    throw Error("the local flow has " + std::to_string(flow.slots()) + " scale slot(s), got maps of " + std::to_string(maps.size()));
  if (o.steps < 1 || o.batch < 1 || o.crop < 1 || !(o.lr > 0)) throw Error("local flow training needs steps, batch, crop >= 1 and lr > 0");
  const auto t0 = std::chrono::steady_clock::now();
  const at::Device device = model.device();
  TensorMap untrained;  // restored when stopped (the tensors are trained in place)
  for (const auto& [name, t] : flow.named_tensors()) untrained[name] = t.detach().clone();
  LocalFlowReport report;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  for (int k = 0; k < flow.slots(); ++k) {
    const std::vector<at::Tensor>& slot_maps = maps[static_cast<size_t>(k)];
    if (slot_maps.empty()) throw Error("no cell maps for the local flow's slot " + std::to_string(k));
    const int64_t n = static_cast<int64_t>(slot_maps.size());
    const int64_t h = slot_maps[0].size(1), w = slot_maps[0].size(2);
    for (const at::Tensor& m : slot_maps)
      if (m.dim() != 3 || m.size(1) != h || m.size(2) != w) throw Error("the local flow's cell maps of one slot differ in shape");
    const int64_t ch = std::min<int64_t>(o.crop, h), cw = std::min<int64_t>(o.crop, w);
    flow.set_requires_grad(true);
    Adam adam(flow.parameters(k), o.lr, 0.9, 0.999, 1e-8, o.weight_decay);
    at::Tensor order = at::randperm(n, gen, at::kLong);
    int64_t next = 0;
    const int tenth = std::max(1, o.steps / 10);
    double first = 0.0, last = 0.0;
    for (int step = 0; step < o.steps; ++step) {
      if (stop && stop->load()) {
        flow.set_requires_grad(false);
        flow.load(untrained);
        report.stopped = true;
        return report;
      }
      const int64_t ys = at::randint(0, h - ch + 1, {1}, gen, at::kLong).item<int64_t>();
      const int64_t xs = at::randint(0, w - cw + 1, {1}, gen, at::kLong).item<int64_t>();
      std::vector<at::Tensor> crops;
      for (int b = 0; b < o.batch && b < n; ++b) {
        if (next == n) {
          order = at::randperm(n, gen, at::kLong);
          next = 0;
        }
        const at::Tensor& m = slot_maps[static_cast<size_t>(order[next++].item<int64_t>())];
        crops.push_back(m.slice(1, ys, ys + ch).slice(2, xs, xs + cw));
      }
      const at::Tensor batch = at::stack(crops).to(device).to(at::kFloat);
      const at::Tensor loss = LocalFlow::nll_per_dim(flow.forward(k, batch)).mean();
      loss.backward();
      adam.step();
      const double l = loss.item<double>();
      if (!std::isfinite(l)) throw Error("the local flow's training diverged (non-finite loss at step " + std::to_string(step + 1) + ")");
      if (step < tenth) first += l / tenth;
      if (step >= o.steps - tenth) last += l / tenth;
      if (progress) progress({k, flow.slots(), step + 1, o.steps, l});
    }
    flow.set_requires_grad(false);
    report.first_loss.push_back(first);
    report.last_loss.push_back(last);
    if (!heldout.empty() && !heldout.at(static_cast<size_t>(k)).empty()) {
      report.heldout_gaussian.push_back(heldout_nll(flow, k, heldout[static_cast<size_t>(k)], device, true));
      report.heldout_flow.push_back(heldout_nll(flow, k, heldout[static_cast<size_t>(k)], device, false));
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace differnet
