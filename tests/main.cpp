// Test entry point: fixed LibTorch threads and seed, so runs are deterministic on any machine.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  at::set_num_threads(2);
  at::manual_seed(0);
  return RUN_ALL_TESTS();
}
