// Setting the decision threshold from scores of good images that were not trained on.
#pragma once
#include <vector>

#include "config.h"

namespace differnet {

// threshold = mean + sigmas * std of the good scores (population std), raised to at least their
// maximum, so that none of the calibration images is flagged. Throws Error for fewer than 2 scores.
Calibration calibrate_from_good_scores(const std::vector<double>& good_scores, int transforms, double sigmas = 3.0);

}  // namespace differnet
