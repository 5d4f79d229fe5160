// ROC AUC as scikit-learn computes it, ties counted half; confusion counts at a threshold.
#include <gtest/gtest.h>

#include "error.h"
#include "metrics.h"

using namespace differnet;

TEST(Metrics, RocAuc) {
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.9, 0.8, 0.2, 0.1}, {0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}), 0.5);
  // sklearn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.75
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
  EXPECT_THROW(roc_auc({0.1, 0.2}, {0, 0}), Error);
}

TEST(Metrics, CurveAndConfusion) {
  auto curve = roc_curve({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1});
  EXPECT_DOUBLE_EQ(curve.front().true_positive_rate, 0.0);
  EXPECT_DOUBLE_EQ(curve.back().false_positive_rate, 1.0);
  EXPECT_DOUBLE_EQ(curve.back().true_positive_rate, 1.0);
  Confusion c = confusion_at({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}, 0.35);
  EXPECT_EQ(c.true_positive, 2);
  EXPECT_EQ(c.false_positive, 1);
  EXPECT_EQ(c.true_negative, 1);
  EXPECT_EQ(c.false_negative, 0);
}

// Regions are 8-connected: a diagonal step joins, a gap of one pixel separates.
TEST(Metrics, Regions) {
  const std::vector<int> mask = {1, 1, 0, 0, 1,
                                 0, 0, 1, 0, 1,
                                 0, 0, 0, 0, 0,
                                 1, 0, 0, 0, 0};
  std::vector<int> regions;
  EXPECT_EQ(label_regions(mask, 5, 4, regions), 3);
  EXPECT_EQ(regions[0], regions[7]);  // (0,0)-(1,0)-(2,1): diagonal
  EXPECT_NE(regions[4], regions[0]);
  EXPECT_EQ(regions[4], regions[9]);
  EXPECT_EQ(regions[2], 0);
  EXPECT_NE(regions[15], 0);
  EXPECT_THROW(label_regions(mask, 4, 4, regions), Error);
}

// PRO: 1 when every region's pixels outscore every normal one, 0 when none do before the last normal
// pixel, and a hand-computed curve in between (one region of two pixels, one found at FPR 0, the
// other never: PRO 0.5 all along).
TEST(Metrics, PerRegionOverlap) {
  EXPECT_DOUBLE_EQ(pro_auc({{5, 6}, {7}}, {1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(pro_auc({{0.1, 0.2}}, {1, 2, 3}), 0.0);
  EXPECT_NEAR(pro_auc({{3.0, 0.5}}, {2.0, 1.0, 0.0, -1.0}, 0.5), 0.5, 1e-12);
  // Two regions, the small one found first (PRO 0.5 at FPR 0); then each normal pixel (FPR + 1/8)
  // comes before one more quarter of the big region: PRO 0.5, 0.625, 0.75, 0.875 on the four FPR
  // steps up to 0.5, so the area is 1/8 * (0.5 + 0.625 + 0.75 + 0.875) = 0.34375, divided by 0.5.
  EXPECT_NEAR(pro_auc({{10}, {4.5, 3.5, 2.5, 1.5}}, {5, 4, 3, 2, 1, 0, -1, -2}, 0.5), 0.6875, 1e-12);
  EXPECT_THROW(pro_auc({}, {1.0}), Error);
  EXPECT_THROW(pro_auc({{1.0}}, {}), Error);
  EXPECT_THROW(pro_auc({{1.0}}, {0.5}, 0), Error);
}
