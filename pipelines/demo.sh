#!/usr/bin/env bash
# The main job, end to end, with no outside data:
#   1. install what is missing (scripts/install-deps.sh) and build;
#   2. draw a sample line-camera stream (parts on a conveyor, some with small defects) to a video;
#   3. learn a model from a video of good parts in a pipeline (differnetfilter mode=learn: it keeps
#      the frames, trains at the end of the stream and writes the model);
#   4. run differnetfilter in a gst-launch-1.0 pipeline: the sample video in, an annotated H.264 MP4
#      and JSON-lines results out;
#   5. print frames, frames flagged, ROC AUC against the generator's labels, frames per second.
# Outputs go to demo-output/ (DEMO_DIR to change). A second run skips finished steps; delete the
# folder to start over. SKIP_INSTALL=1 skips the apt-get step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${DEMO_DIR:-$root/demo-output}
build=$root/build
frames=${DEMO_FRAMES:-150}
mkdir -p "$out"

step_start=0
step() { step_start=$(date +%s); echo; echo "==> $*"; }
done_step() { echo "    done in $(( $(date +%s) - step_start )) s"; }
fail() { echo "demo.sh: $*" >&2; exit 1; }
trap 'echo "demo.sh: a step failed (see above). Fix it and run pipelines/demo.sh again: finished steps are kept." >&2' ERR

step "[1/5] Installing packages and building in build/ (the first build takes about 3 minutes on 2 cores)"
if [ "${SKIP_INSTALL:-0}" != 1 ]; then "$root/scripts/install-deps.sh" || fail "installing packages failed"; fi
[ -d "$build/meson-private" ] || meson setup "$build" "$root" >/dev/null || fail "meson setup failed"
ninja -C "$build" -j 2 >/dev/null || fail "the build failed: run 'ninja -C build' to see why"
export GST_PLUGIN_PATH="$build/plugin" GST_REGISTRY="$build/demo-registry.bin"
gst-inspect-1.0 differnetfilter >/dev/null 2>&1 || fail "GStreamer cannot load the plugin from $build/plugin"
done_step

encode() {  # PNG frames folder -> near-lossless H.264 (quantizer 0) in Matroska
  gst-launch-1.0 -q multifilesrc location="$1/frame-%05d.png" caps="image/png,framerate=10/1" ! pngdec ! \
    videoconvert ! video/x-raw,format=I420 ! x264enc pass=quant quantizer=0 speed-preset=ultrafast ! \
    matroskamux ! filesink location="$2"
}

step "[2/5] Drawing the sample line-camera stream ($frames frames, 30 % with a small defect)"
if [ -f "$out/sample.mkv" ] && [ -f "$out/labels.csv" ]; then
  echo "    already there: $out/sample.mkv"
else
  rm -rf "$out/stream"
  "$build/pipelines/synth-line-camera" --out-dir "$out/stream" --frames "$frames" --seed 7 --defect-rate 0.3
  encode "$out/stream" "$out/sample.mkv.tmp" && mv "$out/sample.mkv.tmp" "$out/sample.mkv"
  cp "$out/stream/labels.csv" "$out/labels.csv"
  rm -rf "$out/stream"
fi
done_step

step "[3/5] Learning a model from 80 good frames in a pipeline (learn mode; the accurate preset: ResNet50-v2 features, CPU)"
if [ -f "$out/model.safetensors" ]; then
  echo "    already there: $out/model.safetensors"
else
  rm -rf "$out/good-video"
  "$build/pipelines/synth-line-camera" --out-dir "$out/good-video" --frames 80 --seed 1000 --defect-rate 0 >/dev/null
  encode "$out/good-video" "$out/good.mkv"
  # The video of good parts stands in for the camera: every frame is kept (learn-interval=1, no
  # near-duplicate skipping: the parts move), training starts at the end of the stream, 20 frames
  # are held out to set the threshold; EOS goes on once the model is written.
  rm -f "$out/model.safetensors.tmp"
  gst-launch-1.0 -q filesrc location="$out/good.mkv" ! matroskademux ! avdec_h264 ! videoconvert ! \
    differnetfilter mode=learn learn-frames=80 learn-interval=1 learn-min-difference=0 \
    learn-settings="s,epochs=24,holdout=20,seed=1" model="$out/model.safetensors.tmp" overlay=none ! fakesink
  [ -f "$out/model.safetensors.tmp" ] || fail "learn mode wrote no model"
  mv "$out/model.safetensors.tmp" "$out/model.safetensors"
  rm -rf "$out/good-video"
fi
done_step

step "[4/5] Running the pipeline: sample.mkv -> differnetfilter (heatmap, score, border) -> annotated.mp4"
if [ -f "$out/annotated.mp4" ] && [ -f "$out/results.jsonl" ] && [ -f "$out/pipeline-seconds" ]; then
  echo "    already there: $out/annotated.mp4"
else
  t0=$(date +%s.%N)
  gst-launch-1.0 -q filesrc location="$out/sample.mkv" ! matroskademux ! avdec_h264 ! videoconvert ! \
    differnetfilter model="$out/model.safetensors" results-file="$out/results.jsonl" ! \
    videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux ! filesink location="$out/annotated.mp4.tmp"
  mv "$out/annotated.mp4.tmp" "$out/annotated.mp4"
  awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { print t1 - t0 }' > "$out/pipeline-seconds"
  # The first annotated frame with a planted defect, as a picture.
  first_bad=$(awk -F, 'NR > 1 && $2 == 1 { print $1; exit }' "$out/labels.csv")
  rm -rf "$out/decoded" && mkdir -p "$out/decoded"
  gst-launch-1.0 -q filesrc location="$out/annotated.mp4" ! qtdemux ! avdec_h264 ! videoconvert ! pngenc ! \
    multifilesink location="$out/decoded/%05d.png"
  cp "$(printf '%s/decoded/%05d.png' "$out" "$first_bad")" "$out/annotated-frame.png"
  rm -rf "$out/decoded"
fi
done_step

step "[5/5] Summary"
/usr/bin/python3 "$root/pipelines/summarize_results.py" "$out/results.jsonl" "$out/labels.csv" "$(cat "$out/pipeline-seconds")" 640
echo "annotated video: $out/annotated.mp4 (H.264, I420: plays in common players)"
echo "results:         $out/results.jsonl (one JSON object per frame)"
