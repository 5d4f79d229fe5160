#include "synthetic_defects.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace differnet {

namespace {

// splitmix64: the same numbers on every platform and standard library (std's distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }  // n >= 1
  double sign() { return (next() & 1) ? 1.0 : -1.0; }

 private:
  uint64_t state_;
};

constexpr double kPi = 3.14159265358979323846;

// Soft mask [H,W] of the pixels within `half_width` of the segment a-b (anti-aliased over one pixel).
at::Tensor segment_mask(const at::Tensor& ys, const at::Tensor& xs, double ax, double ay, double bx, double by,
                        double half_width) {
  const double dx = bx - ax, dy = by - ay, len2 = std::max(dx * dx + dy * dy, 1e-9);
  const at::Tensor t = (((xs - ax) * dx + (ys - ay) * dy) / len2).clamp(0.0, 1.0);
  const at::Tensor d = ((xs - ax - t * dx).pow(2) + (ys - ay - t * dy).pow(2)).sqrt();
  return (half_width + 0.5 - d).clamp(0.0, 1.0);
}

// Soft mask [H,W] of an ellipse: 1 inside (1 - edge) of its radii, falling linearly to 0 at its rim.
at::Tensor ellipse_mask(const at::Tensor& ys, const at::Tensor& xs, double cx, double cy, double rx, double ry,
                        double edge) {
  const at::Tensor r = (((xs - cx) / rx).pow(2) + ((ys - cy) / ry).pow(2)).sqrt();
  return ((1.0 - r) / edge).clamp(0.0, 1.0);
}

}  // namespace

const std::vector<SyntheticDefect>& all_synthetic_defects() {
  static const std::vector<SyntheticDefect> kinds = {SyntheticDefect::Scratch, SyntheticDefect::Crack,
                                                     SyntheticDefect::Spot, SyntheticDefect::Patch,
                                                     SyntheticDefect::Stain};
  return kinds;
}

const char* synthetic_defect_name(SyntheticDefect kind) {
  switch (kind) {
    case SyntheticDefect::Scratch: return "scratch";
    case SyntheticDefect::Crack: return "crack";
    case SyntheticDefect::Spot: return "spot";
    case SyntheticDefect::Patch: return "patch";
    case SyntheticDefect::Stain: return "stain";
  }
  return "?";
}

at::Tensor plant_synthetic_defect(const at::Tensor& levels, SyntheticDefect kind, uint64_t seed) {
  const bool batched = levels.dim() == 4;
  if (!(levels.dim() == 3 || (batched && levels.size(0) == 1)) || levels.size(batched ? 1 : 0) != 3)
    throw std::invalid_argument("plant_synthetic_defect: an image [1,3,H,W] or [3,H,W] is needed");
  at::Tensor img = (batched ? levels[0] : levels).to(at::kCPU, at::kFloat).clone();
  const int64_t h = img.size(1), w = img.size(2);
  if (h < 16 || w < 16) throw std::invalid_argument("plant_synthetic_defect: the image is under 16 px a side");
  const double side = static_cast<double>(std::min(h, w));
  Rng rng(seed * 0x2545F4914F6CDD1Dull + static_cast<uint64_t>(kind) + 1);
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor ys = at::arange(h, opts).view({h, 1}) + 0.5;
  const at::Tensor xs = at::arange(w, opts).view({1, w}) + 0.5;
  double contrast = rng.sign() * rng.uniform(0.15, 0.35) * 255.0;
  at::Tensor mask;
  switch (kind) {
    case SyntheticDefect::Scratch: {
      const double len = rng.uniform(0.15, 0.4) * side, angle = rng.uniform(0.0, kPi);
      const double cx = rng.uniform(0.2, 0.8) * w, cy = rng.uniform(0.2, 0.8) * h;
      const double ex = 0.5 * len * std::cos(angle), ey = 0.5 * len * std::sin(angle);
      const double half = 0.5 * std::max(1.0, rng.uniform(0.005, 0.012) * side);
      mask = segment_mask(ys, xs, cx - ex, cy - ey, cx + ex, cy + ey, half);
      break;
    }
    case SyntheticDefect::Crack: {
      double x = rng.uniform(0.2, 0.8) * w, y = rng.uniform(0.2, 0.8) * h, angle = rng.uniform(0.0, 2 * kPi);
      const double half = 0.5 * std::max(1.0, 0.006 * side);
      const int64_t steps = 6 + rng.below(9);
      mask = at::zeros({h, w}, opts);
      for (int64_t i = 0; i < steps; ++i) {
        angle += rng.uniform(-0.8, 0.8);
        const double step = rng.uniform(0.02, 0.05) * side;
        const double nx = x + step * std::cos(angle), ny = y + step * std::sin(angle);
        mask = at::maximum(mask, segment_mask(ys, xs, x, y, nx, ny, half));
        x = nx;
        y = ny;
      }
      contrast = -std::abs(contrast);
      break;
    }
    case SyntheticDefect::Spot: {
      const double r = rng.uniform(0.02, 0.06) * side;
      const double cx = rng.uniform(0.15, 0.85) * w, cy = rng.uniform(0.15, 0.85) * h;
      mask = ellipse_mask(ys, xs, cx, cy, r * rng.uniform(0.6, 1.4), r * rng.uniform(0.6, 1.4), 0.3);
      break;
    }
    case SyntheticDefect::Stain: {
      const double r = rng.uniform(0.12, 0.25) * side;
      const double cx = rng.uniform(0.2, 0.8) * w, cy = rng.uniform(0.2, 0.8) * h;
      mask = ellipse_mask(ys, xs, cx, cy, r, r * rng.uniform(0.5, 0.8), 0.6);
      contrast *= 0.5;
      break;
    }
    case SyntheticDefect::Patch: {
      const int64_t pw = std::max<int64_t>(2, static_cast<int64_t>(rng.uniform(0.1, 0.25) * w));
      const int64_t ph = std::max<int64_t>(2, static_cast<int64_t>(rng.uniform(0.1, 0.25) * h));
      const int64_t sx = rng.below(w - pw + 1), sy = rng.below(h - ph + 1);
      const int64_t dx = rng.below(w - pw + 1), dy = rng.below(h - ph + 1);
      at::Tensor p = img.slice(1, sy, sy + ph).slice(2, sx, sx + pw).clone();
      const int64_t turn = rng.below(3);  // flipped top-bottom, left-right, or turned half a turn
      p = turn == 0 ? p.flip({1}) : turn == 1 ? p.flip({2}) : p.flip({1, 2});
      p = p * rng.uniform(0.8, 1.2);
      img.slice(1, dy, dy + ph).slice(2, dx, dx + pw).copy_(p);
      break;
    }
  }
  if (mask.defined()) img += contrast * mask.unsqueeze(0);
  img = img.clamp(0.0, 255.0);
  if (levels.scalar_type() == at::kByte) img = img.round().to(at::kByte);
  else img = img.to(levels.scalar_type());
  img = img.to(levels.device());
  return batched ? img.unsqueeze(0) : img;
}

}  // namespace differnet
