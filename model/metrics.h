// Threshold-free detection quality: ROC AUC (as scikit-learn's roc_auc_score, ties counted half)
// and the ROC curve; confusion counts at a threshold (anomalous when score >= threshold).
#pragma once
#include <vector>

namespace differnet {

// labels: 0 good, 1 anomalous. Throws Error unless both classes are present and sizes match.
double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels);

struct RocPoint { double threshold, false_positive_rate, true_positive_rate; };
std::vector<RocPoint> roc_curve(const std::vector<double>& scores, const std::vector<int>& labels);

struct Confusion { int true_positive = 0, false_positive = 0, true_negative = 0, false_negative = 0; };
Confusion confusion_at(const std::vector<double>& scores, const std::vector<int>& labels, double threshold);

}  // namespace differnet
