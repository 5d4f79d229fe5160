#!/usr/bin/env bash
# Frames per second of differnetfilter in a whole gst-launch-1.0 pipeline (test source -> filter ->
# x264 encode -> MP4), for each frames-in-flight value: the figure behind the README's element rows.
#   scripts/bench/bench-element.sh MODEL [FRAMES] [IN_FLIGHT_LIST] [ELEMENT PROPERTIES...]
#   e.g. scripts/bench/bench-element.sh parts.model 60 1,2,3 device=cuda precision=fp16 localization=false
# Startup (model load, warm-up, encoder setup) is taken out: each setting runs twice, with FRAMES
# and with 1 frame, and the rate is (FRAMES - 1) / (difference of the wall times).
# BUILD_DIR (default build) names the build whose plugin is used; SIZE (default 640x480) the frames.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { sed -n '2,8p' "$0"; exit 2; }
model=$1 frames=${2:-60} in_flight=${3:-1,2}
shift $(( $# < 3 ? $# : 3 ))
[ -r "$model" ] || { echo "bench-element: cannot read model '$model'"; exit 1; }
[ "$frames" -ge 2 ] 2>/dev/null || { echo "bench-element: FRAMES must be at least 2, got '$frames'"; exit 2; }
export GST_PLUGIN_PATH="$PWD/${BUILD_DIR:-build}/plugin"
gst-inspect-1.0 differnetfilter > /dev/null 2>&1 || { echo "bench-element: no differnetfilter in $GST_PLUGIN_PATH (build first)"; exit 1; }
width=${SIZE:-640x480}; height=${width#*x}; width=${width%x*}
out=$(mktemp -d "${TMPDIR:-/tmp}/bench-element.XXXXXX")
trap 'rm -rf "$out"' EXIT

run() {  # run N IN_FLIGHT: wall seconds of the pipeline over N frames
  local start end
  start=$(date +%s.%N)
  gst-launch-1.0 -q videotestsrc num-buffers="$1" pattern=ball \
    ! "video/x-raw,width=$width,height=$height,framerate=30/1" ! videoconvert \
    ! differnetfilter model="$model" frames-in-flight="$2" "${props[@]}" \
    ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast ! mp4mux \
    ! filesink location="$out/out.mp4" > "$out/log" 2>&1 || { cat "$out/log"; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
props=("$@")
echo "differnetfilter, ${width}x${height}, $frames frames, properties: ${props[*]:-(defaults)}"
for n in ${in_flight//,/ }; do
  full=$(run "$frames" "$n")
  one=$(run 1 "$n")
  printf "  frames-in-flight=%-2s %7.2f frames/s   (%.1f s for %d frames, %.1f s for 1)\n" "$n" \
    "$(awk -v n="$frames" -v f="$full" -v o="$one" 'BEGIN { print (n - 1) / (f - o) }')" "$full" "$frames" "$one"
done
