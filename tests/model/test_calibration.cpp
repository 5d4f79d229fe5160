// The threshold: numpy's linear quantile of the good scores, robust to a heavy tail.
#include <gtest/gtest.h>

#include <cmath>

#include "calibration.h"
#include "error.h"

using namespace differnet;

TEST(Calibration, QuantileLikeNumpy) {
  // numpy.quantile([1, 2, 3, 4, 5], 0.9) == 4.6; quantile 1 is the maximum.
  Calibration c = calibrate_from_good_scores({3, 1, 5, 2, 4}, 8, 0.9);
  EXPECT_TRUE(c.calibrated);
  EXPECT_NEAR(c.threshold, 4.6, 1e-12);
  EXPECT_EQ(c.transforms, 8);
  EXPECT_EQ(c.good_count, 5);
  EXPECT_DOUBLE_EQ(c.good_max, 5);
  EXPECT_DOUBLE_EQ(c.good_mean, 3);
  EXPECT_DOUBLE_EQ(calibrate_from_good_scores({3, 1, 5, 2, 4}, 1, 1.0).threshold, 5);
}

// One wild good image among 200 moves a mean + 3 std rule by orders of magnitude, the quantile not.
TEST(Calibration, HeavyTailDoesNotCarryTheThreshold) {
  std::vector<double> scores;
  for (int i = 0; i < 199; ++i) scores.push_back(1.0 + 0.001 * i);
  scores.push_back(1e7);
  Calibration c = calibrate_from_good_scores(scores, 1);
  EXPECT_LT(c.threshold, 1.2);
  EXPECT_GT(c.good_std, 1e5);
}

TEST(Calibration, BadInputs) {
  EXPECT_THROW(calibrate_from_good_scores({1.0}, 1), Error);
  EXPECT_THROW(calibrate_from_good_scores({1.0, NAN}, 1), Error);
  EXPECT_THROW(calibrate_from_good_scores({1.0, 2.0}, 1, 0.2), Error);
}
