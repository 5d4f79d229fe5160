#!/usr/bin/env bash
# Many streams, one process: for 1, 2 and 4 streams in one gst-launch-1.0 pipeline (each a
# videotestsrc -> differnetfilter -> fakesink), total frames per second and peak resident memory
# with one model per element (share-model=false), one model shared by all (the default), and, for
# 2 streams or more, the shared model with cross-stream batching (batch-size = the stream count, the
# default batch-timeout of 40 ms).
#   scripts/bench/bench-streams.sh MODEL [FRAMES_PER_STREAM] [STREAM_LIST] [ELEMENT PROPERTIES...]
#   e.g. scripts/bench/bench-streams.sh parts.model 20 1,2,4 localization=off
# Frames per second = streams x FRAMES / wall time, model loading and warm-up included (they are
# what sharing saves at start); peak memory from /usr/bin/time (maximum resident set size).
# BUILD_DIR (default build) names the build whose plugin is used; SIZE (default 320x240) the frames.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { sed -n '2,10p' "$0"; exit 2; }
model=$1 frames=${2:-20} streams=${3:-1,2,4}
shift $(( $# < 3 ? $# : 3 ))
props=("$@")
[ -r "$model" ] || { echo "bench-streams: cannot read model '$model'"; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-streams: /usr/bin/time is missing (apt-get install time)"; exit 1; }
export GST_PLUGIN_PATH="$PWD/${BUILD_DIR:-build}/plugin"
gst-inspect-1.0 differnetfilter > /dev/null 2>&1 || { echo "bench-streams: no differnetfilter in $GST_PLUGIN_PATH (build first)"; exit 1; }
width=${SIZE:-320x240}; height=${width#*x}; width=${width%x*}
log=$(mktemp "${TMPDIR:-/tmp}/bench-streams.XXXXXX")
trap 'rm -f "$log"' EXIT

printf '%-8s %-22s %12s %14s\n' streams models "frames/s" "peak MiB"
IFS=, read -r -a counts <<< "$streams"
for n in "${counts[@]}"; do
  modes=(separate shared)
  [ "$n" -gt 1 ] && modes+=(batched)
  for mode in "${modes[@]}"; do
    share=$([ "$mode" = separate ] && echo false || echo true)
    batch=$([ "$mode" = batched ] && echo "$n" || echo 1)
    pipeline=()
    for ((i = 0; i < n; i++)); do
      pipeline+=(videotestsrc num-buffers="$frames" pattern=$((i % 4 == 0 ? 18 : i)) ! "video/x-raw,width=$width,height=$height"
                 ! videoconvert ! differnetfilter model="$model" share-model=$share batch-size=$batch overlay=none
                 post-messages=false "${props[@]}" ! fakesink sync=false)
    done
    /usr/bin/time -f '%e %M' -o "$log.time" gst-launch-1.0 -q "${pipeline[@]}" > "$log" 2>&1 || { cat "$log"; exit 1; }
    read -r wall kib < "$log.time"
    case $mode in separate) label=$n ;; shared) label="1 shared" ;; *) label="1 shared, batch $n" ;; esac
    awk -v n="$n" -v f="$frames" -v w="$wall" -v k="$kib" -v l="$label" \
      'BEGIN { printf "%-8d %-22s %12.2f %14.0f\n", n, l, n * f / w, k / 1024 }'
  done
done
rm -f "$log.time"
