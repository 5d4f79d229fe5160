#include "calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "error.h"

namespace differnet {

Calibration calibrate_from_good_scores(const std::vector<double>& good_scores, int transforms, double sigmas) {
  if (good_scores.size() < 2) throw Error("calibration needs the scores of at least 2 good images");
  for (double s : good_scores)
    if (!std::isfinite(s)) throw Error("calibration got a score that is not a finite number");
  const double n = static_cast<double>(good_scores.size());
  const double mean = std::accumulate(good_scores.begin(), good_scores.end(), 0.0) / n;
  double var = 0;
  for (double s : good_scores) var += (s - mean) * (s - mean);
  Calibration c;
  c.calibrated = true;
  c.transforms = transforms;
  c.good_count = static_cast<int>(good_scores.size());
  c.good_mean = mean;
  c.good_std = std::sqrt(var / n);
  c.good_max = *std::max_element(good_scores.begin(), good_scores.end());
  c.threshold = std::max(mean + sigmas * c.good_std, c.good_max);
  std::ostringstream method;
  method << "max(mean + " << sigmas << " std, max) of " << good_scores.size() << " good images at T=" << transforms;
  c.method = method.str();
  return c;
}

}  // namespace differnet
