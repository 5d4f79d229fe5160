#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <numeric>

#include "error.h"

namespace differnet {

namespace {
void check(const std::vector<double>& scores, const std::vector<int>& labels) {
  if (scores.size() != labels.size()) throw Error("scores and labels differ in number");
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isfinite(scores[i]))
      throw Error("score " + std::to_string(i + 1) + " of " + std::to_string(scores.size()) +
                  " is not a finite number (NaN or Inf): the model is broken; no ROC AUC can be computed");
  const auto positives = std::count(labels.begin(), labels.end(), 1);
  if (positives == 0 || positives == static_cast<long>(labels.size()))
    throw Error("ROC AUC needs both good and anomalous examples");
}
}  // namespace

double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  check(scores, labels);
  // Mann-Whitney U with average ranks for ties.
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::vector<double> rank(scores.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && scores[order[j + 1]] == scores[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = (i + j) / 2.0 + 1.0;
    i = j + 1;
  }
  double pos = 0, rank_sum = 0;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == 1) pos += 1, rank_sum += rank[i];
  const double neg = static_cast<double>(labels.size()) - pos;
  return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

std::vector<RocPoint> roc_curve(const std::vector<double>& scores, const std::vector<int>& labels) {
  check(scores, labels);
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  const double pos = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  const double neg = static_cast<double>(labels.size()) - pos;
  std::vector<RocPoint> curve{{scores[order[0]] + 1.0, 0.0, 0.0}};
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    (labels[order[i]] == 1 ? tp : fp) += 1;
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]])
      curve.push_back({scores[order[i]], fp / neg, tp / pos});
  }
  return curve;
}

Confusion confusion_at(const std::vector<double>& scores, const std::vector<int>& labels, double threshold) {
  if (scores.size() != labels.size()) throw Error("scores and labels differ in number");
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isfinite(scores[i]))
      throw Error("score " + std::to_string(i + 1) + " of " + std::to_string(scores.size()) +
                  " is not a finite number (NaN or Inf): the model is broken; no ROC AUC can be computed");
  Confusion c;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool flagged = scores[i] >= threshold;
    if (labels[i] == 1) (flagged ? c.true_positive : c.false_negative)++;
    else (flagged ? c.false_positive : c.true_negative)++;
  }
  return c;
}

int label_regions(const std::vector<int>& mask, int width, int height, std::vector<int>& regions) {
  if (width < 0 || height < 0 || mask.size() != static_cast<size_t>(width) * static_cast<size_t>(height))
    throw Error("label_regions: the mask is not width x height");
  regions.assign(mask.size(), 0);
  int count = 0;
  std::vector<size_t> stack;
  for (size_t start = 0; start < mask.size(); ++start) {
    if (!mask[start] || regions[start]) continue;
    regions[start] = ++count;
    stack.push_back(start);
    while (!stack.empty()) {
      const size_t i = stack.back();
      stack.pop_back();
      const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const size_t j = static_cast<size_t>(ny) * width + nx;
          if (mask[j] && !regions[j]) {
            regions[j] = count;
            stack.push_back(j);
          }
        }
    }
  }
  return count;
}

double pro_auc(const std::vector<std::vector<double>>& region_scores, const std::vector<double>& normal_scores,
               double max_fpr) {
  if (region_scores.empty() || normal_scores.empty()) throw Error("PRO needs defect regions and normal pixels");
  if (!(max_fpr > 0 && max_fpr <= 1)) throw Error("PRO: the false-positive limit must be in (0, 1]");
  // Sweep the thresholds down through every distinct score: each step lowers the threshold to the
  // next score, adding the pixels at it to the detected ones.
  struct Event { double score; int region; };  // region -1: a normal pixel
  std::vector<Event> events;
  for (size_t r = 0; r < region_scores.size(); ++r) {
    if (region_scores[r].empty()) throw Error("PRO: a defect region without pixels");
    for (double v : region_scores[r]) events.push_back({v, static_cast<int>(r)});
  }
  for (double v : normal_scores) events.push_back({v, -1});
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.score > b.score; });
  std::vector<size_t> found(region_scores.size(), 0);
  double overlap_sum = 0;  // sum over regions of their detected share
  size_t normals = 0;
  double area = 0, last_fpr = 0, last_pro = 0;
  const double regions = static_cast<double>(region_scores.size()), total_normal = static_cast<double>(normal_scores.size());
  for (size_t i = 0; i < events.size();) {
    const double t = events[i].score;
    for (; i < events.size() && events[i].score == t; ++i) {
      if (events[i].region < 0) {
        ++normals;
      } else {
        const size_t r = static_cast<size_t>(events[i].region);
        ++found[r];
        overlap_sum += 1.0 / static_cast<double>(region_scores[r].size());
      }
    }
    const double fpr = normals / total_normal, pro = overlap_sum / regions;
    if (fpr >= max_fpr) {  // the last segment, cut at max_fpr (linear between the two points)
      const double share = fpr > last_fpr ? (max_fpr - last_fpr) / (fpr - last_fpr) : 0.0;
      area += (max_fpr - last_fpr) * (last_pro + 0.5 * share * (pro - last_pro));
      return area / max_fpr;
    }
    area += (fpr - last_fpr) * 0.5 * (last_pro + pro);
    last_fpr = fpr;
    last_pro = pro;
  }
  return area / max_fpr;  // not reached: the last threshold passes every normal pixel (fpr 1)
}

}  // namespace differnet
