// synth-line-camera: draws a sample line-camera stream with no outside data: textured parts passing
// under a camera on a conveyor, with lighting noise and small position changes, and in some frames a
// small defect (scratch, crack, spot or chip; each at most 1 % of the part's area).
//
//   synth-line-camera --out-dir DIR [--frames N] [--seed S] [--defect-rate P] [--width W --height H]
// Writes DIR/frame-00000.png ... and DIR/labels.csv (frame,label,defect,x0,y0,x1,y1: label 1 =
// defective; x0..y1 the defect's bounding box in frame pixels, inclusive, -1 for good frames).
// --defect-rate 0 gives good frames only (training material).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>

namespace {

struct Options {
  std::string out_dir;
  int frames = 100, width = 640, height = 480;
  unsigned seed = 1;
  double defect_rate = 0.25;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "synth-line-camera: %s\nusage: synth-line-camera --out-dir DIR [--frames N] [--seed S] "
               "[--defect-rate P] [--width W] [--height H]\n", why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--out-dir") o.out_dir = value();
    else if (a == "--frames") o.frames = std::atoi(value().c_str());
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::atoi(value().c_str()));
    else if (a == "--defect-rate") o.defect_rate = std::atof(value().c_str());
    else if (a == "--width") o.width = std::atoi(value().c_str());
    else if (a == "--height") o.height = std::atoi(value().c_str());
    else usage(("unknown option " + a).c_str());
  }
  if (o.out_dir.empty()) usage("--out-dir is required");
  if (o.frames < 1 || o.width < 64 || o.height < 64 || o.defect_rate < 0 || o.defect_rate > 1)
    usage("frames >= 1, width/height >= 64 and 0 <= defect-rate <= 1");
  return o;
}

// The part's surface: a brushed, slightly mottled metal plate (same pattern family for every part).
cv::Mat part_texture(cv::Size size, std::mt19937& rng) {
  cv::Mat tex(size, CV_32FC1);
  std::normal_distribution<float> n(0, 1);
  cv::randn(tex, 0, 1);
  cv::GaussianBlur(tex, tex, cv::Size(0, 0), 12, 0.6);  // brushed along x
  cv::normalize(tex, tex, -1, 1, cv::NORM_MINMAX);
  cv::Mat mottle(size, CV_32FC1);
  cv::randn(mottle, 0, 1);
  cv::GaussianBlur(mottle, mottle, cv::Size(0, 0), 9);
  cv::normalize(mottle, mottle, -1, 1, cv::NORM_MINMAX);
  cv::Mat out = 150 + 18 * tex + 10 * mottle + n(rng) * 2;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::filesystem::create_directories(o.out_dir);
  std::ofstream labels(o.out_dir + "/labels.csv");
  labels << "frame,label,defect,x0,y0,x1,y1\n";
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  const int pw = o.width * 55 / 100, ph = o.height * 55 / 100;  // the part
  const char* kinds[] = {"scratch", "crack", "spot", "chip"};
  for (int f = 0; f < o.frames; ++f) {
    // Conveyor: dark belt with moving ribs, lighting varies per frame.
    const double light = 1.0 + (u(rng) - 0.5) * 0.12;
    cv::Mat frame(o.height, o.width, CV_32FC3);
    for (int y = 0; y < o.height; ++y)
      for (int x = 0; x < o.width; ++x) {
        const float belt = static_cast<float>(45 + 8 * std::sin((x + f * 23) * 0.25));
        frame.at<cv::Vec3f>(y, x) = cv::Vec3f(belt * 0.95f, belt, belt * 1.05f);
      }
    // The part, with a small position change.
    const int cx = o.width / 2 + static_cast<int>((u(rng) - 0.5) * o.width * 0.04);
    const int cy = o.height / 2 + static_cast<int>((u(rng) - 0.5) * o.height * 0.04);
    const cv::Rect box(cx - pw / 2, cy - ph / 2, pw, ph);
    cv::Mat tex = part_texture(box.size(), rng);
    cv::Mat mask(box.size(), CV_8UC1, cv::Scalar(0));
    const int r = std::min(pw, ph) / 8;  // rounded corners
    cv::rectangle(mask, cv::Rect(r, 0, pw - 2 * r, ph), 255, cv::FILLED);
    cv::rectangle(mask, cv::Rect(0, r, pw, ph - 2 * r), 255, cv::FILLED);
    for (cv::Point c : {cv::Point(r, r), cv::Point(pw - r - 1, r), cv::Point(r, ph - r - 1), cv::Point(pw - r - 1, ph - r - 1)})
      cv::circle(mask, c, r, 255, cv::FILLED);
    // Two mounting holes every part has.
    cv::circle(mask, cv::Point(pw / 6, ph / 2), ph / 14, 0, cv::FILLED);
    cv::circle(mask, cv::Point(pw * 5 / 6, ph / 2), ph / 14, 0, cv::FILLED);

    std::string defect = "none";
    cv::Rect where(-1, -1, 0, 0);  // the defect's bounding box, part coordinates
    auto cover = [&](cv::Point a, int pad) {  // grows `where` to hold a +-pad
      const cv::Rect r(a.x - pad, a.y - pad, 2 * pad + 1, 2 * pad + 1);
      where = where.x < 0 ? r : (where | r);
    };
    if (u(rng) < o.defect_rate) {
      defect = kinds[static_cast<int>(u(rng) * 4) % 4];
      const double area_budget = 0.01 * pw * ph;  // at most 1 % of the part
      const cv::Point p(static_cast<int>(pw * (0.3 + 0.4 * u(rng))), static_cast<int>(ph * (0.2 + 0.6 * u(rng))));
      if (defect == "scratch") {  // a thin bright line
        const double len = std::min(area_budget / 2.0, pw * 0.35);
        const double a = u(rng) * M_PI;
        cv::Point q(p.x + static_cast<int>(len * std::cos(a)), p.y + static_cast<int>(len * std::sin(a)));
        cv::line(tex, p, q, 235, 2, cv::LINE_AA);
        cover(p, 2);
        cover(q, 2);
      } else if (defect == "crack") {  // a dark zig-zag
        cv::Point a = p;
        const int steps = 6;
        const double seg = std::min(area_budget / 2.0, pw * 0.3) / steps;
        for (int s = 0; s < steps; ++s) {
          cv::Point b(a.x + static_cast<int>(seg), a.y + static_cast<int>((u(rng) - 0.5) * seg * 1.6));
          cv::line(tex, a, b, 35, 2, cv::LINE_AA);
          cover(a, 2);
          cover(b, 2);
          a = b;
        }
      } else if (defect == "spot") {  // a dark stain
        const int radius = static_cast<int>(std::sqrt(area_budget / M_PI));
        cv::circle(tex, p, radius, 60, cv::FILLED, cv::LINE_AA);
        cover(p, radius + 1);
      } else {  // a chip off an edge: the belt shows through
        const int s = static_cast<int>(std::sqrt(2 * area_budget));
        const int x0 = static_cast<int>(pw * (0.3 + 0.4 * u(rng)));
        std::vector<cv::Point> tri = {{x0, 0}, {x0 + s, 0}, {x0 + s / 2, s}};
        cv::fillConvexPoly(mask, tri, 0);
        cover({x0 + s / 2, s / 2}, s / 2 + 1);
      }
    }
    for (int y = 0; y < ph; ++y)
      for (int x = 0; x < pw; ++x)
        if (mask.at<uint8_t>(y, x)) {
          const float v = tex.at<float>(y, x);
          frame.at<cv::Vec3f>(box.y + y, box.x + x) = cv::Vec3f(v * 0.97f, v, v * 1.02f);
        }
    frame *= light;
    cv::Mat noise(frame.size(), CV_32FC3);
    cv::randn(noise, 0, 3);
    frame += noise;
    cv::Mat out;
    frame.convertTo(out, CV_8UC3);
    char name[32];
    std::snprintf(name, sizeof name, "/frame-%05d.png", f);
    if (!cv::imwrite(o.out_dir + name, out)) {
      std::fprintf(stderr, "synth-line-camera: cannot write %s%s\n", o.out_dir.c_str(), name);
      return 1;
    }
    // In frame pixels, clipped to the part (where the defect can be seen).
    where &= cv::Rect(0, 0, pw, ph);
    labels << f << "," << (defect == "none" ? 0 : 1) << "," << defect;
    if (defect == "none" || where.empty())
      labels << ",-1,-1,-1,-1\n";
    else
      labels << "," << box.x + where.x << "," << box.y + where.y << "," << box.x + where.x + where.width - 1 << ","
             << box.y + where.y + where.height - 1 << "\n";
  }
  std::printf("synth-line-camera: %d frames (%dx%d) in %s\n", o.frames, o.width, o.height, o.out_dir.c_str());
  return 0;
}
