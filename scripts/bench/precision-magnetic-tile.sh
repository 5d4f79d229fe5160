#!/usr/bin/env bash
# What precision=auto costs in detection quality on Magnetic Tile: trains PRESET on the paper's split
# (seed SEED) with thresholds for fp32/fp32 and the arithmetic auto picks on this machine, scores the
# test images (191 good, 392 defective; none trained on) in fp32 and in auto, and prints both ROC AUCs
# and how many images' verdicts differ, each arithmetic judged with its own threshold.
#   scripts/bench/precision-magnetic-tile.sh DATA OUTDIR [PRESET] [SEED] [TRAIN_OPTION...]
# DATA is the magnetic-tile folder (MT_*/Imgs/*.jpg, train_good.txt). Needs a build in ./build.
# TRAIN_OPTIONs go to differnet-train (e.g. --backbone FILE --epochs 16 --rotation 0 for a short run
# of the paper's configuration; the model file's name then carries "-custom").
set -euo pipefail
data=${1:?usage: precision-magnetic-tile.sh DATA OUTDIR [PRESET] [SEED] [TRAIN_OPTION...]}
out=${2:?OUTDIR}
preset=${3:-accurate}
seed=${4:-0}
shift $(( $# < 4 ? $# : 4 ))
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/tools
mkdir -p "$out"
name="mt-$preset-seed$seed${1:+-custom}"
model="$out/$name.model"
# What auto picks for the preset's backbone here (only AlexNet, the paper's, has an int8 backbone).
arch=squeezenet1_1
[ "$preset" = paper ] && arch=alexnet
auto=$("$bin/differnet-bench" --path-only --backbones "$arch" --flow-widths 16 --transforms 1 \
  --localize-transforms "" --local no --batch 0 --iterations 1 --warmup 0 |
  sed -n 's/^ per-frame path, .*backbone \([a-z0-9]*\), flow \([a-z0-9]*\) (auto).*/\1\/\2/p' | head -n 1)
echo "precision auto on this machine for $arch: $auto"
if [ ! -f "$model" ]; then
  /usr/bin/time -f "training wall time %e s, peak %M KiB" \
    "$bin/differnet-train" "$data/MT_Free" --ext jpg --include "$data/train_good.txt" --holdout 0 \
      --preset "$preset" --seed "$seed" --calibrate-in "fp32/fp32,$auto" "$@" -o "$model"
fi
for p in fp32 auto; do
  "$bin/differnet-eval" "$model" "$data" --ext jpg --good MT_Free --exclude "$data/train_good.txt" \
    --precision "$p" --flow-precision "$p" --report "$out/$name-$p.json" | head -n 1
done
/usr/bin/python3 - "$out/$name-fp32.json" "$out/$name-auto.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
name = lambda r: f"{r['precision']}/{r['flow_precision']}"
print(f"ROC AUC {name(a)} {a['auroc']:.4f}, {name(b)} {b['auroc']:.4f} (difference {b['auroc'] - a['auroc']:+.4f})")
va = {i["path"]: (i["score"] >= a["threshold"], i["label"]) for i in a["images"]}
vb = {i["path"]: i["score"] >= b["threshold"] for i in b["images"]}
flips = [(p, lab) for p, (v, lab) in va.items() if v != vb[p]]
good = sum(1 for _, lab in flips if lab == 0)
print(f"thresholds {a['threshold']:.6g} ({a['threshold_arithmetic']}) and {b['threshold']:.6g} ({b['threshold_arithmetic']}); "
      f"verdicts that differ: {len(flips)} of {len(va)} images ({good} of {sum(1 for v in va.values() if v[1] == 0)} good, "
      f"{len(flips) - good} of {sum(1 for v in va.values() if v[1] == 1)} defective)")
# The model's thresholds rest on what it was calibrated on; at the operating point of <= 1 % false
# alarms on the good test images (each arithmetic's own), too:
ta, tb = a["at_1_percent_false_alarms"]["threshold"], b["at_1_percent_false_alarms"]["threshold"]
sa = {i["path"]: (i["score"], i["label"]) for i in a["images"]}
sb = {i["path"]: i["score"] for i in b["images"]}
flips1 = [(p, lab) for p, (v, lab) in sa.items() if (v > ta) != (sb[p] > tb)]
good1 = sum(1 for _, lab in flips1 if lab == 0)
print(f"at <= 1 % false alarms ({ta:.6g} and {tb:.6g}): verdicts that differ: {len(flips1)} ({good1} good, "
      f"{len(flips1) - good1} defective)")
# Near the decision (fp32 score below 10 times its 1 % threshold) and far past it.
near = sorted(abs(sb[p] - v) / v for p, (v, _) in sa.items() if 0 < v < 10 * ta)
far = sorted(abs(sb[p] - v) / v for p, (v, _) in sa.items() if v >= 10 * ta)
print(f"score difference relative to fp32, {len(near)} images scoring below 10x the threshold: median "
      f"{near[len(near) // 2]:.2e}, largest {near[-1]:.2e}" +
      (f"; {len(far)} above it (up to {max(v for v, _ in sa.values()):.3g}): largest {far[-1]:.2e}" if far else ""))
PY
