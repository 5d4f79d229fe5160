#!/usr/bin/env bash
# Tiled vs squeezed scoring of wide line-scan strips, measured in one run:
#   scripts/bench/bench-tiles.sh OUTDIR [PRESET] [TILES] [OVERLAP] [extra differnet-train options...]
# Generates 4096x256 strips of a woven web (scripts/bench/make_web_strips.py, seed 0: 24 good strips train,
# 40 good and 40 with one defect of 0.05 % of the strip test), trains one model on whole strips
# (squeezed to the model's square input) and one on tiles (default auto: 16 tiles of 256 px), and
# prints each one's ROC AUC, detections at <= 1 % false alarms and time per strip (differnet-eval,
# T = 1). Both models get 1536 optimiser steps (--min-steps: 22 whole strips make one step per epoch,
# their 352 tiles 15). Needs a build in ./build. Defaults: preset fast, tiles auto, overlap 0.
set -euo pipefail
out=${1:?usage: bench-tiles.sh OUTDIR [PRESET] [TILES] [OVERLAP] [train options]}
preset=${2:-fast}
tiles=${3:-auto}
overlap=${4:-0}
shift $(( $# < 4 ? $# : 4 ))
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/tools
mkdir -p "$out"
[ -d "$out/data/train" ] || /usr/bin/python3 "$root/scripts/make_web_strips.py" "$out/data"
for mode in squeezed tiled; do
  model=$out/$mode.model
  opts=()
  [ "$mode" = tiled ] && opts=(--tiles "$tiles" --tile-overlap "$overlap")
  if [ ! -f "$model" ]; then
    /usr/bin/time -f "$mode: training wall time %e s, peak %M KiB" \
      "$bin/differnet-train" "$out/data/train/good" --preset "$preset" --seed 0 --min-steps 1536 "${opts[@]}" "$@" \
        -o "$model" 2>&1 |
      grep -v '^\[' | grep -E "training|tiles|wrote|threshold"
  fi
  echo "== $mode ($("$bin/differnet-info" "$model" | grep '^tiles'))"
  "$bin/differnet-eval" "$model" "$out/data" --report "$out/$mode.json" 2>&1 | grep -v '^\[' |
    grep -E "ROC AUC|1% false|at threshold"
  /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); \
print('  %.0f ms per 4096x256 strip (T=1, %d strips, image reading included)' % (1000*r['seconds']/(r['images_good']+r['images_defective']), r['images_good']+r['images_defective']))" "$out/$mode.json"
done
