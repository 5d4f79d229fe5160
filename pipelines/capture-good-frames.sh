#!/usr/bin/env bash
# Capture frames of good parts from a camera into a folder, to train on.
#   pipelines/capture-good-frames.sh OUTDIR [FRAMES]
# SOURCE replaces the camera (default: the first V4L2 device), e.g. SOURCE="filesrc location=good.mkv ! decodebin".
# Frames are written as OUTDIR/good-00000.png ...; then: differnet-train OUTDIR -o parts.model
set -euo pipefail
out=${1:?usage: capture-good-frames.sh OUTDIR [FRAMES]}
frames=${2:-200}
source=${SOURCE:-"v4l2src device=/dev/video0 num-buffers=$frames"}
mkdir -p "$out"
# shellcheck disable=SC2086  # SOURCE is a pipeline fragment: split it into words on purpose
# identity eos-after: FRAMES frames whatever the source (a SOURCE without num-buffers would run on);
# it ends the stream at the buffer it counts to, so it counts to FRAMES + 1
case "$frames" in ''|*[!0-9]*|0) echo "capture-good-frames: FRAMES must be a positive number, not '$frames'" >&2; exit 2 ;; esac
marker=$(mktemp)
touch -d '-1 second' "$marker"
gst-launch-1.0 -q -e $source ! identity eos-after=$((frames + 1)) ! videoconvert ! video/x-raw,format=RGB ! pngenc ! \
  multifilesink location="$out/good-%05d.png"
# identity stops counting once it has said EOS, and a queue upstream (decodebin's) may push a few
# more frames before the source sees it: keep exactly the first FRAMES of this run (files of an
# earlier capture into the same folder, older than the marker, are left alone)
find "$out" -name 'good-*.png' -newer "$marker" | sort | tail -n +$((frames + 1)) | xargs -r rm -f
rm -f "$marker"
echo "captured $(find "$out" -name 'good-*.png' | wc -l) frames in $out"
