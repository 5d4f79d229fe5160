#!/usr/bin/env bash
# A video file to an annotated recording (heatmap, score, verdict border) plus JSON-lines results.
#   pipelines/annotate-video.sh MODEL IN OUT.mp4 [RESULTS.jsonl]
# Extra differnetfilter properties go in FILTER_PROPS, e.g. FILTER_PROPS="transforms=8 roi=100,50,400,300".
set -euo pipefail
model=${1:?usage: annotate-video.sh MODEL IN OUT.mp4 [RESULTS.jsonl]}
in=${2:?IN}
out=${3:?OUT.mp4}
results=${4:-${out%.*}.jsonl}
# Written beside OUT and renamed when complete: a failed run leaves no empty or broken MP4 behind.
partial="$out.partial.mp4"
trap 'rm -f "$partial"' EXIT
# shellcheck disable=SC2086
if ! gst-launch-1.0 -q filesrc location="$in" ! decodebin ! videoconvert ! \
  differnetfilter model="$model" results-file="$results" ${FILTER_PROPS:-} ! \
  videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux ! filesink location="$partial"; then
  echo "annotate-video: the pipeline failed (see above); $out was not written" >&2
  exit 1
fi
mv "$partial" "$out"
echo "wrote $out and $results"
