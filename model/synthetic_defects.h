// Synthetic defects planted in good images: the only defective images a model can be judged on when
// all it was given is good parts. They choose the image score at training time (image_score_choice.h):
// each candidate score is asked how well it tells held-out good images from the same images with a
// defect planted, and no real defect is looked at.
//
// Five kinds, each drawn at a seeded random place, size, angle and contrast, in image-relative units
// (so that they mean the same at any input size):
//   scratch  a straight line, 0.5 to 1.2 % of the side wide and 15 to 40 % long, lighter or darker;
//   crack    a dark random-walk polyline of 6 to 14 steps of 2 to 5 % of the side, 0.6 % wide;
//   spot     an ellipse of radius 2 to 6 % of the side, soft-edged, lighter or darker;
//   patch    a rectangle of 10 to 25 % of each side cut from elsewhere in the image, flipped or turned
//            half a turn, its brightness scaled by 0.8 to 1.2, pasted (CutPaste's idea);
//   stain    a large soft ellipse (radius 12 to 25 % of the side) of half the contrast: a region of
//            other brightness rather than a mark.
// Contrast: 15 to 35 % of the 0..255 range added or subtracted under the defect's soft mask.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace differnet {

enum class SyntheticDefect { Scratch, Crack, Spot, Patch, Stain };
const std::vector<SyntheticDefect>& all_synthetic_defects();
const char* synthetic_defect_name(SyntheticDefect kind);  // "scratch", "crack", ...

// `levels`: one image, [1,3,H,W] or [3,H,W], levels 0..255 (uint8 or float). Returns a copy of the
// same shape and type with a defect of `kind` planted; the same (image, kind, seed) always gives the
// same result. Throws std::invalid_argument for another shape or an image under 16 px a side.
at::Tensor plant_synthetic_defect(const at::Tensor& levels, SyntheticDefect kind, uint64_t seed);

}  // namespace differnet
