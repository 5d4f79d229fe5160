#!/usr/bin/env bash
# Reproduces the Magnetic Tile result of README.md: trains on the paper's split (761 MT_Free images)
# and evaluates on the other 191 MT_Free plus the 392 defective images at each T of T-LIST (default 1;
# a model trained without rotations, as by the fast preset, is scored at T = 1 only).
#   scripts/bench/benchmark-magnetic-tile.sh DATA OUTDIR [PRESET] [SEED] [T-LIST] [extra differnet-train options...]
# DATA is the magnetic-tile folder (MT_*/Imgs/*.jpg, train_good.txt). Needs a build in ./build.
set -euo pipefail
data=${1:?usage: benchmark-magnetic-tile.sh DATA OUTDIR [PRESET] [SEED] [T-LIST] [train options]}
out=${2:?OUTDIR}
preset=${3:-fast}
seed=${4:-0}
tlist=${5:-1}
shift $(( $# < 5 ? $# : 5 ))
bin=$(cd "$(dirname "$0")/../.." && pwd)/build/tools
mkdir -p "$out"
model="$out/mt-$preset-seed$seed.model"
if [ ! -f "$model" ]; then
  /usr/bin/time -f "training wall time %e s, peak %M KiB" \
    "$bin/differnet-train" "$data/MT_Free" --ext jpg --include "$data/train_good.txt" --holdout 0 \
      --preset "$preset" --seed "$seed" "$@" -o "$model"
fi
IFS=, read -ra ts <<< "$tlist"
for t in "${ts[@]}"; do
  "$bin/differnet-eval" "$model" "$data" --ext jpg --good MT_Free --exclude "$data/train_good.txt" \
    --transforms "$t" --report "$out/mt-$preset-seed$seed-T$t.json" | head -n 12
done
