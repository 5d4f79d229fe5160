// differnet-train: trains a DifferNet model on good images and calibrates its threshold.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "backbone.h"
#include "arithmetic_calibration.h"
#include "calibration.h"
#include "image_score_choice.h"
#include "cli.h"
#include "dataset.h"
#include "image_file.h"
#include "local_flow_training.h"
#include "local_training.h"
#include "model.h"
#include "presets.h"
#include "runtime.h"
#include "safetensors.h"
#include "scoring.h"
#include "sha256.h"
#include "tiling.h"
#include "trainer.h"
#include "preprocess.h"
#include "video_frames.h"

using namespace differnet;

namespace {

const char* kHelp = R"(usage: differnet-train [options] IMAGES... -o MODEL

Trains a DifferNet model on images of good parts only and writes it, calibrated, to MODEL.
IMAGES are files and/or folders (searched recursively), and video files (.mp4, .mkv, .avi, .mov,
.webm, ...: every --video-interval-th frame is an image; a recorded clip of good parts).

selection:
  --ext LIST          extensions to take from folders (default png,jpg,jpeg,bmp)
  --include LIST      keep only images whose file names are listed in the file LIST (one per line)
  --exclude LIST      drop images whose file names are listed in LIST
  --limit N           train on a random subset of N images (seeded by --seed)
  --video-interval K  take every Kth frame of a video file (default 5)
  --roi X,Y,W,H       train on this region of each image and video frame, in pixels (the element's
                      roi syntax; default the whole picture; not with --tiles)
configuration:
  --preset NAME       accurate (default), fast, paper or fast-last-layer; options below override
                      the preset (README, "Training presets": each one's AUROC and frame time)
                      accurate: ResNet50-v2 stage 3 features, standardised per dimension, no
                             training rotations, feature noise 0.2, flow width 512, 96 epochs,
                             image score combined (Magnetic Tile: ROC AUC 0.986 over two seeds,
                             16 to 22 minutes on 2 CPU cores)
                      fast:  the same on SqueezeNet fire6 features, 48 epochs (0.965, 4 to 10
                             minutes; a few times faster per frame, for CPU line rates)
                      paper: the authors' numbers: the last layer, flow width 2048, 192 epochs,
                             4 fresh random rotations per image at every step (hours to days on a CPU)
                      fast-last-layer: the former default: the last layer and rotations, flow
                             width 512, 48 epochs, features of 16 rotations per image cached
  --backbone NAME     squeezenet1_1 (fast, bundled), resnet50v2 (accurate, bundled), alexnet (see
                      scripts/weights/export_alexnet.py) or a file (default: the preset's)
  --seed N            seed of everything random: subset, split, rotations, initial weights, the
                      local scorer's projection (default 0)
  --input-size N      network input side in px (default 448)
  --scales LIST       the sides the input is pooled at, px, each dividing the input size
                      (default: 1, 1/2 and 1/4 of it, the method's 448,224,112)
  --tiles CxR|auto    train on tiles of each image (wide line-scan frames): COLS x ROWS tiles, or
                      auto (square tiles of the short side, at most twice the input size); the
                      model records it and the element scores with the same tiling (default 1x1)
  --tile-overlap F    fraction of a tile shared with its neighbour, 0..0.9 (default 0)
  --layers LIST       backbone layers to pool, comma separated, in network order (preset);
                      squeezenet1_1: fire2..fire9, resnet50v2: stage1..stage3, alexnet:
                      conv1..conv5; "last" = the last one
                      (the method's choice)
  --standardize yes|no  standardise each feature dimension by its training mean and std before
                      the flow (preset; not in the method)
  --whiten yes|no     then whiten them: centre, and multiply by the inverse square root of their
                      Ledoit-Wolf covariance (stored in the model, D x D), so that the flow starts
                      from the Gaussian yardstick's metric (needs --standardize yes; no preset
                      whitens: on Magnetic Tile it raised the test ROC AUC of accurate to 0.988
                      but its held-out loss is far worse, README "Detection")
  --image-score M     how an image is scored: flow (DifferNet's), gaussian (one Gaussian over the
                      same pooled features, closed form) or combined (both, each divided by its
                      spread over the calibration images), or auto: the one of the three that
                      best tells the held-out images from the same images with synthetic
                      defects planted (scratch, crack, spot, patch, stain), printed as a table
                      and recorded in the model (needs at least 10 held-out images; with
                      fewer, combined). Preset: auto for fast and accurate, flow for paper.
                      All but flow also fit the Gaussian (stored in the model:
                      differnet-calibrate --image-score switches later)
  --local yes|no      also fit the local scorer, which makes heatmaps from the forward pass (a
                      Gaussian over the cells of two feature maps; seconds to minutes, no
                      training; preset: yes for fast and accurate, no for paper)
  --local-layers LIST the layers it reads (default: one at stride 8 and one at stride 16,
                      resnet50v2: stage2,stage3; squeezenet1_1: fire5,fire7)
  --local-dim N       dimensions each cell is projected to (256)
  --local-grid G      shallowest (preset: PatchCore's, the stride-8 layer's cells, the deeper
                      layer upsampled to them) or deepest (the stride-16 layer's cells, the
                      shallower layer pooled to them; files written before this option)
  --local-scales LIST which of the scales give a map, as indices into --scales (preset: 0,1,
                      the two finest; 0,1,2: all)
  --local-flow N      score the cells with a fully convolutional normalizing flow of N coupling
                      blocks (3 x 3 convolutional subnets, CS-Flow's kind) trained on the
                      Gaussian-whitened cell maps, instead of the Gaussian alone (0 = none, the
                      presets'); 2 blocks of 64 channels: a frame with a heatmap takes about
                      20 % longer (accurate, 2 cores)
  --local-flow-hidden N  hidden channels of its subnets (64)
  --local-flow-steps N   its optimiser steps per scale, 8 random 24 x 24-cell crops each (480)
  --feature-noise S   Gaussian noise of std S added to the standardised training features at every
                      step (preset; 0 = none, the method)
  --rotation DEG      training rotations uniform in +-DEG degrees (preset; the method: 180;
                      0 = none, and then score at T = 1)
  --flow-blocks N     coupling blocks (8)       --flow-width N     subnet hidden width (preset)
  --flow-hidden N     hidden layers per subnet (3)  --clamp-alpha X  soft clamp alpha (3)
  --epochs N          (preset)                  --batch-size N     images per step (24)
  --min-steps N       raise the epochs until the flow gets at least N optimiser steps however few
                      the images (with 16 images an epoch is one step; 1536 = the 48 x 32 steps
                      of 761 images); default 0 = off
  --rotations N       random rotations per image per step (4)
  --lr X (2e-4)  --beta1 X (0.8)  --beta2 X (0.8)  --eps X (1e-4)  --weight-decay X (1e-5)
  --feature-cache N   rotations per image in the cached feature pool, 0 = fresh rotations each step
learning curve:
  --curve FILE        write epoch, training loss and held-out loss (the --holdout images) as CSV
  --curve-every N     held-out loss every N epochs (default 4)
calibration (the decision threshold; DifferNet itself defines none):
  --holdout N         good images kept out of training to set the threshold (default: 10 % of the
                      images, at least 2; 0 when there are fewer than 10). With --holdout 0 the
                      threshold rests on the training images themselves, which score lower than
                      unseen good images: expect more false alarms; run differnet-calibrate on
                      fresh good images.
  --calibration-transforms T  test-time rotations for calibration (default 1: the element's default
                      T; calibrate at the T you will score at)
  --quantile Q        threshold = the Q quantile of the held-out scores (default 0.99)
  --calibrate-in LIST  the arithmetics (BACKBONE/FLOW precisions) to store a threshold for: "all"
                      (default: every one this machine runs, so that precision=auto can use it;
                      each backbone precision scores the calibration images once more) or a list
                      such as fp32/fp32,fp32/int8 (fp32/fp32 is always included)
runtime:
  --threads N         CPU threads, 0 = one per core (default)
  --device NAME       auto, cpu, cuda, cuda:N (default auto)

Ctrl-C stops after the current step and writes the model of the last finished epoch.

examples:
  differnet-train good_parts/ -o parts.model
  differnet-train DATA/MT_Free --ext jpg --include DATA/train_good.txt --holdout 0 -o mt.model
)";

}  // namespace

int main(int argc, char** argv) {
  return cli::run_tool("differnet-train", [&] {
    cli::Args args(argc, argv,
                   {{"o", true}, {"output", true}, {"ext", true}, {"include", true}, {"exclude", true},
                    {"limit", true}, {"video-interval", true}, {"roi", true}, {"preset", true}, {"backbone", true}, {"seed", true}, {"input-size", true}, {"scales", true},
                    {"tiles", true}, {"tile-overlap", true}, {"min-steps", true},
                    {"flow-blocks", true}, {"flow-width", true}, {"flow-hidden", true}, {"clamp-alpha", true},
                    {"epochs", true}, {"batch-size", true}, {"rotations", true}, {"lr", true}, {"beta1", true},
                    {"beta2", true}, {"eps", true}, {"weight-decay", true}, {"feature-cache", true},
                    {"holdout", true}, {"calibration-transforms", true}, {"quantile", true}, {"calibrate-in", true}, {"threads", true},
                    {"device", true}, {"layers", true}, {"standardize", true}, {"whiten", true}, {"rotation", true},
                    {"curve", true}, {"curve-every", true}, {"feature-noise", true},
                    {"local", true}, {"image-score", true}, {"local-layers", true}, {"local-dim", true}, {"local-grid", true}, {"local-scales", true},
                    {"local-flow", true}, {"local-flow-hidden", true}, {"local-flow-steps", true}},
                   kHelp);
    const std::string out = args.text("o", args.text("output", ""));
    if (out.empty()) throw cli::UsageError("no output model given (-o MODEL)");
    if (args.positionals().empty()) throw cli::UsageError("no training images given (see --help)");

    Preset p = preset(args.text("preset", "accurate"));
    ModelConfig& c = p.config;
    TrainOptions& t = p.train;
    const int seed = args.integer("seed", 0, 0, 1 << 30);
    t.seed = static_cast<uint64_t>(seed);
    set_input_size(c, args.integer("input-size", c.input_size, 32, 4096));
    if (args.has("scales")) {
      c.scales.clear();
      for (const auto& v : args.list("scales", "")) {
        char* end = nullptr;
        const long s = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || s < 16 || s > c.input_size || c.input_size % s != 0)
          throw cli::UsageError("--scales takes sides in px that divide the input size " +
                                std::to_string(c.input_size) + ", not '" + v + "'");
        c.scales.push_back(static_cast<int>(s));
      }
      if (c.scales.empty()) throw cli::UsageError("--scales needs at least one side");
      // The local scorer's default (every scale) follows; --local-scales below may choose again.
      std::vector<int> kept;
      for (int k : c.local.scales)
        if (k < static_cast<int>(c.scales.size())) kept.push_back(k);
      c.local.scales = kept.empty() ? std::vector<int>{0} : kept;
    }
    set_flow_blocks(c, args.integer("flow-blocks", c.flow.blocks, 1, 64));
    c.flow.width = args.integer("flow-width", c.flow.width, 1, 65536);
    c.flow.hidden_layers = args.integer("flow-hidden", c.flow.hidden_layers, 0, 16);
    c.flow.clamp_alpha = args.number("clamp-alpha", c.flow.clamp_alpha, 1e-3, 100);
    t.epochs = args.integer("epochs", t.epochs, 1, 100000);
    t.batch_size = args.integer("batch-size", t.batch_size, 1, 100000);
    t.rotations_per_image = args.integer("rotations", t.rotations_per_image, 1, 1024);
    t.lr = args.number("lr", t.lr, 1e-12, 1);
    t.beta1 = args.number("beta1", t.beta1, 0, 0.999999);
    t.beta2 = args.number("beta2", t.beta2, 0, 0.999999);
    t.eps = args.number("eps", t.eps, 1e-20, 1);
    t.weight_decay = args.number("weight-decay", t.weight_decay, 0, 1);
    t.feature_cache = args.integer("feature-cache", t.feature_cache, 0, 4096);
    t.rotation_deg = args.number("rotation", t.rotation_deg, 0, 180);
    t.feature_noise = args.number("feature-noise", t.feature_noise, 0, 10);
    if (args.has("layers")) c.layers = args.list("layers", "");
    c.tiles = args.text("tiles", c.tiles);
    c.tile_overlap = args.number("tile-overlap", c.tile_overlap, 0, 0.9);
    if (c.tiles != "auto") {
      try {
        TileGrid::parse(c.tiles, c.tile_overlap);
      } catch (const Error& e) {
        throw cli::UsageError(std::string("--tiles: ") + e.what());
      }
    }
    if (args.has("standardize")) {
      const std::string v = args.text("standardize", "");
      if (v != "yes" && v != "no") throw cli::UsageError("--standardize takes yes or no, not '" + v + "'");
      c.standardize = v == "yes";
    }
    if (args.has("whiten")) {
      const std::string v = args.text("whiten", "");
      if (v != "yes" && v != "no") throw cli::UsageError("--whiten takes yes or no, not '" + v + "'");
      c.whiten = v == "yes";
    }
    if (c.whiten && !c.standardize) throw cli::UsageError("--whiten yes needs --standardize yes");
    bool choose_image_score_auto = p.choose_image_score;
    if (args.has("image-score")) {
      const std::string v = args.text("image-score", "");
      choose_image_score_auto = v == "auto";
      try {
        c.image_score.method = choose_image_score_auto ? "combined" : image_score_name(parse_image_score(v));
      } catch (const Error& e) {
        throw cli::UsageError(std::string("--image-score: ") + e.what());
      }
      c.image_score.gaussian = c.image_score.method != "flow";
    }
    bool want_local = c.local.enabled();
    if (args.has("local")) {
      const std::string v = args.text("local", "");
      if (v != "yes" && v != "no") throw cli::UsageError("--local takes yes or no, not '" + v + "'");
      want_local = v == "yes";
      if (!want_local) c.local = LocalConfig{};
      if (want_local && !c.local.enabled()) {  // a preset without it (paper): fast's grid and scales
        c.local.grid = "shallowest";
        c.local.scales = c.scales.size() > 1 ? std::vector<int>{0, 1} : std::vector<int>{0};
      }
    }
    if (args.has("local-grid")) {
      const std::string v = args.text("local-grid", "");
      if (v != "deepest" && v != "shallowest")
        throw cli::UsageError("--local-grid takes shallowest or deepest, not '" + v + "'");
      c.local.grid = v;
    }
    if (args.has("local-layers")) {
      if (!want_local) throw cli::UsageError("--local-layers needs --local yes (this preset has no local scorer)");
      c.local.layers = args.list("local-layers", "");
    }
    c.local.dim = args.integer("local-dim", c.local.dim, 1, 4096);
    c.local.flow_blocks = args.integer("local-flow", c.local.flow_blocks, 0, 16);
    c.local.flow_hidden = args.integer("local-flow-hidden", c.local.flow_hidden, 1, 4096);
    if (c.local.flow_blocks > 0 && !want_local) throw cli::UsageError("--local-flow needs --local yes (this preset has no local scorer)");
    LocalFlowTrainOptions local_flow_options;
    local_flow_options.steps = args.integer("local-flow-steps", local_flow_options.steps, 1, 10000000);
    if (args.has("local-scales")) {
      c.local.scales.clear();
      for (const auto& v : args.list("local-scales", "")) {
        try {
          c.local.scales.push_back(std::stoi(v));
        } catch (const std::exception&) {
          throw cli::UsageError("--local-scales takes scale indices such as 0,1,2, not '" + v + "'");
        }
      }
    }
    t.heldout_every = args.integer("curve-every", 4, 1, 100000);
    const std::string curve_path = args.text("curve", "");
    const int cal_T = args.integer("calibration-transforms", 1, 1, 1024);
    const double quantile = args.number("quantile", 0.99, 0.5, 1.0);
    std::vector<std::string> calibrate_in;
    for (const auto& a : args.list("calibrate-in", "all"))
      if (a != "all") calibrate_in.push_back(a);

    // ---- the images
    for (const auto& p : args.positionals()) {  // an MVTec AD root would add its defect images too
      const std::filesystem::path root(p);
      if (std::filesystem::is_directory(root / "train" / "good") && std::filesystem::is_directory(root / "test"))
        throw cli::UsageError("'" + p + "' is an MVTec AD dataset root: its test/ folder holds defective images. "
                              "Train on " + (root / "train" / "good").string());
    }
    Region roi;
    try {
      roi = Region::parse(args.text("roi", ""));
    } catch (const Error& e) {
      throw cli::UsageError(std::string("--roi: ") + e.what());
    }
    if (!roi.whole_frame() && c.tiles != "1x1") throw cli::UsageError("--roi and --tiles cannot be combined");
    const int video_interval = args.integer("video-interval", 5, 1, 1 << 30);
    // Video files: every video_interval-th frame (its roi) resized now, named "FILE#FRAME".
    std::vector<std::string> image_inputs;
    std::map<std::string, at::Tensor> video_frames;
    std::vector<std::string> paths;
    for (const auto& p : args.positionals()) {
      if (!cli::is_video_path(p)) {
        image_inputs.push_back(p);
        continue;
      }
      if (c.tiles != "1x1") throw cli::UsageError("--tiles cannot be used with video input ('" + p + "')");
      size_t kept = 0;
      const int64_t decoded = cli::read_video_frames(p, video_interval, [&](const FrameView& f, int64_t index) {
        if (!roi.fits(f.width, f.height))
          throw Error("--roi " + roi.to_string() + " does not lie inside the " + std::to_string(f.width) + "x" +
                      std::to_string(f.height) + " frames of '" + p + "'");
        const std::string key = p + "#" + std::to_string(index);
        video_frames[key] = resize_antialiased(frame_to_rgb(f, roi), c.input_size).to(at::kByte);
        paths.push_back(key);
        ++kept;
        cli::progress_line("reading " + p + ": " + std::to_string(kept) + " frames", 0.0);
        return true;
      });
      cli::progress_done();
      std::fprintf(stderr, "differnet-train: %s: %zu of %lld frames (every %d)\n", p.c_str(), kept,
                   static_cast<long long>(decoded), video_interval);
    }
    if (!image_inputs.empty()) {
      std::vector<std::string> images = select_images(image_inputs, args.list("ext", "png,jpg,jpeg,bmp"),
                                                      args.text("include", ""), args.text("exclude", ""));
      paths.insert(paths.end(), images.begin(), images.end());
    }
    // An image or video frame as the trainer takes it: its tiles (one when untiled), resized.
    auto load_item = [&](const std::string& key) -> std::vector<at::Tensor> {
      if (auto it = video_frames.find(key); it != video_frames.end()) return {it->second};
      if (roi.whole_frame()) return load_resized_tiles(key, c.input_size, c.tiles, c.tile_overlap);
      const Image img = read_image(key);
      if (!roi.fits(img.width, img.height))
        throw Error("--roi " + roi.to_string() + " does not lie inside '" + key + "' (" + std::to_string(img.width) +
                    "x" + std::to_string(img.height) + ")");
      return {resize_antialiased(frame_to_rgb(img.view(), roi), c.input_size).to(at::kByte)};
    };
    if (paths.empty())
      throw Error("no images found (extensions " + args.text("ext", "png,jpg,jpeg,bmp") + ", after --include/--exclude)");
    std::mt19937_64 rng(t.seed);
    std::shuffle(paths.begin(), paths.end(), rng);  // seeded: the subset and the split
    if (args.has("limit")) paths.resize(std::min(paths.size(), static_cast<size_t>(args.integer("limit", 0, 1, 1 << 30))));
    const int n = static_cast<int>(paths.size());
    const int default_holdout = n < 10 ? 0 : std::max(2, n / 10);
    const int holdout = args.integer("holdout", default_holdout, 0, n - 1);
    std::vector<std::string> calib(paths.begin(), paths.begin() + holdout), train(paths.begin() + holdout, paths.end());
    std::sort(train.begin(), train.end());
    if (holdout == 1) throw cli::UsageError("--holdout needs 0 or at least 2 images");

    check_writable(out);  // an unwritable -o must fail now, not after an hour of training
    const std::string device = resolve_device(args.text("device", "auto"));
    const int threads = set_threads(args.integer("threads", 0, 0, 1024));
    const std::string preset_backbone = c.backbone;
    Backbone backbone = Backbone::load(args.text("backbone", c.backbone));
    c.backbone = backbone.architecture();
    c.trunk_channels = backbone.trunk_channels();
    if (!args.has("layers") && c.backbone != preset_backbone && c.layers != std::vector<std::string>{"last"}) {
      std::fprintf(stderr, "differnet-train: the preset's layers are %s's; %s pools its last layer (--layers to choose)\n",
                   preset_backbone.c_str(), c.backbone.c_str());
      c.layers = {"last"};
    }
    c.layer_channels.clear();
    for (const auto& layer : c.layers) c.layer_channels.push_back(backbone.layer_channels(layer));
    if (want_local) {
      // The preset's layers are its backbone's: another backbone (or a preset without them) gets its own.
      if (!args.has("local-layers") && (!c.local.enabled() || c.backbone != preset_backbone))
        c.local.layers = default_local_layers(c.backbone);
      c.local.layer_channels.clear();
      for (const auto& layer : c.local.layers) c.local.layer_channels.push_back(backbone.layer_channels(layer));
    }
    try {
      c.validate();
    } catch (const Error& e) {
      throw cli::UsageError(e.what());
    }
    std::string layer_list;
    for (const auto& l : c.layers) layer_list += (layer_list.empty() ? "" : ",") + l;
    std::fprintf(stderr, "differnet-train: %zu training images, %d held out for calibration; backbone %s layers %s "
                 "(D=%d%s), rotations +-%g deg, flow %dx%d, %d epochs%s; %s, %d threads\n",
                 train.size(), holdout, c.backbone.c_str(), layer_list.c_str(), c.feature_dim(),
                 c.whiten ? ", standardised and whitened" : c.standardize ? ", standardised" : "", t.rotation_deg, c.flow.blocks, c.flow.width, t.epochs,
                 t.rotation_deg == 0 ? ", features of the unrotated images cached"
                 : t.feature_cache ? (", feature cache " + std::to_string(t.feature_cache) + " rotations").c_str() : "",
                 device.c_str(), threads);

    // With tiling every tile of every image is a training image; an image's score is its worst tile's.
    std::vector<at::Tensor> images;
    std::vector<std::vector<at::Tensor>> train_tiles;  // per image, for calibration on the training images
    for (size_t i = 0; i < train.size(); ++i) {
      train_tiles.push_back(load_item(train[i]));  // 1x1: one
      images.insert(images.end(), train_tiles.back().begin(), train_tiles.back().end());
      cli::progress_line("loading images " + std::to_string(i + 1) + "/" + std::to_string(train.size()),
                         (i + 1.0) / train.size());
    }
    cli::progress_done();
    {
      const int min_steps = args.integer("min-steps", p.min_steps, 0, 1 << 30);
      const int64_t per_epoch = (static_cast<int64_t>(images.size()) + t.batch_size - 1) / t.batch_size;
      if (per_epoch > 0 && t.epochs * per_epoch < min_steps) {
        t.epochs = static_cast<int>((min_steps + per_epoch - 1) / per_epoch);
        std::fprintf(stderr, "differnet-train: %zu images make %lld step(s) per epoch: %d epochs, for at least %d steps "
                     "(--min-steps)\n", images.size(), static_cast<long long>(per_epoch), t.epochs, min_steps);
      }
    }
    if (c.tiles != "1x1")
      std::fprintf(stderr, "differnet-train: tiles %s (overlap %g): %zu tiles of %zu images train\n", c.tiles.c_str(),
                   c.tile_overlap, images.size(), train.size());
    // The held-out images are read now: an unreadable one must fail before training, not after it.
    std::vector<std::vector<at::Tensor>> cal_tiles_heldout;
    std::vector<at::Tensor> cal_images_heldout;
    for (const auto& p : calib) {
      cal_tiles_heldout.push_back(load_item(p));
      cal_images_heldout.insert(cal_images_heldout.end(), cal_tiles_heldout.back().begin(), cal_tiles_heldout.back().end());
    }
    if (!curve_path.empty()) {
      if (cal_images_heldout.empty()) throw cli::UsageError("--curve needs held-out images (--holdout N)");
      t.heldout_images = cal_images_heldout;
    }

    c.local.projection_seed = seed;  // the local scorer's random projection, seeded like the rest
    Model model = Model::create(c, std::move(backbone), t.seed + 1);
    model.to(at::Device(device));
    cli::install_stop_handler();
    if (model.extractor.local().enabled()) {
      const LocalFitReport lr = fit_local_scorer(model, images, t.seed, [&](int done) {
        cli::progress_line("local scorer: cells of " + std::to_string(done) + "/" + std::to_string(images.size()) + " images",
                           static_cast<double>(done) / images.size());
      }, &cli::stop_requested);
      cli::progress_done();
      if (lr.stopped) {
        std::fprintf(stderr, "differnet-train: stopped while fitting the local scorer; nothing written\n");
        return cli::kInterrupted;
      }
      std::string layers;
      for (const auto& l : c.local.layers) layers += (layers.empty() ? "" : ",") + l;
      std::fprintf(stderr, "differnet-train: local scorer on %s (%d dimensions) fitted on %d images in %s; "
                   "cells per scale", layers.c_str(), c.local.dim, lr.images, cli::format_duration(lr.seconds).c_str());
      for (size_t k = 0; k < lr.cells.size(); ++k)
        std::fprintf(stderr, " %lld (shrinkage %.3f)", static_cast<long long>(lr.cells[k]), lr.shrinkage[k]);
      std::fprintf(stderr, "\n");
      t.unrotated_features = lr.raw_features;  // the flow's cache when it does not rotate
      if (model.extractor.local().flow().enabled()) {
        // The held-out good images measure the flow against the Gaussian alone (at most 40 of them).
        std::vector<at::Tensor> held(cal_images_heldout.begin(),
                                     cal_images_heldout.begin() + std::min<size_t>(40, cal_images_heldout.size()));
        local_flow_options.seed = t.seed;
        const LocalFlowReport fr = train_local_flow(model, lr.whitened_maps, whitened_cell_maps(model, held), local_flow_options,
                                                    [&](const LocalFlowProgress& pr) {
          char line[160];
          std::snprintf(line, sizeof line, "local flow: scale %d/%d  step %d/%d  loss %.4f", pr.slot + 1, pr.slots, pr.step,
                        pr.steps, pr.loss);
          cli::progress_line(line, (pr.slot + static_cast<double>(pr.step) / pr.steps) / pr.slots);
        }, &cli::stop_requested);
        cli::progress_done();
        if (fr.stopped) {
          std::fprintf(stderr, "differnet-train: stopped while training the local flow; nothing written\n");
          return cli::kInterrupted;
        }
        std::fprintf(stderr, "differnet-train: local flow (%d blocks, %d channels) trained in %s; per scale, loss per "
                     "dimension first -> last steps", c.local.flow_blocks, c.local.flow_hidden, cli::format_duration(fr.seconds).c_str());
        for (size_t k = 0; k < fr.first_loss.size(); ++k) {
          std::fprintf(stderr, " %.4f -> %.4f", fr.first_loss[k], fr.last_loss[k]);
          if (k < fr.heldout_flow.size())
            std::fprintf(stderr, " (held out: %.4f, Gaussian alone %.4f)", fr.heldout_flow[k], fr.heldout_gaussian[k]);
        }
        std::fprintf(stderr, "\n");
      }
    }
    TrainReport report = train_flow(model, images, t, [&](const TrainProgress& pr) {
      char line[200];
      if (pr.caching) {
        std::snprintf(line, sizeof line, "caching features %d/%d  %s left", pr.step, pr.steps_per_epoch,
                      cli::format_duration(pr.remaining_s).c_str());
        cli::progress_line(line, static_cast<double>(pr.step) / pr.steps_per_epoch);
      } else {
        const std::string held = std::isnan(pr.heldout_loss) ? "" : "  held-out " + std::to_string(pr.heldout_loss).substr(0, 7);
        std::snprintf(line, sizeof line, "epoch %d/%d  step %d/%d  loss %.4f%s  %s elapsed, %s left", pr.epoch,
                      pr.epochs, pr.step, pr.steps_per_epoch, pr.loss, held.c_str(),
                      cli::format_duration(pr.elapsed_s).c_str(), cli::format_duration(pr.remaining_s).c_str());
        cli::progress_line(line, ((pr.epoch - 1) + static_cast<double>(pr.step) / pr.steps_per_epoch) / pr.epochs);
      }
    }, &cli::stop_requested);
    cli::progress_done();
    if (report.epochs_done == 0) {
      std::fprintf(stderr, "differnet-train: stopped before the first epoch ended; nothing written\n");
      return cli::kInterrupted;
    }

    if (c.image_score.gaussian) {  // closed form, from the cached features when there are any
      const auto tg = std::chrono::steady_clock::now();
      const double shrinkage = fit_pooled_gaussian(model, images, t.unrotated_features, false, &cli::stop_requested);
      if (shrinkage < 0) {
        std::fprintf(stderr, "differnet-train: stopped while fitting the pooled Gaussian; nothing written\n");
        return cli::kInterrupted;
      }
      std::fprintf(stderr, "differnet-train: pooled Gaussian fitted on %zu images in %.1f s (Ledoit-Wolf shrinkage %.3f); "
                   "image score: %s\n", images.size(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - tg).count(), shrinkage,
                   c.image_score.method.c_str());
    }

    // ---- the image score, where auto: chosen on the held-out images with synthetic defects
    std::string image_score_note;
    if (choose_image_score_auto && !cli::stop_requested) {
      if (cal_tiles_heldout.size() < static_cast<size_t>(kImageScoreChoiceMinImages)) {
        image_score_note = "image score combined: --image-score auto needs at least " +
                           std::to_string(kImageScoreChoiceMinImages) + " held-out images (--holdout), " +
                           std::to_string(cal_tiles_heldout.size()) + " were held out";
        std::fprintf(stderr, "differnet-train: %s\n", image_score_note.c_str());
      } else {
        try {
          const ImageScoreChoice choice = choose_image_score(model, cal_tiles_heldout, device, t.seed, [&](int done, int total) {
            cli::progress_line("image score: synthetic defects " + std::to_string(done) + "/" + std::to_string(total),
                               static_cast<double>(done) / total);
            return !cli::stop_requested;
          });
          cli::progress_done();
          model.config.image_score.method = choice.chosen;
          model.config.image_score.chosen_by = "auto: " + choice.summary();
          image_score_note = "image score " + choice.summary();
          std::fprintf(stderr, "differnet-train: %s\n%s", image_score_note.c_str(), choice.table().c_str());
        } catch (const Error&) {
          if (!cli::stop_requested) throw;
        }
      }
    }

    // ---- calibration
    const bool on_training = calib.empty();
    // Each calibration image as its tiles (one tile when untiled); its score is the largest.
    const std::vector<std::vector<at::Tensor>>& cal_images = on_training ? train_tiles : cal_tiles_heldout;
    const size_t cal_count = cal_images.size();
    if (cal_count >= 2 && !cli::stop_requested) {
      ArithmeticCalibrationOptions o;
    std::vector<std::string> skipped;
    o.skipped = &skipped;
      o.transforms = cal_T;
      o.quantile = quantile;
      o.arithmetics = calibrate_in;
      o.progress = [&](int done, int total) {
        cli::progress_line("calibrating " + std::to_string(done) + "/" + std::to_string(total),
                           static_cast<double>(done) / total);
        return !cli::stop_requested;
      };
      try {
        model.calibration = calibrate_arithmetics(model, cal_images, device, o);
        for (const auto& why : skipped) std::fprintf(stderr, "differnet-train: no threshold in %s\n", why.c_str());
        model.calibration.method += on_training ? " (the training images: optimistic, expect false alarms)"
                                                : " (held out of training)";
      } catch (const Error&) {
        if (!cli::stop_requested) throw;
      }
      cli::progress_done();
    }
    if (!curve_path.empty()) {
      std::FILE* f = std::fopen(curve_path.c_str(), "w");
      if (!f) throw Error("cannot write the learning curve to '" + curve_path + "'");
      // heldout_loss_standardised: the held-out loss of the features before whitening (the same as
      // heldout_loss without whitening), so that whitened and unwhitened runs can be compared.
      std::fprintf(f, "epoch,train_loss,heldout_loss,heldout_loss_standardised\n");
      size_t h = 0;
      for (int e = 1; e <= report.epochs_done; ++e) {
        std::fprintf(f, "%d,%.6f,", e, report.epoch_losses[e - 1]);
        if (h < report.heldout_losses.size() && report.heldout_losses[h].first == e) {
          const double loss = report.heldout_losses[h++].second;
          std::fprintf(f, "%.6f,%.6f", loss, loss - report.whitening_log_det_per_dim);
        } else {
          std::fprintf(f, ",");
        }
        std::fprintf(f, "\n");
      }
      if (std::fclose(f) != 0) throw Error("writing the learning curve to '" + curve_path + "' failed");
    }
    model.to(at::kCPU);
    // Stopped early: an existing model at -o may be a good one; never replace it with an
    // under-trained one. The stopped run goes beside it.
    std::string written = out;
    if (report.stopped && std::filesystem::exists(out)) written = out + ".stopped";
    save_model(model, written);
    std::printf("wrote %s (model-id %s): %d epochs in %s, last epoch loss %.4f%s\n", written.c_str(),
                sha256_file_hex(written).substr(0, 12).c_str(), report.epochs_done,
                cli::format_duration(report.seconds).c_str(), report.epoch_losses.back(),
                report.stopped ? " (stopped early: the last finished epoch)" : "");
    if (!image_score_note.empty()) std::printf("%s\n", image_score_note.c_str());
    if (model.calibration.calibrated)
    {
      std::printf("threshold %.6g: %s\n", model.calibration.threshold, model.calibration.method.c_str());
      for (const auto& [name, t] : model.calibration.arithmetics)
        std::printf("  in %s: threshold %.6g\n", name.c_str(), t.threshold);
      if (model.calibration.pixel_threshold > 0)
        std::printf("pixel threshold %.6g (the local map's defect regions)\n", model.calibration.pixel_threshold);
    }
    else if (cli::stop_requested)
      std::printf("not calibrated (stopped); run differnet-calibrate on good images\n");
    else
      std::printf("not calibrated: %zu calibration image(s), at least 2 are needed; run differnet-calibrate on good images\n",
                  cal_count);
    if (written != out)
      std::printf("stopped early: %s was left as it was; the stopped run is in %s\n", out.c_str(), written.c_str());
    return report.stopped ? cli::kInterrupted : cli::kOk;
  });
}
