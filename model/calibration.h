// Setting the decision threshold from scores of good images that were not trained on.
#pragma once
#include <vector>

#include "config.h"

namespace differnet {

// threshold = the `quantile` of the good scores (linear interpolation, as numpy.quantile), so that
// about (1 - quantile) of good parts would be flagged. A quantile, not mean + k std: DifferNet's scores
// of good images are heavy-tailed (on Magnetic Tile a few of 761 good images score 10^4 to 10^7
// times the median), and one such image would carry a mean/std threshold past every defect.
// With few images the top quantiles approach their maximum. Throws Error for fewer than 2 scores.
Calibration calibrate_from_good_scores(const std::vector<double>& good_scores, int transforms, double quantile = 0.99);

}  // namespace differnet
