#include "image_score_choice.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "error.h"
#include "metrics.h"
#include "scoring.h"
#include "synthetic_defects.h"

namespace differnet {

std::string ImageScoreChoice::summary() const {
  std::string s = chosen + " (ROC AUC on synthetic defects in " + std::to_string(good_images) + " held-out good images:";
  for (size_t i = 0; i < candidates.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s %s %.4f", i ? "," : "", candidates[i].method.c_str(), candidates[i].auroc);
    s += buf;
  }
  return s + ")";
}

std::string ImageScoreChoice::table() const {
  if (candidates.empty()) return "";
  std::string s = "  image score   all kinds";
  for (const auto& [kind, v] : candidates[0].per_kind) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %9s", kind.c_str());
    s += buf;
  }
  s += "\n";
  for (const ImageScoreCandidate& c : candidates) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s %-10s %9.4f", c.method == chosen ? "*" : " ", c.method.c_str(), c.auroc);
    s += std::string(" ") + buf;
    for (const auto& [kind, v] : c.per_kind) {
      std::snprintf(buf, sizeof buf, " %9.4f", v);
      s += buf;
    }
    s += "\n";
  }
  return s;
}

ImageScoreChoice choose_image_score(const Model& model, const std::vector<std::vector<at::Tensor>>& good_images,
                                    const std::string& device, uint64_t seed,
                                    const std::function<bool(int, int)>& progress) {
  if (!model.config.image_score.flow_trained)
    throw Error("choosing the image score needs a model with a trained flow");
  if (!model.config.image_score.gaussian || !model.gaussian.fitted())
    throw Error("choosing the image score needs the model's pooled Gaussian (train with --image-score gaussian, "
                "combined or auto)");
  const int n = static_cast<int>(good_images.size());
  if (n < kImageScoreChoiceMinImages)
    throw Error("choosing the image score needs at least " + std::to_string(kImageScoreChoiceMinImages) +
                " held-out good images, got " + std::to_string(n));
  const std::vector<SyntheticDefect>& kinds = all_synthetic_defects();
  const int64_t k = static_cast<int64_t>(kinds.size());

  at::NoGradGuard no_grad;
  Model m = model;
  m.config.image_score.method = "combined";  // so that score_parts computes both parts
  m.prepare_for_inference(device, Precision::FP32, FlowPrecision::FP32);
  const std::vector<double> angles = {0.0};
  // Each tile's parts [2]: flow, Gaussian.
  auto tile_parts = [&](const at::Tensor& tile) {
    const at::Tensor f = m.extractor.features(make_copies(tile.to(m.device()), angles, m.config), 0, nullptr);
    const ScoreParts p = score_parts(m, f, 1);
    return TileScoreParts{p.flow.item<double>(), p.gaussian.item<double>()};
  };
  // parts[i][j]: image i (good: j = 0; with kind j-1 planted: j >= 1), per tile.
  std::vector<std::vector<std::vector<TileScoreParts>>> parts(static_cast<size_t>(n));
  const int total = n * static_cast<int>(k + 1);
  int done = 0;
  for (int i = 0; i < n; ++i) {
    const std::vector<at::Tensor>& tiles = good_images[static_cast<size_t>(i)];
    if (tiles.empty()) throw Error("choosing the image score: an image without tiles");
    std::vector<TileScoreParts> good;
    for (const at::Tensor& t : tiles) good.push_back(tile_parts(t));
    parts[static_cast<size_t>(i)].push_back(good);
    if (progress && !progress(++done, total)) throw Error("choosing the image score stopped");
    for (int64_t j = 0; j < k; ++j) {
      const uint64_t s = seed * 1000003ull + static_cast<uint64_t>(i) * 31ull + static_cast<uint64_t>(j);
      const size_t where = static_cast<size_t>(s % tiles.size());
      std::vector<TileScoreParts> planted = good;
      planted[where] = tile_parts(plant_synthetic_defect(tiles[where], kinds[static_cast<size_t>(j)], s));
      parts[static_cast<size_t>(i)].push_back(planted);
      if (progress && !progress(++done, total)) throw Error("choosing the image score stopped");
    }
  }
  std::vector<std::string> names;
  for (SyntheticDefect kind : kinds) names.push_back(synthetic_defect_name(kind));
  return choose_from_parts(parts, names);
}

ImageScoreChoice choose_from_parts(const std::vector<std::vector<std::vector<TileScoreParts>>>& parts,
                                   const std::vector<std::string>& kinds) {
  const int n = static_cast<int>(parts.size());
  const int64_t k = static_cast<int64_t>(kinds.size());
  for (const auto& p : parts)
    if (p.size() != kinds.size() + 1 || p[0].empty()) throw Error("choose_from_parts: an image without all its copies");
  // The combined candidate's scales: the spreads of the good images' tiles' parts (as calibration).
  std::vector<double> gf, gg;
  for (const auto& p : parts)
    for (const TileScoreParts& t : p[0]) {
      gf.push_back(t.flow);
      gg.push_back(t.gaussian);
    }
  auto spread = [](const std::vector<double>& v) {
    double mean = 0, ss = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (double x : v) ss += (x - mean) * (x - mean);
    return v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  };
  const double fs = spread(gf), gs = spread(gg);
  if (!(fs > 0 && gs > 0 && std::isfinite(fs) && std::isfinite(gs)))
    throw Error("choosing the image score: the good images' flow or Gaussian scores do not vary");

  ImageScoreChoice choice;
  choice.good_images = n;
  choice.synthetic_images = n * static_cast<int>(k);
  for (const std::string method : {"combined", "flow", "gaussian"}) {
    auto score = [&](const std::vector<TileScoreParts>& tiles) {
      double best = std::numeric_limits<double>::lowest();
      for (const TileScoreParts& t : tiles) {
        double v = method == "flow" ? t.flow : method == "gaussian" ? t.gaussian : t.flow / fs + t.gaussian / gs;
        if (!std::isfinite(v) && !(v < 0)) v = std::numeric_limits<double>::max();  // NaN, +inf: above all
        best = std::max(best, v);
      }
      return best;
    };
    ImageScoreCandidate c;
    c.method = method;
    std::vector<double> all_scores;
    std::vector<int> all_labels;
    for (const auto& p : parts) {
      all_scores.push_back(score(p[0]));
      all_labels.push_back(0);
    }
    for (int64_t j = 0; j < k; ++j) {
      std::vector<double> s;
      std::vector<int> l;
      for (const auto& p : parts) {
        s.push_back(score(p[0]));
        l.push_back(0);
      }
      for (const auto& p : parts) {
        s.push_back(score(p[static_cast<size_t>(j + 1)]));
        l.push_back(1);
        all_scores.push_back(s.back());
        all_labels.push_back(1);
      }
      c.per_kind[kinds[static_cast<size_t>(j)]] = roc_auc(s, l);
    }
    c.auroc = roc_auc(all_scores, all_labels);
    choice.candidates.push_back(c);
  }
  size_t best = 0;
  for (size_t i = 1; i < choice.candidates.size(); ++i)
    if (choice.candidates[i].auroc > choice.candidates[best].auroc) best = i;
  choice.chosen = choice.candidates[best].method;
  return choice;
}

}  // namespace differnet
