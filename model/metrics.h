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

// Connected regions (8-neighbourhood) of a binary mask, row-major, `width` x `height`: each pixel's
// region number, 1..count, or 0 outside the mask. Returns the count.
int label_regions(const std::vector<int>& mask, int width, int height, std::vector<int>& regions);

// PRO, MVTec AD's per-region overlap: at each threshold, the mean over the defect regions of the
// share of their pixels at or above it, against the false-positive rate over the normal pixels;
// the area under that curve up to `max_fpr`, divided by `max_fpr` (1 = every region found before
// any normal pixel). `region_scores` holds each region's pixel scores; `normal_scores` every normal
// pixel's. Throws Error without regions or normal pixels, or for max_fpr outside (0, 1].
double pro_auc(const std::vector<std::vector<double>>& region_scores, const std::vector<double>& normal_scores,
               double max_fpr = 0.3);

}  // namespace differnet
