// Calibration in every arithmetic: the threshold of each backbone and flow precision a model may
// score with, from the same good images, so that precision=auto (runtime.h) never decides with a
// threshold computed in another arithmetic.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "model.h"

namespace differnet {

struct ArithmeticCalibrationOptions {
  int transforms = 1;
  double quantile = 0.99;
  // The arithmetics to calibrate; empty = every one `device` runs (runnable_precisions x
  // runnable_flow_precisions). "fp32/fp32" is always calibrated: it is the model's own threshold.
  std::vector<std::string> arithmetics;
  // Called after each image of each backbone precision: (done, total). Returning false stops (Error).
  std::function<bool(int, int)> progress;
  // Where set, receives "ARITHMETIC: reason" for each reduced arithmetic that could not be calibrated
  // (its kernels failed, or it scored a good image as a non-finite number): it gets no threshold.
  std::vector<std::string>* skipped = nullptr;
};

// The arithmetic to score in, from a user's choices ("auto" or a precision name each) on `device` (a
// resolved name) for a model with `calibration`. "auto" takes runtime.h's auto_precision, kept only
// where the model holds a threshold computed in it (else the flow's choice falls back to fp32 first,
// then the backbone's). Explicit names are kept; where the model has no threshold for them, the
// fp32/fp32 threshold is used and the note says so. On an uncalibrated model "auto" is fp32: the
// threshold a user gives it is taken to be in the method's arithmetic.
struct ChosenArithmetic {
  Precision backbone = Precision::FP32;
  FlowPrecision flow = FlowPrecision::FP32;
  std::string threshold_arithmetic;  // whose threshold applies (calibration.threshold_for)
  std::string note;                  // how it was chosen, one line
};
// `architecture`: the model's backbone (auto takes int8 only for one with an int8 forward).
ChosenArithmetic choose_arithmetic(const std::string& precision, const std::string& flow_precision,
                                   const std::string& device, const Calibration& calibration,
                                   const std::string& architecture = "");

// Parses "BACKBONE/FLOW" (e.g. "bf16/int8"); throws Error naming the accepted form on anything else,
// and where `device` cannot run it.
std::pair<Precision, FlowPrecision> parse_arithmetic(const std::string& name, const std::string& device);

// Scores the good images (each as its tiles, as load_resized_tiles gives them; an image's score is
// its largest tile's) once per backbone precision, the flow in each flow precision on the same
// features, and returns the calibration: `threshold` from fp32/fp32 and one entry per other
// arithmetic. A model with a local scorer also gets each arithmetic's pixel threshold, the same
// quantile of the images' local-map maxima (the largest over an image's tiles). `model` is left as it was (each precision runs on a copy); `device` is a resolved name.
// Throws Error for fewer than 2 images.
Calibration calibrate_arithmetics(const Model& model, const std::vector<std::vector<at::Tensor>>& images,
                                  const std::string& device, const ArithmeticCalibrationOptions& options);

}  // namespace differnet
