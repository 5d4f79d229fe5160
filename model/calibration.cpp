#include "calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "error.h"

namespace differnet {

Calibration calibrate_from_good_scores(const std::vector<double>& good_scores, int transforms, double quantile) {
  if (good_scores.size() < 2) throw Error("calibration needs the scores of at least 2 good images");
  if (!(quantile >= 0.5 && quantile <= 1.0)) throw Error("the calibration quantile must be in 0.5..1");
  for (double s : good_scores)
    if (!std::isfinite(s)) throw Error("calibration got a score that is not a finite number");
  std::vector<double> sorted = good_scores;
  std::sort(sorted.begin(), sorted.end());
  const double n = static_cast<double>(sorted.size());
  const double mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / n;
  double var = 0;
  for (double s : sorted) var += (s - mean) * (s - mean);
  const double position = quantile * (n - 1);  // numpy's default ("linear")
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  Calibration c;
  c.calibrated = true;
  c.transforms = transforms;
  c.good_count = static_cast<int>(sorted.size());
  c.good_mean = mean;
  c.good_std = std::sqrt(var / n);
  c.good_max = sorted.back();
  c.threshold = sorted[below] + (position - static_cast<double>(below)) * (sorted[above] - sorted[below]);
  std::ostringstream method;
  method << "quantile " << quantile << " of " << sorted.size() << " good images at T=" << transforms;
  c.method = method.str();
  return c;
}

}  // namespace differnet
