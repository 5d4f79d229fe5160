#include "preprocess.h"

#include <cmath>
#include <map>
#include <mutex>
#include <optional>

#include <torch/version.h>

#include "error.h"

namespace differnet {

namespace {

// Source coordinates (pixel-edge units: pixel i spans [i, i+1)) of each output pixel of a rotation by
// `angle_deg` about the centre, exactly as PIL's Image.rotate builds its affine matrix.
struct RotationMap {
  std::vector<double> u, v;  // size*size each
};

RotationMap rotation_map(double angle_deg, int size) {
  const double a = -angle_deg * M_PI / 180.0;
  auto round15 = [](double x) { return std::round(x * 1e15) / 1e15; };
  const double m0 = round15(std::cos(a)), m1 = round15(std::sin(a));
  const double m3 = round15(-std::sin(a)), m4 = round15(std::cos(a));
  const double c = size / 2.0;
  const double m2 = m0 * -c + m1 * -c + c, m5 = m3 * -c + m4 * -c + c;
  RotationMap map;
  map.u.resize(static_cast<size_t>(size) * size);
  map.v.resize(map.u.size());
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const size_t i = static_cast<size_t>(y) * size + x;
      map.u[i] = m0 * (x + 0.5) + m1 * (y + 0.5) + m2;
      map.v[i] = m3 * (x + 0.5) + m4 * (y + 0.5) + m5;
    }
  return map;
}

// Flat source index of each output pixel for nearest sampling, or size*size (the fill pixel) when
// the source falls outside. Cached: the test-time angles repeat on every frame.
at::Tensor nearest_index(double angle_deg, int size) {
  static std::mutex mutex;
  static std::map<std::pair<double, int>, at::Tensor> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_pair(angle_deg, size);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  RotationMap map = rotation_map(angle_deg, size);
  at::Tensor index = at::empty({static_cast<int64_t>(size) * size}, at::kLong);
  int64_t* out = index.data_ptr<int64_t>();
  for (size_t i = 0; i < map.u.size(); ++i) {
    // PIL's COORD(): truncation, with anything below zero outside.
    const int64_t xs = map.u[i] < 0 ? -1 : static_cast<int64_t>(map.u[i]);
    const int64_t ys = map.v[i] < 0 ? -1 : static_cast<int64_t>(map.v[i]);
    out[i] = (xs >= 0 && xs < size && ys >= 0 && ys < size) ? ys * size + xs : int64_t{size} * size;
  }
  if (cache.size() > 1024) cache.clear();
  cache.emplace(key, index);
  return index;
}

}  // namespace

namespace {
// The region of `frame` as a [h,w,bytes per pixel] uint8 view of its memory (no copy).
at::Tensor region_view(const FrameView& frame, const Region& requested) {
  check_frame(frame, requested);
  const Region r = effective_region(frame, requested);
  const int bpp = bytes_per_pixel(frame.format);
  const uint8_t* origin = frame.data + static_cast<size_t>(r.y) * frame.stride + static_cast<size_t>(r.x) * bpp;
  return at::from_blob(const_cast<uint8_t*>(origin), {r.height, r.width, bpp}, {frame.stride, bpp, 1}, at::kByte);
}
}  // namespace

at::Tensor upload_region(const FrameView& frame, const Region& region, const at::Device& device) {
  const at::Tensor view = region_view(frame, region);
  if (!device.is_cuda()) return view.clone(at::MemoryFormat::Contiguous);
  // Pinned host memory lets the copy run asynchronously; LibTorch's host allocator keeps the block
  // alive until the transfer has finished, even though this tensor goes away now.
  at::Tensor staging = at::empty(view.sizes(), at::TensorOptions(at::kByte).pinned_memory(true));
  staging.copy_(view);
  return staging.to(device, /*non_blocking=*/true);
}

at::Tensor pixels_to_rgb(const at::Tensor& pixels, PixelFormat format) {
  // Views where the channels are already in place; the float conversion below is the one copy.
  at::Tensor rgb;
  switch (format) {
    case PixelFormat::BGR:
    case PixelFormat::BGRx:
    case PixelFormat::BGRA:
      rgb = pixels.index_select(2, at::tensor(std::vector<int64_t>{2, 1, 0}, at::kLong).to(pixels.device()));
      break;
    case PixelFormat::GRAY8: rgb = pixels.expand({-1, -1, 3}); break;
    default: rgb = pixels.narrow(2, 0, 3); break;
  }
  return rgb.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).contiguous();
}

at::Tensor frame_to_rgb(const FrameView& frame, const Region& region) {
  return pixels_to_rgb(region_view(frame, region), frame.format);  // converts straight out of the frame
}

// "No scale factor" for LibTorch's upsampling: its optionals are c10::optional up to LibTorch 2.3
// and std::optional from 2.4 (the CUDA LibTorch of a recent torch wheel).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define NO_SCALE std::nullopt
#else
#define NO_SCALE c10::nullopt
#endif

at::Tensor resize_antialiased(const at::Tensor& rgb, int size) {
  // PIL resizes in two passes, horizontal first, through an 8-bit intermediate image; rounding in
  // between as it does brings the result from ~19 % to ~1 % of pixels one level off PIL's.
  auto pass = [](const at::Tensor& x, int64_t h, int64_t w) {
    if (x.size(2) == h && x.size(3) == w) return x;
    return at::_upsample_bilinear2d_aa(x, {h, w}, /*align_corners=*/false, NO_SCALE, NO_SCALE).round_().clamp_(0, 255);
  };
  return pass(pass(rgb, rgb.size(2), size), size, size);
}

at::Tensor rotate_nearest(const at::Tensor& image, const std::vector<double>& angles_deg) {
  TORCH_CHECK(image.dim() == 4 && image.size(0) == 1 && image.size(2) == image.size(3), "rotate_nearest: [1,C,S,S]");
  const int size = static_cast<int>(image.size(2));
  const int64_t channels = image.size(1);
  at::Tensor flat;  // flattened pixels plus one zero "fill" pixel at the end, made only when needed
  std::vector<at::Tensor> copies;
  copies.reserve(angles_deg.size());
  for (double angle : angles_deg) {
    if (angle == 0.0) {  // the identity (PIL returns a copy): no gather, no copy on the common T=1 path
      copies.push_back(image[0]);
      continue;
    }
    if (!flat.defined())
      flat = at::cat({image.reshape({channels, -1}), at::zeros({channels, 1}, image.options())}, 1);
    copies.push_back(flat.index_select(1, nearest_index(angle, size).to(image.device())).view({channels, size, size}));
  }
  return at::stack(copies);
}

at::Tensor rotate_bilinear(const at::Tensor& maps, const std::vector<double>& angles_deg) {
  TORCH_CHECK(maps.dim() == 4 && maps.size(0) == static_cast<int64_t>(angles_deg.size()) && maps.size(2) == maps.size(3),
              "rotate_bilinear: [N,C,S,S] with N angles");
  const int size = static_cast<int>(maps.size(2));
  at::Tensor grid = at::empty({maps.size(0), size, size, 2}, at::kFloat);
  float* g = grid.data_ptr<float>();
  for (size_t n = 0; n < angles_deg.size(); ++n) {
    RotationMap map = rotation_map(angles_deg[n], size);
    for (size_t i = 0; i < map.u.size(); ++i) {  // grid_sample (align_corners=false) wants [-1,1] edge coordinates
      *g++ = static_cast<float>(2.0 * map.u[i] / size - 1.0);
      *g++ = static_cast<float>(2.0 * map.v[i] / size - 1.0);
    }
  }
  return at::grid_sampler_2d(maps, grid.to(maps.device(), maps.scalar_type()), /*bilinear*/ 0, /*zeros*/ 0,
                             /*align_corners=*/false);
}

at::Tensor normalize(const at::Tensor& levels, const std::array<double, 3>& mean, const std::array<double, 3>& std) {
  auto opts = levels.options();
  at::Tensor m = at::tensor(std::vector<float>(mean.begin(), mean.end()), opts.dtype(at::kFloat)).view({1, 3, 1, 1});
  at::Tensor s = at::tensor(std::vector<float>(std.begin(), std.end()), opts.dtype(at::kFloat)).view({1, 3, 1, 1});
  return (levels / 255.0 - m.to(levels.device())) / s.to(levels.device());
}

std::vector<double> test_time_angles(int transforms) {
  if (transforms < 1) throw Error("the number of test-time rotations must be at least 1, got " + std::to_string(transforms));
  std::vector<double> angles(static_cast<size_t>(transforms));
  for (int i = 0; i < transforms; ++i) angles[i] = 360.0 * i / transforms;
  return angles;
}

}  // namespace differnet
