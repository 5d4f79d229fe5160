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

// Thresholds of other arithmetics round-trip through the model file's JSON; a block written before
// them loads with none; a misnamed or inconsistent one is refused with what is wrong.
TEST(Calibration, ArithmeticsRoundTrip) {
  Calibration c = calibrate_from_good_scores({3, 1, 5, 2, 4}, 1, 0.9);
  c.arithmetics["bf16/int8"] = {4.7, 5, 3.05, 1.4, 5.1, 0.0};
  c.arithmetics["fp32/int8"] = {4.5, 5, 2.95, 1.4, 4.9, 0.0};
  c.pixel_threshold = 7.5;
  c.arithmetics["bf16/int8"].pixel_threshold = 7.7;
  const Calibration back = Calibration::from_json(c.to_json());
  ASSERT_EQ(back.arithmetics.size(), 2u);
  EXPECT_DOUBLE_EQ(back.threshold_for("fp32/fp32"), c.threshold);
  EXPECT_DOUBLE_EQ(back.threshold_for("bf16/int8"), 4.7);
  EXPECT_DOUBLE_EQ(back.arithmetics.at("fp32/int8").good_max, 4.9);
  EXPECT_TRUE(std::isnan(back.threshold_for("bf16/fp32")));
  EXPECT_DOUBLE_EQ(back.pixel_threshold_for("fp32/fp32"), 7.5);
  EXPECT_DOUBLE_EQ(back.pixel_threshold_for("bf16/int8"), 7.7);
  EXPECT_TRUE(std::isnan(back.pixel_threshold_for("fp32/int8")));  // 0: none
  EXPECT_TRUE(std::isnan(Calibration{}.threshold_for("fp32/fp32")));  // uncalibrated

  Calibration old = Calibration::from_json(
      R"({"calibrated":true,"threshold":4.6,"transforms":1,"method":"m","good_count":5,"good_mean":3,"good_std":1.4,"good_max":5})");
  EXPECT_TRUE(old.arithmetics.empty());
  EXPECT_TRUE(std::isnan(old.threshold_for("fp32/int8")));
  EXPECT_TRUE(std::isnan(old.pixel_threshold_for("fp32/fp32")));

  auto refused = [&](const std::string& name, GoodScoreThreshold t, const std::string& why) {
    Calibration bad = c;
    bad.arithmetics[name] = t;
    try {
      Calibration::from_json(bad.to_json());
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  const GoodScoreThreshold fine{4.6, 5, 3, 1.4, 5, 0.0};
  refused("fp32/fp32", fine, "not an arithmetic other than fp32/fp32");
  refused("bf16", fine, "not an arithmetic");
  refused("fp64/int8", fine, "not an arithmetic");
  refused("auto/int8", fine, "not an arithmetic");
  refused("bf16/int8", {-1, 5, 3, 1.4, 5, 0.0}, "in bf16/int8: threshold -1");
  refused("bf16/int8", {9, 5, 3, 1.4, 5, 0.0}, "above the largest good score");
  refused("bf16/int8", {4.6, 5, 3, 1.4, 5, -2.0}, "pixel threshold -2");
  Calibration uncalibrated;
  uncalibrated.arithmetics["bf16/int8"] = fine;
  EXPECT_THROW(Calibration::from_json(uncalibrated.to_json()), Error);
}
