#!/usr/bin/env bash
# Runs the example applications of pipelines/ (C and Python) on a running pipeline with a small
# model and checks that they read the DifferNet metadata of every buffer.
#   examples.sh MAKE_TEST_MODEL READ_META_C READ_META_PY MULTI_CAMERA
set -euo pipefail
make_model=$1 read_meta_c=$2 read_meta_py=$3 multi_camera=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/differnet-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$make_model" "$work/model.safetensors"

pipeline="videotestsrc num-buffers=12 ! video/x-raw,width=160,height=120 ! videoconvert ! \
differnetfilter name=differnet model=$work/model.safetensors overlay=all ! fakesink"

"$read_meta_c" "$work/model.safetensors" "$pipeline" > "$work/c.txt"
grep -q "^12 buffers, 12 with DifferNet meta" "$work/c.txt" || { cat "$work/c.txt"; echo "C example: wrong summary"; exit 1; }
[ "$(grep -c '^frame ' "$work/c.txt")" -eq 12 ] || { echo "C example: not one line per frame"; exit 1; }

/usr/bin/python3 "$read_meta_py" "$work/model.safetensors" "$pipeline" > "$work/py.txt"
grep -q "^12 buffers, 12 with DifferNet meta" "$work/py.txt" || { cat "$work/py.txt"; echo "Python example: wrong summary"; exit 1; }
# Both read the same scores (C prints 4 decimals, as does Python).
diff <(grep -o 'score [0-9.e+-]*' "$work/c.txt") <(grep -o 'score [0-9.e+-]*' "$work/py.txt") \
  || { echo "C and Python read different scores"; exit 1; }
echo "examples: C and Python read the meta of all 12 buffers"

# The multi-camera application: 4 test sources, one shared model, cross-stream batching of 4, a
# tiled MP4, per-stream counts.
TILE=96x72 FILTER_PROPS="batch-size=4" "$multi_camera" "$work/model.safetensors" "$work/tiled.mp4" \
  "videotestsrc num-buffers=8 pattern=smpte" "videotestsrc num-buffers=8 pattern=ball" \
  "videotestsrc num-buffers=8 pattern=snow" "videotestsrc num-buffers=8 pattern=checkers-8" > "$work/multi.txt"
cat "$work/multi.txt"
grep -q "loaded once for 4 element(s)" "$work/multi.txt" || { echo "multi-camera: the model was not shared"; exit 1; }
[ "$(grep -c '^stream [0-3]: 8 frames' "$work/multi.txt")" -eq 4 ] || { echo "multi-camera: not 8 frames per stream"; exit 1; }
[ -s "$work/tiled.mp4" ] || { echo "multi-camera: no MP4 written"; exit 1; }
grep -q '^stream 0: .* [2-4]\.[0-9]* frames per scoring pass' "$work/multi.txt" \
  || { echo "multi-camera: frames were not batched across streams"; exit 1; }

# The thread policy the plugin sets before LibTorch loads (plugin/plugin.cpp), and the user's choice winning.
# (The output is kept first: grep -q closing the pipe early would fail the pipeline under pipefail.)
GST_DEBUG=differnet:4 gst-inspect-1.0 differnetfilter > "$work/policy.txt" 2>&1
grep -q 'OMP_WAIT_POLICY=PASSIVE' "$work/policy.txt" || { echo "plugin: OMP_WAIT_POLICY=PASSIVE was not set"; exit 1; }
OMP_WAIT_POLICY=ACTIVE GST_DEBUG=differnet:4 gst-inspect-1.0 differnetfilter > "$work/policy.txt" 2>&1
grep -q 'left as the environment says' "$work/policy.txt" || { echo "plugin: the user's OMP_WAIT_POLICY did not win"; exit 1; }
echo "examples: thread policy set, and left to the user's OMP_WAIT_POLICY"

# The scale-out recipe: two pipelines (two lines) -> differnetpublish -> a mosquitto broker started
# here -> collect_results.py into SQLite, with per-line counts.
collector=$(dirname "$read_meta_py")/../collect-results/collect_results.py
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ ! -x "$mosquitto" ] || ! /usr/bin/python3 -c 'import paho.mqtt.client' 2>/dev/null; then
  echo "examples: SKIPPED the MQTT recipe: mosquitto or python3-paho-mqtt is not installed (scripts/install-deps.sh)"
  exit 0
fi
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser %s\n' "$port" "$(id -un)" > "$work/mosquitto.conf"
"$mosquitto" -c "$work/mosquitto.conf" > "$work/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
/usr/bin/python3 "$collector" --port "$port" --host 127.0.0.1 --db "$work/results.sqlite" --count 20 > "$work/collector.txt" &
collector_pid=$!
for _ in $(seq 100); do grep -q subscribed "$work/collector.txt" 2>/dev/null && break; sleep 0.05; done
for line in 1 2; do
  gst-launch-1.0 -q videotestsrc num-buffers=10 ! video/x-raw,width=96,height=96 ! videoconvert ! \
    differnetfilter model="$work/model.safetensors" overlay=none post-messages=false ! \
    differnetpublish address=127.0.0.1:$port topic=differnet/line$line stream=line$line required=true ! fakesink
done
timeout 20 tail --pid=$collector_pid -f /dev/null || { echo "collector did not receive 20 messages"; cat "$work/collector.txt"; exit 1; }
cat "$work/collector.txt"
grep -Eq '^line1 +10 ' "$work/collector.txt" && grep -Eq '^line2 +10 ' "$work/collector.txt" \
  || { echo "collector: not 10 results per line"; exit 1; }
echo "examples: two pipelines published 20 results through the broker into SQLite"
