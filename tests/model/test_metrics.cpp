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
