#!/usr/bin/env bash
# The command-line tools end to end on tiny generated folders: exit codes and messages for bad
# input, report fields, training that makes a separable set separate, calibrate, info.
#   tools.sh MAKE_TEST_IMAGES TOOLS_DIR [IMAGE_IO]   (IMAGE_IO: opencv, the default, or stb: no pictures)
set -uo pipefail
make_images=$1 bin=$2 image_io=${3:-opencv}
work=$(mktemp -d "${TMPDIR:-/tmp}/differnet-tools.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$make_images" "$work" || exit 1
failures=0
fail() { echo "tools: FAILED: $*"; failures=$((failures + 1)); }
# expect CODE NEEDLE COMMAND...: runs COMMAND, checks its exit code and that its output holds NEEDLE
expect() {
  local code=$1 needle=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $out"
  [ -z "$needle" ] || grep -qF -- "$needle" <<< "$out" || fail "'$*' did not say '$needle': $out"
}
tiny=(--preset fast --input-size 128 --flow-width 32 --batch-size 4 --feature-cache 8 --seed 1)

# --help everywhere, with an example.
for t in differnet-train differnet-eval differnet-calibrate differnet-info differnet-bench; do
  expect 0 "example" "$bin/$t" --help
done

# Bad input: usage errors exit 2, bad data exits 1, each with a message naming the problem.
expect 2 "no output model" "$bin/differnet-train" "$work/train"
expect 2 "unknown option '--frobnicate'" "$bin/differnet-train" "$work/train" --frobnicate -o "$work/x.model"
expect 2 "--epochs must be an integer" "$bin/differnet-train" "$work/train" --epochs many -o "$work/x.model"
expect 1 "input size 64 is too small" "$bin/differnet-train" "$work/train" --preset fast --input-size 64 -o "$work/x.model"
expect 2 "--tiles: tiles must be written COLSxROWS" "$bin/differnet-train" "$work/train" --tiles 4by1 -o "$work/x.model"
expect 2 "--scales takes sides in px that divide the input size 128" "$bin/differnet-train" "$work/train" --input-size 128 --scales 128,50 -o "$work/x.model"
mkdir -p "$work/empty"
expect 1 "no images found" "$bin/differnet-train" "$work/empty" -o "$work/x.model"
expect 1 "bad.png' cannot be read" "$bin/differnet-train" "$work/broken" -o "$work/x.model"
expect 1 "backbone file '/nonexistent.safetensors' cannot be opened" \
  "$bin/differnet-train" "$work/train" --backbone /nonexistent.safetensors -o "$work/x.model"
expect 1 "export_alexnet.py" env DIFFERNET_WEIGHTS_DIR="$work/empty" "$bin/differnet-train" "$work/train" --backbone alexnet -o "$work/x.model"
mkdir -p "$work/mvtec/train/good" "$work/mvtec/test/crack"
expect 2 "MVTec AD dataset root" "$bin/differnet-train" "$work/mvtec" -o "$work/x.model"
mkdir -p "$work/truncated"
cp "$(find "$work/train" -name '*.png' | head -1)" "$work/truncated/whole.png"
head -c 400 "$work/truncated/whole.png" > "$work/truncated/cut.png"
expect 1 "cut.png' is truncated" "$bin/differnet-train" "$work/truncated" -o "$work/x.model"
[ ! -e "$work/x.model" ] || fail "a failed training wrote a model"

# Barely trained (1 epoch, lr 1e-9) against trained: only training makes the spots stand out. The
# untrained reference pools unstandardised features: standardised ones alone make even an untrained
# flow a diagonal Gaussian, which separates these easy spots already.
# (The flow's score alone: the preset's combined score adds a Gaussian, which needs no training.)
expect 0 "wrote" "$bin/differnet-train" "$work/train" "${tiny[@]}" --standardize no --local no --image-score flow --epochs 1 --lr 1e-9 --holdout 4 -o "$work/untrained.model"
expect 0 "ROC AUC" "$bin/differnet-eval" "$work/untrained.model" "$work" --transforms 2 --report "$work/untrained.json"
out=$("$bin/differnet-train" "$work/train" "${tiny[@]}" --epochs 40 --lr 1e-3 --holdout 4 -o "$work/trained.model" 2>&1) \
  || fail "training failed: $out"
if [ "$image_io" = stb ]; then
  expect 2 "this build draws no pictures" "$bin/differnet-eval" "$work/trained.model" "$work" --report "$work/r.json" --out-dir "$work/pictures"
  expect 0 "ROC AUC" "$bin/differnet-eval" "$work/trained.model" "$work" --transforms 2 --report "$work/trained.json" \
    --gaussian-baseline "$work/train"
else
  expect 0 "ROC AUC" "$bin/differnet-eval" "$work/trained.model" "$work" --transforms 2 --report "$work/trained.json" \
    --out-dir "$work/pictures" --pictures 2 --gaussian-baseline "$work/train"
fi
/usr/bin/python3 - "$work" <<'PY' || fail "report checks"
import json, sys
w = sys.argv[1]
u, t = json.load(open(f"{w}/untrained.json")), json.load(open(f"{w}/trained.json"))
for key in ("auroc", "per_class", "threshold", "confusion", "transforms", "images", "baseline_gaussian", "device", "precision",
            "at_1_percent_false_alarms"):
    assert key in t, f"report lacks {key}"
assert t["transforms"] == 2 and set(t["per_class"]) == {"spot"}, t["per_class"]
assert set(t["confusion"]) == {"true_positive", "false_positive", "true_negative", "false_negative"}
assert sum(t["confusion"].values()) == 16 and len(t["images"]) == 16
assert t["auroc"] == 1.0, f"trained AUROC {t['auroc']}"
assert u["auroc"] < 1.0, f"untrained AUROC {u['auroc']} (the test set is not trivially separated without training)"
assert t["image_score"] == "combined" and u["image_score"] == "flow", (t["image_score"], u["image_score"])
assert set(t["parts"]) == {"flow", "gaussian"} and all("flow_part" in i and "gaussian_part" in i for i in t["images"]), t["parts"]
print(f"tools: AUROC untrained {u['auroc']:.3f}, trained {t['auroc']:.3f}, Gaussian {t['baseline_gaussian']['auroc']:.3f}")
PY
if [ "$image_io" != stb ]; then
  for f in roc.png defective_1.png good_1.png; do [ -s "$work/pictures/$f" ] || fail "eval --out-dir wrote no $f"; done
fi
grep -q "loss" <<< "$out" || fail "training printed no loss"

# info reads what train wrote; calibrate changes the threshold; damage is refused.
# The image score: the preset's (combined, with its scales), another chosen at calibration, bad names refused.
expect 0 "image score  combined: flow / flow scale + Gaussian / Gaussian scale (scales" "$bin/differnet-info" "$work/trained.model"
expect 0 "image score  flow: the flow's mean z^2" "$bin/differnet-info" "$work/untrained.model"
expect 2 "--image-score: image score 'median' is not one of flow, gaussian, combined" \
  "$bin/differnet-train" "$work/train" "${tiny[@]}" --image-score median -o "$work/x.model"
expect 0 "threshold" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --image-score gaussian -o "$work/gaussian.model"
expect 0 "image score  gaussian" "$bin/differnet-info" "$work/gaussian.model"
expect 0 "image score gaussian" "$bin/differnet-eval" "$work/gaussian.model" "$work" --report "$work/gaussian.json"
expect 2 "needs the pooled Gaussian" "$bin/differnet-calibrate" "$work/untrained.model" "$work/fresh" --image-score combined -o "$work/x.model"
# auto: chosen on the good images with synthetic defects planted (14 images: the 6 fresh and the 8
# good test ones), recorded in the model; fewer than 10 refused, a model without the Gaussian refused.
expect 0 "ROC AUC on synthetic defects in 14 held-out good images" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" "$work/test/good" --image-score auto -o "$work/auto.model"
expect 0 "auto: " "$bin/differnet-info" "$work/auto.model"
expect 2 "--seed seeds the synthetic defects of --image-score auto only" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --seed 3 -o "$work/x.model"
expect 1 "at least 10 held-out good images, got 6" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --image-score auto -o "$work/x.model"
expect 2 "--image-score auto needs a model holding the pooled Gaussian" "$bin/differnet-calibrate" "$work/untrained.model" "$work/fresh" "$work/test/good" --image-score auto -o "$work/x.model"
expect 0 "ROC AUC on synthetic defects in 10 held-out good images" "$bin/differnet-train" "$work/train" "$work/fresh" "${tiny[@]}" \
  --epochs 2 --holdout 10 --image-score auto -o "$work/auto-train.model"
expect 0 "auto: " "$bin/differnet-info" "$work/auto-train.model"
expect 0 "--image-score auto needs at least 10 held-out images (--holdout), 4 were held out" "$bin/differnet-train" "$work/train" \
  "${tiny[@]}" --epochs 1 --holdout 4 --image-score auto -o "$work/auto-few.model"
expect 0 "image score  combined" "$bin/differnet-info" "$work/auto-few.model"
[ ! -e "$work/x.model" ] || fail "a refused calibration wrote a model"
expect 0 "flow         8 blocks, 3 hidden layers of width 32" "$bin/differnet-info" "$work/trained.model"
# The fast preset fits the local scorer; --local no leaves it out (the gradient localizes then).
expect 0 "local map    fire5,fire7 cells" "$bin/differnet-info" "$work/trained.model"
expect 0 "(projection seed 1)" "$bin/differnet-info" "$work/trained.model"  # --seed seeds the projection too
expect 0 "local map    none" "$bin/differnet-info" "$work/untrained.model"
expect 2 "--local takes yes or no" "$bin/differnet-train" "$work/train" "${tiny[@]}" --local maybe -o "$work/x.model"
expect 0 "local map maximum as the image score" "$bin/differnet-eval" "$work/trained.model" "$work" --localization local --report "$work/local.json"
expect 2 "has no local scorer" "$bin/differnet-eval" "$work/untrained.model" "$work" --localization local --report "$work/local.json"
# Pixel ROC AUC and PRO against the spots' masks (MVTec AD's layout): eight regions, one per image,
# found better than chance by the local map.
expect 0 "PRO (per-region overlap" "$bin/differnet-eval" "$work/trained.model" "$work" --pixel-auroc --report "$work/pixel.json"
/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["pixel"]; assert p["pro"]["regions"]==8 and p["pro"]["auc"]>0.5 and p["auroc"]>0.5 and p["localization"]=="local", p' \
  "$work/pixel.json" || fail "pixel report"
threshold() { "$bin/differnet-info" --json "$1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["calibration"]["threshold"])'; }
before=$(threshold "$work/trained.model")
expect 0 "threshold " "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --transforms 2
after=$(threshold "$work/trained.model")
[ "$before" != "$after" ] || fail "calibrate left the threshold at $before"
expect 1 "at least 2 good images" "$bin/differnet-calibrate" "$work/trained.model" "$work/test/good/0.png"
# Every arithmetic this machine runs gets its own threshold; precision=auto uses one of them, and
# fp32 where the libraries' capping variables hide what the CPU has.
expect 0 "fp32/int8" "$bin/differnet-info" "$work/trained.model"
expect 0 "auto here    cpu: fp32/fp32" env ONEDNN_MAX_CPU_ISA=AVX2 "$bin/differnet-info" "$work/trained.model"
expect 0 "auto here    cpu: fp32/fp32" env ATEN_CPU_CAPABILITY=default "$bin/differnet-info" "$work/trained.model"
expect 0 "threshold" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --calibrate-in fp32/fp32 -o "$work/fp32only.model"
expect 0 "only (others: differnet-calibrate)" "$bin/differnet-info" "$work/fp32only.model"
expect 1 "not BACKBONE/FLOW" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --calibrate-in int8
head -c 1000 "$work/trained.model" > "$work/damaged.model"
expect 1 "damaged.model" "$bin/differnet-info" "$work/damaged.model"
expect 1 "precision fp16 needs a CUDA device" "$bin/differnet-eval" "$work/trained.model" "$work" --device cpu --precision fp16 --report "$work/r.json"
expect 1 "precision 'half' is not one of" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --precision half
# The flow in int8: the same separation (AUROC 1.0), the precision in the report; a bad name refused.
expect 0 "flow int8" "$bin/differnet-eval" "$work/trained.model" "$work" --transforms 2 --flow-precision int8 --report "$work/int8.json"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["flow_precision"]=="int8" and r["auroc"]==1.0, r["auroc"]' \
  "$work/int8.json" || fail "int8 flow report"
expect 1 "flow precision 'int4' is not one of fp32, bf16, int8" "$bin/differnet-calibrate" "$work/trained.model" "$work/fresh" --flow-precision int4
expect 1 "damaged.model" "$bin/differnet-eval" "$work/damaged.model" "$work" --report "$work/r.json"
expect 1 "no good class 'nothing'" "$bin/differnet-eval" "$work/trained.model" "$work" --good nothing --report "$work/r.json"
expect 2 "--report REPORT.json is required" "$bin/differnet-eval" "$work/trained.model" "$work"

# Whitened features: trained, recorded, and still separating the spots; bad combinations refused.
expect 0 "standardised and whitened" "$bin/differnet-train" "$work/train" "${tiny[@]}" --whiten yes --epochs 4 --holdout 4 \
  --curve "$work/white.csv" --curve-every 2 -o "$work/white.model"
# The curve gives the held-out loss also before whitening: lower by log|det W|/D (> 0: the shrunk
# covariance of standardised features has eigenvalues of mean <= 1), the same amount at each point.
/usr/bin/python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert list(rows[0]) == ["epoch", "train_loss", "heldout_loss", "heldout_loss_standardised"], list(rows[0])
held = [r for r in rows if r["heldout_loss"]]
assert [r["epoch"] for r in held] == ["2", "4"], held
gaps = [float(r["heldout_loss"]) - float(r["heldout_loss_standardised"]) for r in held]
assert gaps[0] > 0 and abs(gaps[0] - gaps[1]) < 1e-5, gaps' "$work/white.csv" || fail "whitened learning curve"
expect 0 "then whitened (Ledoit-Wolf covariance)" "$bin/differnet-info" "$work/white.model"
expect 0 "ROC AUC" "$bin/differnet-eval" "$work/white.model" "$work" --report "$work/white.json"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["auroc"]>=0.9, r["auroc"]' "$work/white.json" \
  || fail "whitened model report"
expect 2 "--whiten yes needs --standardize yes" "$bin/differnet-train" "$work/train" "${tiny[@]}" --whiten yes --standardize no -o "$work/x.model"
expect 2 "--whiten takes yes or no, not 'maybe'" "$bin/differnet-train" "$work/train" "${tiny[@]}" --whiten maybe -o "$work/x.model"

# The default (accurate) preset trains ResNet50-v2 stage-3 features; tiles are recorded and used.
expect 0 "wrote" "$bin/differnet-train" "$work/train" --input-size 128 --scales 128 --flow-width 16 --epochs 2 --holdout 4 \
  --tiles 2x1 --tile-overlap 0.25 -o "$work/tiled.model"
expect 0 "backbone     resnet50v2, pooled layers: stage3 (1024 channels)" "$bin/differnet-info" "$work/tiled.model"
expect 0 "tiles        2x1, overlap 0.25" "$bin/differnet-info" "$work/tiled.model"
expect 0 "ROC AUC" "$bin/differnet-eval" "$work/tiled.model" "$work" --report "$work/tiled.json"
expect 0 "threshold " "$bin/differnet-calibrate" "$work/tiled.model" "$work/fresh" --tiles 1x1
expect 0 "tiles        1x1" "$bin/differnet-info" "$work/tiled.model"

# --min-steps raises the epochs of a small set
expect 0 "for at least 200 steps (--min-steps)" "$bin/differnet-train" "$work/train" "${tiny[@]}" --epochs 1 --min-steps 200 \
  --holdout 4 -o "$work/steps.model"

# Video input: every Kth frame of a clip (its --roi) is a training image; a clip that does not play
# is an error naming it. (A build without GStreamer says it has no video input.)
if command -v gst-launch-1.0 > /dev/null && gst-launch-1.0 -q videotestsrc num-buffers=30 pattern=smpte \
     ! video/x-raw,width=160,height=120,framerate=10/1 ! videoconvert ! jpegenc ! avimux \
     ! filesink location="$work/clip.avi" > /dev/null 2>&1; then
  if [ "$image_io" = stb ] && "$bin/differnet-train" "$work/clip.avi" -o "$work/v.model" 2>&1 | grep -qF "has no video input"; then
    echo "tools: this build has no video input (checked that it says so)"
  else
    out=$("$bin/differnet-train" "$work/clip.avi" "${tiny[@]}" --epochs 2 --video-interval 3 --roi 8,8,144,104 \
          -o "$work/video.model" 2>&1) || fail "training on a video failed: $out"
    grep -qF "clip.avi: 10 of 30 frames (every 3)" <<< "$out" || fail "video frames not taken every 3rd: $out"
    grep -qF "8 training images, 2 held out" <<< "$out" || fail "the video frames did not train: $out"
    expect 1 "does not lie inside the 160x120 frames" "$bin/differnet-train" "$work/clip.avi" "${tiny[@]}" --roi 100,100,100,100 -o "$work/x.model"
    expect 2 "--tiles cannot be used with video input" "$bin/differnet-train" "$work/clip.avi" --tiles 2x1 -o "$work/x.model"
    printf 'not a video' > "$work/fake.mp4"
    expect 1 "cannot read video '$work/fake.mp4'" "$bin/differnet-train" "$work/fake.mp4" -o "$work/x.model"
  fi
else
  echo "tools: gst-launch-1.0 (jpegenc, avimux) missing: video input not checked"
fi

# bench runs (one iteration, the smallest stages).
expect 0 "T=1 + gradient map, batch 1" "$bin/differnet-bench" --quick --backbones squeezenet1_1 --flow-widths 16 --transforms 1 --localize-transforms 1
expect 0 "T=1 + local map, batch 1" "$bin/differnet-bench" --quick --backbones squeezenet1_1 --flow-widths 16 --transforms 1 --localize-transforms 1
out=$("$bin/differnet-bench" --quick --backbones squeezenet1_1 --flow-widths 16 --transforms 1 --localize-transforms 1 \
      --precision fp32,bf16,fp16 --batch 2 2>&1)
for needle in "backbone bf16" "T=1, batch 2" "backbone fp16 skipped: precision fp16 needs a CUDA device" "summary (cpu"; do
  grep -qF -- "$needle" <<< "$out" || fail "differnet-bench did not say '$needle': $out"
done
expect 1 "precision 'fp64' is not one of auto, fp32, fp16, bf16, int8" "$bin/differnet-bench" --quick --precision fp64

[ "$failures" -eq 0 ] && echo "tools: all checks passed"
exit "$failures"
