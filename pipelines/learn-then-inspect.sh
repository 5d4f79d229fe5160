#!/usr/bin/env bash
# Point the camera at good parts, learn, inspect: one pipeline, no separate capture and training.
#   pipelines/learn-then-inspect.sh MODEL [FRAMES] [OUT.mp4]
# differnetfilter (mode=learn) keeps FRAMES good frames (default 100; every 5th frame of the stream),
# trains a model on them in the background while the video goes on (default training settings:
# the accurate preset), writes MODEL and switches to inspection by itself: from then on every
# frame is scored, shown with its overlay and, with OUT.mp4, recorded. Progress is printed with the
# seconds since the start: the first model (a Gaussian over the pooled features, no training) takes
# over seconds after collection ends, the trained one when training ends. Stop with Ctrl-C.
# SOURCE replaces the camera (default: the first V4L2 device), SCREEN the display sink (default
# autovideosink; fakesink on a headless machine), LEARN_PROPS adds differnetfilter properties (e.g.
# "learn-preset=fast learn-interval=10", "learn-roi=100,0,400,480").
set -euo pipefail
model=${1:?usage: learn-then-inspect.sh MODEL [FRAMES] [OUT.mp4]}
frames=${2:-100}
out=${3:-}
case "$frames" in ''|*[!0-9]*) echo "learn-then-inspect: FRAMES must be a number, not '$frames'" >&2; exit 2 ;; esac
source=${SOURCE:-"v4l2src device=/dev/video0"}
screen=${SCREEN:-autovideosink}
record=""
[ -z "$out" ] || record="t. ! queue ! videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency ! mp4mux ! filesink location=$out"
# mawk (Debian's awk) reads its input in blocks unless told to read line by line
awk=awk
if awk -W version 2>&1 | grep -q mawk; then awk="awk -W interactive"; fi
# gst-launch-1.0 -m prints every message; keep those of the element, with the time since the start
# (stdbuf: line by line, so that the times are those of the messages).
# shellcheck disable=SC2086  # SOURCE, SCREEN and LEARN_PROPS are pipeline fragments: split on purpose
stdbuf -oL gst-launch-1.0 -e -m $source ! videoconvert ! \
  differnetfilter name=learner mode=learn learn-frames="$frames" model="$model" ${LEARN_PROPS:-} ! tee name=t \
  t. ! queue ! videoconvert ! $screen $record 2>&1 |
  $awk -v start="$(date +%s.%N)" '
    function now() { "date +%s.%N" | getline t; close("date +%s.%N"); return sprintf("%7.1f s", t - start) }
    function field(name,   m) { if (match($0, name "=\\([a-z]+\\)[^,;]*")) { m = substr($0, RSTART, RLENGTH); sub(/^[^)]*\)/, "", m); gsub(/"/, "", m); return m } return "" }
    /differnet-learn/ {
      phase = field("phase")
      if (phase == "collecting") {
        n = field("frames-collected"); if (n % 10 == 0 || n == field("frames-wanted")) print now() "  collected " n "/" field("frames-wanted") " frames (" field("frames-skipped") " near-duplicates skipped)"
      } else if (phase == "training") {
        e = field("epoch"); f = field("features")
        if (e == 0 && field("features-total") > 0 && f != last_features) { last_features = f; print now() "  training: features of " f "/" field("features-total") " frames" }
        if (e > 0 && e != last_epoch) { last_epoch = e; printf "%s  training: epoch %d/%d, loss %.3f, about %d s left\n", now(), e, field("epochs"), field("loss"), field("time-left") }
      } else if (phase == "first-model") {
        print now() "  wrote the first model: the pooled Gaussian, no training (model-id " field("model-id") ", threshold " field("threshold") ", " field("first-model-time") " s after collection)"
      } else if (phase == "done") {
        print now() "  wrote " field("model") " (model-id " field("model-id") ", threshold " field("threshold") ", " field("train-frames") " frames trained, " field("holdout-frames") " held out)"
      } else print now() "  learning " phase ": " field("detail")
      fflush()
    }
    /model-changed/ { changes++; print now() "  inspecting with the " (changes == 1 ? "first model (time to first verdicts)" : "trained model (time to the final model)"); fflush() }
    /WARNING|ERROR/ { print now() "  " $0; fflush() }
    /differnet, / && !scored { scored = 1; print now() "  first frame scored: anomaly " field("anomaly") ", score " field("score"); fflush() }
  '
