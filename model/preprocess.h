// From an 8-bit frame to the normalised, rotated network input, as the authors' torchvision
// pipeline does it: Resize(448) with PIL's antialiased bilinear filter (8-bit result) ->
// RandomRotation (nearest, black fill, centre) -> ToTensor -> Normalize.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <vector>

#include "frame.h"

namespace differnet {

// The region of `frame`, bytes as they are ([h,w,bytes per pixel], uint8), on `device`: the only
// copy out of the frame. For CUDA the rows go into pinned host memory and on with a non-blocking
// copy, so the caller can go on while the transfer runs.
at::Tensor upload_region(const FrameView& frame, const Region& region, const at::Device& device);

// Uploaded pixels ([h,w,bpp] uint8) as float RGB levels 0..255, [1,3,h,w], on their device. Gray is
// copied to 3 channels; BGR orders are swapped; x and alpha are dropped.
at::Tensor pixels_to_rgb(const at::Tensor& pixels, PixelFormat format);

// The region of `frame` as float RGB levels 0..255, shape [1,3,h,w], on the CPU.
at::Tensor frame_to_rgb(const FrameView& frame, const Region& region);

// Square resize to size x size with antialiased bilinear interpolation (PIL's filter, as torch's
// antialias=True), horizontal then vertical, each pass rounded to 8-bit levels like PIL's. Agrees
// with PIL to within one level, on about 99 % of pixels exactly. [N,3,H,W] -> [N,3,S,S].
at::Tensor resize_antialiased(const at::Tensor& rgb, int size);

// Copies of `image` ([1,C,S,S]) rotated counter-clockwise by each angle in degrees about the centre,
// nearest sampling, zero fill (PIL Image.rotate conventions). Returns [angles,C,S,S].
at::Tensor rotate_nearest(const at::Tensor& image, const std::vector<double>& angles_deg);

// Each copy i of `maps` ([N,C,S,S]) rotated by angles_deg[i] with bilinear sampling and zero fill.
// Used to turn gradient maps back; the authors use cubic splines (scipy order 3) here.
at::Tensor rotate_bilinear(const at::Tensor& maps, const std::vector<double>& angles_deg);

// Levels 0..255 -> (x/255 - mean) / std per channel.
at::Tensor normalize(const at::Tensor& levels, const std::array<double, 3>& mean, const std::array<double, 3>& std);

// The T fixed test-time angles 360*i/T, i = 0..T-1.
std::vector<double> test_time_angles(int transforms);

}  // namespace differnet
