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

}  // namespace differnet
