#!/usr/bin/env bash
# A video file to an annotated recording (heatmap, score, verdict border) plus JSON-lines results.
#   pipelines/annotate-video.sh MODEL IN OUT.mp4 [RESULTS.jsonl]
# Extra differnetfilter properties go in FILTER_PROPS, e.g. FILTER_PROPS="transforms=8 roi=100,50,400,300".
set -euo pipefail
model=${1:?usage: annotate-video.sh MODEL IN OUT.mp4 [RESULTS.jsonl]}
in=${2:?IN}
out=${3:?OUT.mp4}
results=${4:-${out%.*}.jsonl}
# shellcheck disable=SC2086
gst-launch-1.0 -q filesrc location="$in" ! decodebin ! videoconvert ! \
  differnetfilter model="$model" results-file="$results" ${FILTER_PROPS:-} ! \
  videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux ! filesink location="$out"
echo "wrote $out and $results"
