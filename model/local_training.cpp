#include "local_training.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>

#include "error.h"
#include "scoring.h"

namespace differnet {

LocalFitReport fit_local_scorer(Model& model, const std::vector<at::Tensor>& images, uint64_t seed,
                                const std::function<void(int done)>& progress, const std::atomic<bool>* stop) {
  LocalScorer& local = model.extractor.local();
  if (!local.enabled()) throw Error("this model's configuration has no local scorer");
  if (images.empty()) throw Error("the local scorer needs at least one good image");
  const auto t0 = std::chrono::steady_clock::now();
  at::NoGradGuard no_grad;
  const int slots = local.slots();
  // Unfitted (fresh projections, no whitening) while the cells are collected.
  LocalScorer fresh(model.config);
  fresh.to(model.device());
  std::swap(local, fresh);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::vector<at::Tensor>> kept(static_cast<size_t>(slots));
  std::vector<at::Tensor> raws;
  const bool keep_maps = local.flow().enabled();
  std::vector<std::vector<at::Tensor>> projected(static_cast<size_t>(slots));
  LocalFitReport report;
  report.cells.assign(static_cast<size_t>(slots), 0);
  const int64_t n = static_cast<int64_t>(images.size());
  for (int64_t i = 0; i < n; ++i) {
    if (stop && stop->load()) {
      report.stopped = true;
      std::swap(local, fresh);  // leave the model as it was
      return report;
    }
    const at::Tensor copies = make_copies(images[static_cast<size_t>(i)].to(model.device()), {0.0}, model.config);
    at::Tensor raw;
    const std::vector<at::Tensor> cells = model.extractor.local_cells(copies, 0, &raw);
    raws.push_back(raw);
    for (int k = 0; k < slots; ++k) {
      // float until whitened: the whitening can amplify half's rounding (2^-11) by its condition
      if (keep_maps) projected[static_cast<size_t>(k)].push_back(cells[static_cast<size_t>(k)][0].to(at::kCPU).contiguous());
      at::Tensor c = cells[static_cast<size_t>(k)].reshape({-1, cells[static_cast<size_t>(k)].size(-1)}).to(at::kCPU);
      const int64_t per_image = std::max<int64_t>(1, kMaxLocalFitCells / n);
      if (c.size(0) > per_image) c = c.index_select(0, at::randperm(c.size(0), gen, at::kLong).slice(0, 0, per_image));
      kept[static_cast<size_t>(k)].push_back(c.contiguous());
    }
    if (progress) progress(static_cast<int>(i + 1));
  }
  for (int k = 0; k < slots; ++k) {
    const at::Tensor all = at::cat(kept[static_cast<size_t>(k)], 0);
    if (all.size(0) < 2) throw Error("the local scorer needs at least 2 cells per scale; give more or larger images");
    local.fit(k, all);
    report.cells[static_cast<size_t>(k)] = all.size(0);
    if (keep_maps) {
      std::vector<at::Tensor> maps;
      for (at::Tensor& p : projected[static_cast<size_t>(k)]) {
        maps.push_back(local.whiten_projected(k, p).permute({2, 0, 1}).to(at::kHalf).contiguous());
        p = at::Tensor();
      }
      report.whitened_maps.push_back(std::move(maps));
    }
  }
  report.shrinkage = local.shrinkage();
  report.raw_features = at::cat(raws, 0);
  report.images = static_cast<int>(n);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace differnet
