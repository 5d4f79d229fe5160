// The SqueezeNet 1.1 port reproduces the published ImageNet logits of the three golden pairs.
#include <gtest/gtest.h>

#include "backbone.h"
#include "error.h"
#include "safetensors.h"
#include "test_support.h"

using namespace differnet;

TEST(SqueezeNetGolden, LogitsWithin1e3) {
  Backbone b = Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors");
  EXPECT_EQ(b.architecture(), "squeezenet1_1");
  EXPECT_EQ(b.trunk_channels(), 512);
  SafetensorsFile golden = read_safetensors(fixtures::source_dir() + "/tests/fixtures/squeezenet_golden.safetensors");
  at::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) {
    at::Tensor input = from_stored(golden.tensors.at("input_" + std::to_string(i)));
    at::Tensor expected = from_stored(golden.tensors.at("output_" + std::to_string(i)));
    at::Tensor logits = b.imagenet_logits(input);
    const double err = (logits - expected).abs().max().item<double>();
    std::printf("golden pair %d: max |logit error| = %.2e\n", i, err);
    EXPECT_LT(err, 1e-3) << "pair " << i;
    EXPECT_EQ(logits.argmax().item<int64_t>(), expected.argmax().item<int64_t>());
  }
}

// The trunk at 224 px gives 512 x 13 x 13, as the weights' README says.
TEST(SqueezeNetGolden, TrunkShape) {
  Backbone b = Backbone::load("squeezenet1_1");  // found by name in the weights folders
  at::NoGradGuard no_grad;
  EXPECT_EQ(b.trunk(at::zeros({1, 3, 224, 224})).sizes().vec(), (std::vector<int64_t>{1, 512, 13, 13}));
}

// Unknown names and missing AlexNet weights are clear errors.
TEST(Backbone, MissingBackboneIsAClearError) {
  try {
    Backbone::load("/nonexistent/backbone.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be opened"), std::string::npos) << e.what();
  }
  setenv("DIFFERNET_WEIGHTS_DIR", "/nonexistent", 1);
  try {
    Backbone::load("alexnet");
    SUCCEED();  // an installed alexnet.safetensors may exist
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("export_alexnet.py"), std::string::npos) << e.what();
  }
  unsetenv("DIFFERNET_WEIGHTS_DIR");
}
