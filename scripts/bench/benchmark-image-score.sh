#!/usr/bin/env bash
# The image score on Magnetic Tile: trains PRESET on the paper's split as differnet-train does by
# default (761 MT_Free images, 10 % of them held out: the fast and accurate presets choose the image
# score on those 76 with synthetic defects planted, and the threshold and the combined score's scales
# come from them), scores the 191 good and 392 defective test images, and prints the ROC AUC of the
# model's image score and of each of its parts (the flow alone, the pooled Gaussian alone, from the
# same run), with the detections at <= 1 % false alarms and at the model's threshold. The training
# log (OUTDIR/mt-PRESET-seedSEED-heldout.train.log) holds the choice's table.
#   scripts/bench/benchmark-image-score.sh DATA OUTDIR [PRESET] [SEED] [extra differnet-train options...]
# DATA is the magnetic-tile folder (MT_*/Imgs/*.jpg, train_good.txt). Needs a build in ./build.
set -euo pipefail
data=${1:?usage: benchmark-image-score.sh DATA OUTDIR [PRESET] [SEED] [train options]}
out=${2:?OUTDIR}
preset=${3:-accurate}
seed=${4:-0}
shift $(( $# < 4 ? $# : 4 ))
bin=$(cd "$(dirname "$0")/../.." && pwd)/build/tools
mkdir -p "$out"
model="$out/mt-$preset-seed$seed-heldout.model"
if [ ! -f "$model" ]; then
  /usr/bin/time -f "training wall time %e s, peak %M KiB" \
    "$bin/differnet-train" "$data/MT_Free" --ext jpg --include "$data/train_good.txt" \
      --preset "$preset" --seed "$seed" "$@" -o "$model" 2>&1 | tee "${model%.model}.train.log"
fi
report="$out/mt-$preset-seed$seed-heldout.json"
"$bin/differnet-eval" "$model" "$data" --ext jpg --good MT_Free --exclude "$data/train_good.txt" --report "$report" |
  grep -E "^ROC AUC|false alarms|^at threshold|each part alone"
/usr/bin/python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
classes = sorted(r["per_class"])
print("per class (" + ", ".join(c.replace("MT_", "") for c in classes) + "):")
print(f"  {r['image_score']:<9}", " ".join(f"{r['per_class'][c]:.4f}" for c in classes))
for name, part in r.get("parts", {}).items():
    print(f"  {name:<9}", " ".join(f"{part['per_class'][c]:.4f}" for c in classes), f"(alone: ROC AUC {part['auroc']:.4f})")
PY
