// GStreamer test entry point: gst_init with the build folder's plugin (set by meson's test env).
#include <ATen/Parallel.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  at::set_num_threads(2);
  const int result = RUN_ALL_TESTS();
  gst_deinit();
  return result;
}
