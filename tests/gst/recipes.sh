#!/usr/bin/env bash
# Runs every recipe of pipelines/ on sample input, with the camera and the screen replaced
# (SOURCE/SCREEN), and checks what each writes.
#   recipes.sh MAKE_TEST_MODEL SYNTH_LINE_CAMERA PIPELINES_DIR
set -euo pipefail
make_model=$1 synth=$2 recipes=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/differnet-recipes.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$make_model" "$work/model"
check() { [ "$1" ] || { echo "recipes: FAILED: $2"; exit 1; }; }
h264_mp4() {  # prints "yes" when FILE is an MP4 whose H.264 video decodes
  gst-launch-1.0 -q filesrc location="$1" ! qtdemux ! video/x-h264 ! avdec_h264 ! fakesink >/dev/null 2>&1 && echo yes
}

# A sample video to stand in for camera and files.
gst-launch-1.0 -q videotestsrc num-buffers=8 pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1 ! \
  videoconvert ! video/x-raw,format=I420 ! x264enc ! matroskamux ! filesink location="$work/in.mkv"

SOURCE="filesrc location=$work/in.mkv ! decodebin" "$recipes/capture-good-frames.sh" "$work/captured" 8 >/dev/null
check "$(find "$work/captured" -name 'good-*.png' | wc -l | grep -x 8)" "capture-good-frames wrote 8 PNGs"
# FRAMES holds with a SOURCE that would run on.
SOURCE="videotestsrc ! video/x-raw,width=64,height=48" "$recipes/capture-good-frames.sh" "$work/captured5" 5 >/dev/null
check "$(find "$work/captured5" -name 'good-*.png' | wc -l | grep -x 5)" "capture-good-frames: FRAMES with an endless SOURCE"

SOURCE="videotestsrc num-buffers=6 ! video/x-raw,width=160,height=120" SCREEN=fakesink \
  "$recipes/camera-to-screen-and-mp4.sh" "$work/model" "$work/tee.mp4" >/dev/null
check "$(h264_mp4 "$work/tee.mp4")" "camera-to-screen-and-mp4 wrote an H.264 MP4"

# Learn, then inspect: 8 frames of a live test source, small training settings; the model is
# written and takes over (or, should the stream end first, is written at EOS).
SOURCE="videotestsrc is-live=true num-buffers=300 pattern=ball ! video/x-raw,width=96,height=96,framerate=30/1" SCREEN=fakesink \
  LEARN_PROPS="learn-interval=1 learn-min-difference=0 learn-preset=paper learn-settings=s,input-size=128,flow-width=16,epochs=3,feature-cache=4" \
  "$recipes/learn-then-inspect.sh" "$work/learnt.model" 8 "$work/learnt.mp4" > "$work/learn.log"
check "$(grep -F "collected 8/8 frames" "$work/learn.log")" "learn-then-inspect: collecting progress ($(cat "$work/learn.log"))"
check "$(grep -F "wrote $work/learnt.model" "$work/learn.log")" "learn-then-inspect: the model written ($(cat "$work/learn.log"))"
check "$(h264_mp4 "$work/learnt.mp4")" "learn-then-inspect recorded an H.264 MP4"

# The GenICam recipe with its camera replaced (the camera path itself: the aravis test, Aravis's fake camera).
SOURCE="videotestsrc num-buffers=6 ! video/x-raw,width=160,height=120" SCREEN=fakesink \
  "$recipes/genicam-camera.sh" "Fake_1" "$work/model" "$work/genicam.mp4" >/dev/null
check "$(h264_mp4 "$work/genicam.mp4")" "genicam-camera wrote an H.264 MP4"
SOURCE="filesrc location=$work/in.mkv ! decodebin" "$recipes/genicam-camera.sh" "Fake_1" --capture "$work/gcap" 4 >/dev/null
check "$(find "$work/gcap" -name 'good-*.png' | wc -l | grep -x 4)" "genicam-camera --capture wrote 4 PNGs"
if "$recipes/genicam-camera.sh" "Fake_1" 2>/dev/null; then check "" "genicam-camera: too few arguments must fail"; fi

"$recipes/annotate-video.sh" "$work/model" "$work/in.mkv" "$work/annotated.mp4" "$work/annotated.jsonl" >/dev/null
check "$(wc -l < "$work/annotated.jsonl" | grep -x 8)" "annotate-video: one result per frame"
check "$(h264_mp4 "$work/annotated.mp4")" "annotate-video wrote an H.264 MP4"
# A failed run leaves no MP4 behind.
if "$recipes/annotate-video.sh" "$work/nonexistent.model" "$work/in.mkv" "$work/failed.mp4" "$work/failed.jsonl" >/dev/null 2>&1; then
  check "" "annotate-video: a missing model must fail"
fi
check "$([ ! -e "$work/failed.mp4" ] && [ ! -e "$work/failed.mp4.partial.mp4" ] && echo yes)" "annotate-video: no MP4 left by a failed run"

"$recipes/video-metadata-only.sh" "$work/model" "$work/in.mkv" "$work/meta.jsonl" >/dev/null
check "$(wc -l < "$work/meta.jsonl" | grep -x 8)" "video-metadata-only: one result per frame"

"$synth" --out-dir "$work/images" --frames 3 --width 200 --height 150 --seed 2 >/dev/null
mv "$work/images/frame-00001.png" "$work/images/odd name.png"
"$recipes/score-image-folder.sh" "$work/model" "$work/images" "$work/scored" >/dev/null
check "$(wc -l < "$work/scored/results.jsonl" | grep -x 3)" "score-image-folder: one result per image"
check "$(grep -c '"image":"odd name.png"' "$work/scored/results.jsonl" | grep -x 1)" "score-image-folder: names kept"
check "$(find "$work/scored" -name '*.annotated.png' | wc -l | grep -x 3)" "score-image-folder: annotated PNGs"
# Names with a quote and a backslash still make valid JSON lines.
mv "$work/images/odd name.png" "$work/images/q\"uo\\te.png"
"$recipes/score-image-folder.sh" "$work/model" "$work/images" "$work/scored2" >/dev/null
check "$(python3 -c 'import json, sys; print(sorted(json.loads(l)["image"] for l in open(sys.argv[1]))[-1])' \
  "$work/scored2/results.jsonl" | grep -xF 'q"uo\te.png')" "score-image-folder: odd names escaped in JSON"
# A truncated image is a failure that says how far it got, not "scored 1 images" and exit 0.
head -c 300 "$work/images/frame-00002.png" > "$work/images/frame-00001b.png"
if "$recipes/score-image-folder.sh" "$work/model" "$work/images" "$work/scored3" > "$work/trunc.log" 2>&1; then
  check "" "score-image-folder: a truncated image must fail"
fi
check "$(grep -F 'scored only' "$work/trunc.log")" "score-image-folder: says how many were scored"
echo "recipes: all 7 ran on sample input"
