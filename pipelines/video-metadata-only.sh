#!/usr/bin/env bash
# Scores a video file without drawing anything (overlay=none, no heatmap): results only, fastest.
#   pipelines/video-metadata-only.sh MODEL IN RESULTS.jsonl
# SINK replaces the final fakesink (e.g. an encoder branch: pixels leave bit-identical).
set -euo pipefail
model=${1:?usage: video-metadata-only.sh MODEL IN RESULTS.jsonl}
in=${2:?IN}
results=${3:?RESULTS.jsonl}
# shellcheck disable=SC2086
gst-launch-1.0 -q filesrc location="$in" ! decodebin ! videoconvert ! \
  differnetfilter model="$model" overlay=none localization=false results-file="$results" ${FILTER_PROPS:-} ! \
  ${SINK:-fakesink}
echo "wrote $results ($(wc -l < "$results") frames)"
