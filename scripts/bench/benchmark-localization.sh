#!/usr/bin/env bash
# Pixel-level figures of the local scorer on Magnetic Tile: fits it on the paper's training split
# (761 MT_Free images, or a seeded draw of LIMIT of them) and reports, over the 392 defective test
# images, the pixel-level ROC AUC of its maps against the masks (overall and per class, at 112 x 112),
# and over all 583 test images the image ROC AUC of the map's maximum.
#   scripts/bench/benchmark-localization.sh DATA OUTDIR [PRESET] [SEED] [LIMIT]
# DATA is the magnetic-tile folder (MT_*/Imgs/*.jpg with NAME.png masks, train_good.txt). The flow is
# trained for one epoch only: the local scorer does not depend on it, and its figures here are not
# the preset's (scripts/bench/benchmark-magnetic-tile.sh measures those). Needs a build in ./build.
# Further differnet-train options in TRAIN_ARGS (for example TRAIN_ARGS="--local-flow 2": the local
# flow); they name the output files too.
set -euo pipefail
data=${1:?usage: benchmark-localization.sh DATA OUTDIR [PRESET] [SEED] [LIMIT]}
out=${2:?OUTDIR}
preset=${3:-accurate}
seed=${4:-0}
limit=${5:-}
bin=$(cd "$(dirname "$0")/../.." && pwd)/build/tools
mkdir -p "$out"
extra=(${TRAIN_ARGS:-})
tag=$(printf '%s' "${TRAIN_ARGS:-}" | tr -c 'A-Za-z0-9' '-' | sed 's/--*/-/g; s/-$//')
name="mt-local-$preset-seed$seed${limit:+-limit$limit}${tag}"
args=("${extra[@]}")
[ -n "$limit" ] && args+=(--limit "$limit")
if [ ! -f "$out/$name.model" ]; then
  /usr/bin/time -f "fitting wall time %e s, peak %M KiB" \
    "$bin/differnet-train" "$data/MT_Free" --ext jpg --include "$data/train_good.txt" --holdout 0 \
      --preset "$preset" --seed "$seed" --epochs 1 "${args[@]}" -o "$out/$name.model"
fi
"$bin/differnet-eval" "$out/$name.model" "$data" --ext jpg --good MT_Free --exclude "$data/train_good.txt" \
  --localization local --pixel-auroc --report "$out/$name.json" | grep -A 7 -E "^pixel-level|^local map"
