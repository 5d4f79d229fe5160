#!/usr/bin/env bash
# Soak benchmark: pushes FRAMES small frames through gst-launch-1.0 with differnetfilter at its
# cheapest settings (tiny test model, 128 px input, T = 1, no localization, no overlay), samples the
# process's resident memory each time another STEP frames (default 1000) have left the element, and
# prints the samples and the slope of a least-squares line through those after the warm-up (the
# first 20 %), in KiB per 1000 frames. It also checks that every frame left with its timestamp:
# FRAMES result lines, pts strictly increasing by one frame duration.
#   scripts/bench/soak.sh FRAMES [STEP] [MODEL]     (needs a build in ./build)
set -euo pipefail
cd "$(dirname "$0")/../.."
frames=${1:?usage: scripts/bench/soak.sh FRAMES [STEP] [MODEL]}
step=${2:-1000}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
model=${3:-$work/soak.model}
[ -f "$model" ] || DIFFERNET_WEIGHTS_DIR=$PWD/model/weights build/tests/make-test-model "$model" >/dev/null
export GST_PLUGIN_PATH=$PWD/build/plugin
results=$work/results.jsonl
gst-launch-1.0 -q videotestsrc num-buffers="$frames" pattern=ball \
  ! video/x-raw,format=RGB,width=64,height=48,framerate=1000/1 \
  ! differnetfilter model="$model" localization=false overlay=none post-messages=false threads=1 \
      results-file="$results" ! fakesink sync=false > "$work/gst.log" 2>&1 &
pid=$!
samples=$work/samples.txt
next=$step
while kill -0 "$pid" 2>/dev/null; do
  n=$( [ -f "$results" ] && wc -l < "$results" || echo 0)
  if [ "$n" -ge "$next" ]; then
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || true)
    [ -n "$rss" ] && echo "$n $rss" >> "$samples"
    next=$(( (n / step + 1) * step ))
  fi
  sleep 0.2
done
wait "$pid" || { echo "soak.sh: the pipeline failed:"; cat "$work/gst.log"; exit 1; }
python3 - "$results" "$samples" "$frames" <<'PY'
import json, sys
results, samples, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [json.loads(l) for l in open(results)]
assert len(lines) == frames, f"{len(lines)} result lines for {frames} frames"
pts = [l["pts_ns"] for l in lines]
steps = {b - a for a, b in zip(pts, pts[1:])}
assert all(p is not None for p in pts) and steps == {1000000}, f"timestamps not one frame apart: {sorted(steps)[:5]}"
# A sample taken once all frames are out may catch the pipeline tearing down: only earlier ones count.
rows = [r for r in (tuple(map(int, l.split())) for l in open(samples)) if r[0] < frames]
for n, rss in rows:
    print(f"soak.sh: {n:>8} frames  RSS {rss / 1024:8.1f} MiB")
tail = rows[len(rows) // 5:]
if len(tail) >= 2:
    xs, ys = [n / 1000 for n, _ in tail], [r for _, r in tail]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    print(f"soak.sh: {frames} frames, every one out with its timestamp; RSS slope after warm-up "
          f"{slope:+.1f} KiB per 1000 frames over {len(tail)} samples ({tail[0][0]}..{tail[-1][0]} frames)")
else:
    print("soak.sh: too few samples for a slope (more FRAMES or a smaller STEP)")
PY
