// differnet-eval: ROC AUC of a model on a labelled folder, with a JSON report and pictures.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "arithmetic_calibration.h"
#include "cli.h"
#include "dataset.h"
#ifdef DIFFERNET_EVAL_PICTURES
#include "eval_pictures.h"
#endif
#include "gaussian_baseline.h"
#include "preprocess.h"
#include "image_file.h"
#include "metrics.h"
#include "model.h"
#include "runtime.h"
#include "scoring.h"
#include "sha256.h"
#include "tiling.h"

using namespace differnet;
namespace fs = std::filesystem;

namespace {

const char* kHelp = R"(usage: differnet-eval [options] MODEL TESTDIR --report REPORT.json

Scores every test image and reports how well the scores separate good from defective: ROC AUC
overall and per defect class (each against the good images), and the confusion counts at the
model's threshold.

TESTDIR is either in MVTec AD layout (TESTDIR/test/good, TESTDIR/test/<defect>/...) or a folder whose
sub-folders are classes, the good one named by --good. Images are found recursively in each class.

  --report FILE     JSON report (required): auroc, per_class, threshold, confusion, transforms, images
  --good NAME       the good class's folder (default good)
  --ext LIST        extensions to take (default png,jpg,jpeg,bmp)
  --exclude LIST    skip images whose file names are listed in LIST (e.g. the training images)
  --transforms T    test-time rotations 360*i/T (default 1, as the element; the paper: 64,
                    about 64 times slower)
  --tiles CxR|auto  score each image as tiles, its score the largest tile score (default: the
                    model's tiling); --tile-overlap F: their overlap (default: the model's)
  --threshold X     the decision threshold for the confusion counts (default: the model's)
  --out-dir DIR     also write roc.png and heatmaps of the highest-scored defective and good images
  --pictures N      how many of each for --out-dir (default 4)
  --localization M  how --pixel-auroc makes the heatmaps: auto (the local scorer when the model
                    has one, else the gradient), gradient or local
  --pixel-auroc     also compute the heatmap of every defective image and report the
                    pixel-level ROC AUC against its mask (overall and per class), at 112 x 112:
                    the mask is NAME.png beside NAME.jpg (Magnetic Tile) or
                    ground_truth/CLASS/NAME_mask.png (MVTec AD); images without a mask are skipped
                    Also PRO, MVTec AD's per-region overlap: the area under the curve of the
                    mean share of each defect region (8-connected, per mask) found, against
                    the false-positive rate over every normal pixel (the good test images'
                    heatmaps included), up to 30 %, divided by 0.3; overall and per class
  --gaussian-baseline DIR  also score with a plain Gaussian (Mahalanobis distance) fitted to the
                    same pooled features of the good training images in DIR (a yardstick for the flow)
  --baseline-include LIST  keep only these file names of DIR (e.g. the training list)
  --baseline-rotations N   rotations 360*i/N per training image for the Gaussian (default 1:
                    none; on Magnetic Tile rotations made the Gaussian worse)
                    The covariance is the Ledoit-Wolf shrinkage estimate (coefficient printed).
  --threads N, --device NAME
  --precision P     the backbone's arithmetic: auto (default: as the element chooses it), fp32 (the
                    method), fp16 (CUDA only), bf16 or int8 (CPU, AlexNet; a model calibrated for it); the
                    score stays fp32
  --flow-precision P  the flow's linear layers: auto (default), fp32 (the method), bf16 or int8 (CPU)
                    The threshold applied is the model's for that arithmetic (differnet-info lists them).

example (Magnetic Tile, the paper's split):
  differnet-eval mt.model DATA --ext jpg --good MT_Free --exclude DATA/train_good.txt --report r.json
)";

struct Sample {
  std::string path, cls;
  int label;
  double score = 0;
};

std::vector<Sample> collect(const std::string& testdir, const std::string& good, const std::vector<std::string>& ext) {
  fs::path root = fs::is_directory(fs::path(testdir) / "test") ? fs::path(testdir) / "test" : fs::path(testdir);
  if (!fs::is_directory(root)) throw Error("test folder '" + testdir + "' does not exist");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (std::find(classes.begin(), classes.end(), good) == classes.end())
    throw Error("no good class '" + good + "' in '" + root.string() + "' (use --good NAME)");
  std::vector<Sample> out;
  for (const auto& cls : classes)
    for (const auto& p : find_images({(root / cls).string()}, ext)) out.push_back({p, cls, cls == good ? 0 : 1});
  return out;
}

// Each defect class against the good images: class -> ROC AUC.
nlohmann::json per_class_auroc(const std::vector<Sample>& samples, const std::vector<double>& scores,
                               const std::vector<std::string>& classes) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& cls : classes) {
    std::vector<double> sc;
    std::vector<int> lb;
    for (size_t i = 0; i < samples.size(); ++i)
      if (samples[i].label == 0 || samples[i].cls == cls) sc.push_back(scores[i]), lb.push_back(samples[i].label);
    out[cls] = roc_auc(sc, lb);
  }
  return out;
}

// The mask of a defective image: NAME.png beside it (Magnetic Tile) or the MVTec AD ground truth
// (TESTDIR/ground_truth/CLASS/NAME_mask.png); "" when there is none.
std::string mask_path(const Sample& s) {
  fs::path p(s.path);
  fs::path beside = p;
  beside.replace_extension(".png");
  if (beside != p && fs::is_regular_file(beside)) return beside.string();
  fs::path mvtec = p.parent_path().parent_path().parent_path() / "ground_truth" / s.cls /
                   (p.stem().string() + "_mask.png");
  if (fs::is_regular_file(mvtec)) return mvtec.string();
  return "";
}

// Pixel-level ROC AUC of the gradient heatmaps of the defective images against their masks, both at
// kSide x kSide (the map area-averaged, the mask's pixel share > 0.5 counts as defect).
nlohmann::json pixel_auroc(const Model& model, const std::vector<Sample>& samples, int T, MapMethod method) {
  constexpr int kSide = 112;
  std::map<std::string, std::pair<std::vector<double>, std::vector<int>>> per_class;
  std::vector<double> all_scores;
  std::vector<int> all_labels;
  // PRO: each defect region's pixel scores (per class), and every normal pixel of the test images
  // (the good images' too, as MVTec AD counts them).
  std::map<std::string, std::vector<std::vector<double>>> regions_per_class;
  std::vector<double> normal_pixels;
  int used = 0, skipped = 0, defective = 0;
  const int total = static_cast<int>(samples.size());
  for (const auto& s : samples) defective += s.label;
  int done = 0;
  for (const auto& s : samples) {
    ++done;
    const std::string mask = s.label == 1 ? mask_path(s) : "";
    if (s.label == 1 && mask.empty()) {
      ++skipped;
      continue;
    }
    at::Tensor levels = load_resized(s.path, model.config.input_size).to(model.device());
    at::Tensor map = score_image(model, levels, T, true, method).map.to(at::kCPU, at::kFloat);
    map = at::adaptive_avg_pool2d(map.unsqueeze(0).unsqueeze(0), {kSide, kSide}).flatten();
    if (s.label != 1) {
      map = map.to(at::kDouble).contiguous();
      normal_pixels.insert(normal_pixels.end(), map.data_ptr<double>(), map.data_ptr<double>() + map.numel());
      cli::progress_line("heatmaps " + std::to_string(done) + "/" + std::to_string(total),
                         static_cast<double>(done) / total);
      continue;
    }
    at::Tensor m = load_resized(mask, model.config.input_size)[0][0].to(at::kFloat).gt(127).to(at::kFloat);
    m = at::adaptive_avg_pool2d(m.unsqueeze(0).unsqueeze(0), {kSide, kSide}).flatten().gt(0.5).to(at::kInt).contiguous();
    map = map.to(at::kDouble).contiguous();
    auto& [sc, lb] = per_class[s.cls];
    const double* mv = map.data_ptr<double>();
    const int* kv = m.data_ptr<int>();
    sc.insert(sc.end(), mv, mv + map.numel());
    lb.insert(lb.end(), kv, kv + m.numel());
    all_scores.insert(all_scores.end(), mv, mv + map.numel());
    all_labels.insert(all_labels.end(), kv, kv + m.numel());
    {
      std::vector<int> region_of;
      const int count = label_regions(std::vector<int>(kv, kv + m.numel()), kSide, kSide, region_of);
      std::vector<std::vector<double>> regions(static_cast<size_t>(count));
      for (size_t i = 0; i < region_of.size(); ++i) {
        if (region_of[i]) regions[static_cast<size_t>(region_of[i] - 1)].push_back(mv[i]);
        else normal_pixels.push_back(mv[i]);
      }
      auto& list = regions_per_class[s.cls];
      list.insert(list.end(), regions.begin(), regions.end());
    }
    ++used;
    cli::progress_line("heatmaps " + std::to_string(done) + "/" + std::to_string(total),
                       static_cast<double>(done) / total);
  }
  cli::progress_done();
  if (used == 0) throw Error("--pixel-auroc: no defective image has a mask (NAME.png beside it, or MVTec's ground_truth)");
  nlohmann::json classes = nlohmann::json::object();
  for (const auto& [cls, v] : per_class) {
    const auto positives = std::count(v.second.begin(), v.second.end(), 1);
    classes[cls] = positives > 0 && positives < static_cast<long>(v.second.size()) ? nlohmann::json(roc_auc(v.first, v.second))
                                                                                   : nlohmann::json(nullptr);
  }
  nlohmann::json pro_classes = nlohmann::json::object();
  std::vector<std::vector<double>> all_regions;
  for (const auto& [cls, regions] : regions_per_class) {
    pro_classes[cls] = regions.empty() ? nlohmann::json(nullptr) : nlohmann::json(pro_auc(regions, normal_pixels));
    all_regions.insert(all_regions.end(), regions.begin(), regions.end());
  }
  nlohmann::json pro = {{"max_fpr", 0.3}, {"regions", all_regions.size()}, {"per_class", pro_classes},
                        {"auc", all_regions.empty() ? nlohmann::json(nullptr) : nlohmann::json(pro_auc(all_regions, normal_pixels))}};
  return {{"auroc", roc_auc(all_scores, all_labels)}, {"per_class", classes}, {"images", used}, {"pro", pro},
          {"images_without_mask", skipped}, {"side", kSide},
          {"localization", method == MapMethod::Local ? "local" : "gradient"}};
}

#ifdef DIFFERNET_EVAL_PICTURES
// The image beside its heatmap (min-max normalised, JET) blended over it, with the score written.
void heatmap_picture(const Model& model, const Sample& s, int T, const std::string& path) {
  at::Tensor levels = load_resized(s.path, model.config.input_size);
  ScoreResult r = score_image(model, levels, T, true);
  char text[160];
  std::snprintf(text, sizeof text, "%s  score %.4f", s.cls.c_str(), s.score);
  write_heatmap_picture(levels, r.map, text, path);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  return cli::run_tool("differnet-eval", [&] {
    cli::Args args(argc, argv,
                   {{"report", true}, {"good", true}, {"ext", true}, {"exclude", true}, {"transforms", true},
                    {"threshold", true}, {"out-dir", true}, {"pictures", true}, {"threads", true}, {"device", true}, {"precision", true}, {"flow-precision", true},
                    {"gaussian-baseline", true}, {"pixel-auroc", false}, {"baseline-include", true}, {"baseline-rotations", true},
                    {"tiles", true}, {"tile-overlap", true}, {"localization", true}},
                   kHelp);
    if (args.positionals().size() != 2) throw cli::UsageError("give a model and a test folder (see --help)");
    if (!args.has("report")) throw cli::UsageError("--report REPORT.json is required");
#ifndef DIFFERNET_EVAL_PICTURES
    if (args.has("out-dir"))
      throw cli::UsageError("--out-dir: this build draws no pictures (built without OpenCV, -Dimage_io=stb)");
#endif
    const std::string model_path = args.positionals()[0], testdir = args.positionals()[1];
    const int T = args.integer("transforms", 1, 1, 1024);
    const std::string device = resolve_device(args.text("device", "auto"));
    const std::string precision_choice = args.text("precision", "auto");
    const std::string flow_precision_choice = args.text("flow-precision", "auto");
    {
      Precision p;
      FlowPrecision f;
      if (parse_precision_choice(precision_choice, p)) check_precision(device, p);
      parse_flow_precision_choice(flow_precision_choice, f);
    }
    const int threads = set_threads(args.integer("threads", 0, 0, 1024));
    Model model = load_model(model_path);
    const ChosenArithmetic arithmetic = choose_arithmetic(precision_choice, flow_precision_choice, device, model.calibration,
                                                          model.extractor.backbone().architecture());
    const Precision precision = arithmetic.backbone;
    const FlowPrecision flow_precision = arithmetic.flow;
    const bool has_local = model.extractor.local().enabled();
    const std::string localization = args.text("localization", "auto");
    if (localization != "auto" && localization != "gradient" && localization != "local")
      throw cli::UsageError("--localization takes auto, gradient or local, not '" + localization + "'");
    if (localization == "local" && !has_local)
      throw cli::UsageError("--localization local: this model has no local scorer (differnet-train --local yes)");
    const MapMethod map_method = localization == "gradient" || !has_local ? MapMethod::Gradient : MapMethod::Local;
    const std::string tiles = args.text("tiles", model.config.tiles);
    const double tile_overlap = args.number("tile-overlap", model.config.tile_overlap, 0, 0.9);
    if (tiles != "auto") {
      try {
        TileGrid::parse(tiles, tile_overlap);
      } catch (const Error& e) {
        throw cli::UsageError(std::string("--tiles: ") + e.what());
      }
    }
    std::vector<Sample> samples = collect(testdir, args.text("good", "good"), args.list("ext", "png,jpg,jpeg,bmp"));
    if (args.has("exclude")) {
      const auto names = read_name_list(args.text("exclude", ""));
      const std::set<std::string> drop(names.begin(), names.end());
      samples.erase(std::remove_if(samples.begin(), samples.end(),
                                   [&](const Sample& s) { return drop.count(fs::path(s.path).filename().string()) > 0; }),
                    samples.end());
    }
    std::vector<int> labels;
    for (const auto& s : samples) labels.push_back(s.label);
    if (std::count(labels.begin(), labels.end(), 0) == 0 || std::count(labels.begin(), labels.end(), 1) == 0)
      throw Error("the test folder needs both good and defective images (found " + std::to_string(samples.size()) + ")");

    model.prepare_for_inference(device, precision, flow_precision);
    GaussianBaseline gaussian;
    if (args.has("gaussian-baseline")) {
      auto paths = select_images({args.text("gaussian-baseline", "")}, args.list("ext", "png,jpg,jpeg,bmp"),
                                 args.text("baseline-include", ""), "");
      if (paths.empty()) throw Error("no images for the Gaussian baseline in '" + args.text("gaussian-baseline", "") + "'");
      const auto angles = test_time_angles(args.integer("baseline-rotations", 1, 1, 256));
      std::vector<at::Tensor> feats;
      at::NoGradGuard no_grad;
      for (const auto& p : paths) {
        feats.push_back(model.extractor.features(make_copies(load_resized(p, model.config.input_size).to(model.device()), angles, model.config)));
        cli::progress_line("Gaussian baseline: features of " + std::to_string(feats.size()) + "/" + std::to_string(paths.size()),
                           static_cast<double>(feats.size()) / paths.size());
      }
      cli::progress_done();
      gaussian.fit(at::cat(feats, 0));
      std::fprintf(stderr, "differnet-eval: Gaussian baseline on %zu images x %zu rotations, Ledoit-Wolf shrinkage %.4f\n",
                   paths.size(), angles.size(), gaussian.shrinkage());
    }
    std::fprintf(stderr, "differnet-eval: %zu images, T=%d, %s, %s, flow %s (%s), %d threads\n", samples.size(), T,
                 device.c_str(), precision_name(precision), flow_precision_name(flow_precision), arithmetic.note.c_str(),
                 threads);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> scores, gaussian_scores, local_scores;
    // A model holding both a trained flow and its pooled Gaussian: each part's own ROC AUC is
    // reported too, whichever of them (or their combination) the model scores with.
    const bool has_parts = model.config.image_score.flow_trained && model.config.image_score.gaussian && model.gaussian.fitted();
    Model parts_model = model;  // shares the tensors; scores both parts
    parts_model.config.image_score.method = "combined";
    std::vector<double> flow_parts, gaussian_parts;
    const auto angles = test_time_angles(T);
    for (auto& s : samples) {
      {
        // Features once; the flow and the Gaussian baseline both score them. With tiling, each tile
        // is scored and the image's score is the largest (as in the element).
        at::NoGradGuard no_grad;
        s.score = -std::numeric_limits<double>::infinity();
        double g = s.score, local = s.score, flow_part = s.score, gaussian_part = s.score;
        for (const auto& tile : load_resized_tiles(s.path, model.config.input_size, tiles, tile_overlap)) {
          const at::Tensor copies = make_copies(tile.to(model.device()), angles, model.config);
          at::Tensor local_maps;
          at::Tensor features = model.extractor.features(copies, 0, has_local ? &local_maps : nullptr);
          const ScoreParts parts = score_parts(has_parts ? parts_model : model, features, static_cast<int64_t>(copies.size(0)));
          s.score = std::max(s.score, combine_score_parts(model, parts, model.calibration.flow_scale,
                                                          model.calibration.gaussian_scale).item<double>());
          if (parts.flow.defined()) flow_part = std::max(flow_part, parts.flow.item<double>());
          if (parts.gaussian.defined()) gaussian_part = std::max(gaussian_part, parts.gaussian.item<double>());
          if (has_local) local = std::max(local, local_maps.mean(0).max().item<double>());
          if (gaussian.fitted()) g = std::max(g, gaussian.distances(features).mean().item<double>());
        }
        if (gaussian.fitted()) gaussian_scores.push_back(g);
        if (has_local) local_scores.push_back(local);
        if (has_parts) {
          flow_parts.push_back(flow_part);
          gaussian_parts.push_back(gaussian_part);
        }
      }
      scores.push_back(s.score);
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      cli::progress_line("scoring " + std::to_string(scores.size()) + "/" + std::to_string(samples.size()) + "  " +
                             cli::format_duration(el / scores.size() * (samples.size() - scores.size())) + " left",
                         static_cast<double>(scores.size()) / samples.size());
    }
    cli::progress_done();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    const double auc = roc_auc(scores, labels);
    std::vector<std::string> classes;
    for (const auto& s : samples)
      if (s.label == 1 && std::find(classes.begin(), classes.end(), s.cls) == classes.end()) classes.push_back(s.cls);
    const nlohmann::json per_class = per_class_auroc(samples, scores, classes);
    const double threshold = args.has("threshold") ? args.number("threshold", 0, -1e30, 1e30)
                             : model.calibration.threshold_for(arithmetic.threshold_arithmetic);
    nlohmann::json report = {{"auroc", auc}, {"per_class", per_class}, {"transforms", T},
                             {"model", model_path}, {"model_id", sha256_file_hex(model_path).substr(0, 12)},
                             {"images_good", std::count(labels.begin(), labels.end(), 0)},
                             {"images_defective", std::count(labels.begin(), labels.end(), 1)},
                             {"seconds", seconds}, {"device", device}, {"precision", precision_name(precision)},
                             {"flow_precision", flow_precision_name(flow_precision)},
                             {"threshold_arithmetic", arithmetic.threshold_arithmetic}};
    report["image_score"] = model.config.image_score.method;
    std::printf("ROC AUC %.4f over %zu images (T=%d, image score %s, %.1f s)\n", auc, samples.size(), T,
                model.config.image_score.method.c_str(), seconds);
    for (const auto& cls : classes) std::printf("  %-24s %.4f\n", cls.c_str(), per_class[cls].get<double>());
    {
      // The operating point a line can live with: the best detection rate with at most 1 % of the
      // good images flagged (a threshold just above the good score that keeps them within 1 %).
      std::vector<double> good_scores, bad_scores;
      for (size_t i = 0; i < scores.size(); ++i) (labels[i] ? bad_scores : good_scores).push_back(scores[i]);
      std::sort(good_scores.begin(), good_scores.end());
      const size_t allowed = good_scores.size() / 100;
      const double t = good_scores[good_scores.size() - 1 - allowed];
      const auto flagged = std::count_if(bad_scores.begin(), bad_scores.end(), [&](double v) { return v > t; });
      const auto false_alarms = std::count_if(good_scores.begin(), good_scores.end(), [&](double v) { return v > t; });
      report["at_1_percent_false_alarms"] = {{"threshold", t}, {"detected", flagged}, {"false_alarms", false_alarms},
                                             {"detection_rate", static_cast<double>(flagged) / bad_scores.size()}};
      std::printf("at <= 1%% false alarms (%td of %zu good images flagged, threshold %.6g): %td of %zu defective "
                  "images detected (%.1f %%)\n", false_alarms, good_scores.size(), t, flagged, bad_scores.size(),
                  100.0 * flagged / bad_scores.size());
    }
    if (std::isnan(threshold)) {
      report["threshold"] = nullptr;
      report["confusion"] = nullptr;
      std::printf("no threshold (uncalibrated model, no --threshold): no confusion counts\n");
    } else {
      Confusion c = confusion_at(scores, labels, threshold);
      report["threshold"] = threshold;
      report["confusion"] = {{"true_positive", c.true_positive}, {"false_positive", c.false_positive},
                             {"true_negative", c.true_negative}, {"false_negative", c.false_negative}};
      std::printf("at threshold %.6g: %d true positives, %d false positives, %d true negatives, %d false negatives\n",
                  threshold, c.true_positive, c.false_positive, c.true_negative, c.false_negative);
    }
    if (args.has("pixel-auroc")) {
      const nlohmann::json px = pixel_auroc(model, samples, T, map_method);
      report["pixel"] = px;
      std::printf("pixel-level ROC AUC %.4f over the heatmaps of %d defective images (T=%d)\n",
                  px["auroc"].get<double>(), px["images"].get<int>(), T);
      for (const auto& [cls, v] : px["per_class"].items())
        if (!v.is_null()) std::printf("  %-24s %.4f\n", cls.c_str(), v.get<double>());
      const nlohmann::json& pro = px["pro"];
      if (!pro["auc"].is_null()) {
        std::printf("PRO (per-region overlap up to 30 %% false-positive pixels, good images' pixels counted) %.4f "
                    "over %zu defect regions\n", pro["auc"].get<double>(), pro["regions"].get<size_t>());
        for (const auto& [cls, v] : pro["per_class"].items())
          if (!v.is_null()) std::printf("  %-24s %.4f\n", cls.c_str(), v.get<double>());
      }
    }
    if (has_local) {
      // The local map's maximum as the image score (rotated copies' maps averaged unturned: at T = 1,
      // what the element gives).
      const double l_auc = roc_auc(local_scores, labels);
      report["local_score"] = {{"auroc", l_auc}, {"per_class", per_class_auroc(samples, local_scores, classes)}};
      std::printf("local map maximum as the image score: ROC AUC %.4f\n", l_auc);
    }
    if (has_parts) {
      const double f_auc = roc_auc(flow_parts, labels), g_auc = roc_auc(gaussian_parts, labels);
      report["parts"] = {{"flow", {{"auroc", f_auc}, {"per_class", per_class_auroc(samples, flow_parts, classes)}}},
                         {"gaussian", {{"auroc", g_auc}, {"per_class", per_class_auroc(samples, gaussian_parts, classes)}}}};
      std::printf("image score %s; each part alone: the flow ROC AUC %.4f, the pooled Gaussian %.4f\n",
                  model.config.image_score.method.c_str(), f_auc, g_auc);
    }
    if (gaussian.fitted()) {
      const nlohmann::json g_per_class = per_class_auroc(samples, gaussian_scores, classes);
      const double g_auc = roc_auc(gaussian_scores, labels);
      report["baseline_gaussian"] = {{"auroc", g_auc}, {"per_class", g_per_class}};
      std::printf("Gaussian baseline (Mahalanobis on the same features): ROC AUC %.4f\n", g_auc);
    }
    nlohmann::json images = nlohmann::json::array();
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      nlohmann::json entry = {{"path", s.path}, {"class", s.cls}, {"label", s.label}, {"score", s.score}};
      if (has_local) entry["local_score"] = local_scores[i];
      if (has_parts) {
        entry["flow_part"] = flow_parts[i];
        entry["gaussian_part"] = gaussian_parts[i];
      }
      if (gaussian.fitted()) entry["gaussian_score"] = gaussian_scores[i];
      images.push_back(entry);
    }
    report["images"] = images;
    const std::string report_path = args.text("report", "");
    {
      const std::string tmp = report_path + ".tmp";
      std::ofstream out(tmp);
      out << report.dump(2) << "\n";
      out.flush();  // a full disk shows at the flush or the close, not at the <<
      out.close();
      if (!out) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw Error("cannot write report '" + report_path + "' (" + std::strerror(errno) + "); the scores above are all there is");
      }
      fs::rename(tmp, report_path);
    }
    std::printf("report: %s\n", report_path.c_str());

#ifdef DIFFERNET_EVAL_PICTURES
    if (args.has("out-dir")) {
      const std::string dir = args.text("out-dir", "");
      fs::create_directories(dir);
      write_roc_picture(roc_curve(scores, labels), auc, dir + "/roc.png");
      const int k = args.integer("pictures", 4, 0, 100);
      std::vector<size_t> order(samples.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return samples[a].score > samples[b].score; });
      int bad = 0, good = 0;
      for (size_t i : order) {
        const Sample& s = samples[i];
        int& count = s.label ? bad : good;
        if (count >= k) continue;
        ++count;
        heatmap_picture(model, s, std::min(T, 8), dir + "/" + (s.label ? "defective_" : "good_") + std::to_string(count) + ".png");
      }
      std::printf("pictures: %s (roc.png, %d defective and %d good heatmaps)\n", dir.c_str(), bad, good);
    }
#endif
    return cli::kOk;
  });
}
