#!/usr/bin/env bash
# Watch a camera with the DifferNet overlay on screen and record the same annotated video to MP4.
#   pipelines/camera-to-screen-and-mp4.sh MODEL OUT.mp4
# SOURCE replaces the camera, SCREEN the display sink (e.g. SCREEN=fakesink on a headless machine).
# Stop with Ctrl-C: -e sends end-of-stream so that the MP4 is finalised.
set -euo pipefail
model=${1:?usage: camera-to-screen-and-mp4.sh MODEL OUT.mp4}
out=${2:?OUT.mp4}
source=${SOURCE:-"v4l2src device=/dev/video0"}
screen=${SCREEN:-autovideosink}
# shellcheck disable=SC2086
gst-launch-1.0 -e $source ! videoconvert ! differnetfilter model="$model" ! tee name=t \
  t. ! queue ! videoconvert ! $screen \
  t. ! queue ! videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency ! mp4mux ! filesink location="$out"
