#!/usr/bin/env bash
# A GenICam camera (GigE Vision or USB3 Vision, through Aravis's aravissrc) with differnetfilter: watch
# it on screen with the overlay and record the same annotated video to MP4, or capture good frames.
#   pipelines/genicam-camera.sh CAMERA MODEL OUT.mp4        inspect: screen + MP4 (Ctrl-C ends the MP4)
#   pipelines/genicam-camera.sh CAMERA --capture OUTDIR [FRAMES]   good frames to train on (default 200)
# CAMERA: the camera's name as `arv-tool-0.8` lists it (e.g. "Basler-21234567"; "" = the first found).
# CAMERA_CAPS: the format asked of the camera (default "video/x-raw,format=GRAY8", i.e. Mono8; a colour
#   camera: "video/x-bayer,format=rggb ! bayer2rgb").
# CAMERA_FEATURES: GenICam features to set, space separated (aravissrc features=, e.g. "ExposureTime=2000").
# SOURCE replaces the whole camera fragment, SCREEN the display sink (e.g. SCREEN=fakesink).
set -euo pipefail
usage="usage: genicam-camera.sh CAMERA MODEL OUT.mp4 | genicam-camera.sh CAMERA --capture OUTDIR [FRAMES]"
[ $# -ge 3 ] || { echo "$usage" >&2; exit 2; }
camera=$1
here=$(cd "$(dirname "$0")" && pwd)
caps=${CAMERA_CAPS:-"video/x-raw,format=GRAY8"}
if [ -z "${SOURCE:-}" ]; then
  if ! gst-inspect-1.0 aravissrc >/dev/null 2>&1; then
    echo "genicam-camera: aravissrc not found: install Debian's libaravis-0.8-0 (scripts/install-deps.sh)" >&2
    exit 1
  fi
  source="aravissrc"
  [ -n "$camera" ] && source+=" camera-name=\"$camera\""
  [ -n "${CAMERA_FEATURES:-}" ] && source+=" features=\"$CAMERA_FEATURES\""
  source+=" ! $caps"
else
  source=$SOURCE
fi
if [ "$2" = "--capture" ]; then
  SOURCE="$source" exec "$here/capture-good-frames.sh" "$3" "${4:-200}"
fi
SOURCE="$source" exec "$here/camera-to-screen-and-mp4.sh" "$2" "$3"
