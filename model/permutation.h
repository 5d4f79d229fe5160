// The flow's fixed channel permutations, identical to numpy's legacy
// `np.random.seed(k); np.random.permutation(n)` (MT19937 + RandomState.shuffle), so that weights
// trained by the authors' Python code line up with ours channel by channel.
#pragma once
#include <cstdint>
#include <vector>

namespace differnet {

std::vector<int64_t> numpy_legacy_permutation(uint32_t seed, int64_t n);

}  // namespace differnet
