// The flow's permutations must equal numpy's legacy RandomState(k).permutation(D) exactly, or weights
// trained in Python would be wired to the wrong channels.
#include <gtest/gtest.h>

#include <algorithm>

#include "permutation.h"

using differnet::numpy_legacy_permutation;

// First 8 indices for seeds 0..7 at D = 768, from numpy 1.24 (differnet-method.md, section 3).
TEST(Permutation, MatchesNumpyTestVectors) {
  const int64_t expected[8][8] = {{661, 122, 113, 14, 529, 103, 338, 588}, {285, 101, 581, 352, 726, 472, 233, 385},
                                  {158, 251, 631, 757, 689, 573, 553, 728}, {51, 378, 27, 579, 86, 144, 65, 617},
                                  {390, 146, 136, 420, 328, 72, 110, 254},  {567, 123, 615, 492, 288, 383, 642, 178},
                                  {239, 243, 764, 122, 33, 591, 530, 684},  {353, 236, 323, 98, 701, 61, 600, 242}};
  for (int k = 0; k < 8; ++k) {
    auto p = numpy_legacy_permutation(k, 768);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(p[i], expected[k][i]) << "seed " << k << " index " << i;
  }
}

// Every index appears exactly once, for the SqueezeNet dimension too.
TEST(Permutation, IsABijection) {
  auto p = numpy_legacy_permutation(5, 1536);
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 1536; ++i) ASSERT_EQ(p[i], i);
}
