// make-test-model OUT: writes the small texture model the tests use (see test_support.h), for the
// script tests (example applications, pipeline recipes).
#include <cstdio>

#include "test_support.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-test-model OUT\n");
    return 2;
  }
  differnet::fixtures::train_texture_model(argv[1]);
  return 0;
}
