#!/usr/bin/env bash
# Fuzzes what a model file and a user's strings go through before LibTorch sees anything, with
# libFuzzer (clang, AddressSanitizer and UndefinedBehaviorSanitizer):
#   fuzz_model_file  the safetensors container, __metadata__, configuration and calibration JSON,
#                    the tensor digest (tests/fuzz/fuzz_model_file.cpp)
#   fuzz_strings     the roi text and the region's bounds check, the device and (flow) precision names
#                    (tests/fuzz/fuzz_strings.cpp)
# Usage: scripts/fuzz.sh SECONDS [RUNS]   each target runs SECONDS (or RUNS executions, when given)
# The seed corpus is made from real model files: a tiny model trained by build/tests/make-test-model
# (when the build has it), its header kept and its tensors shrunk so that executions stay fast, plus
# damaged variants. Prints executions per target; a crash leaves its input in fuzz-out/ and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [RUNS]}
runs=${2:-}
out=${FUZZ_OUT:-fuzz-out}
mkdir -p "$out/bin" "$out/corpus-model" "$out/corpus-strings" "$out/scratch"
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (apt-get install clang libclang-rt-14-dev)"; exit 1; }

flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Imodel)
clang++ "${flags[@]}" tests/fuzz/fuzz_model_file.cpp model/safetensors.cpp model/config.cpp model/device_name.cpp model/tiling.cpp model/sha256.cpp \
  -o "$out/bin/fuzz_model_file"
clang++ "${flags[@]}" tests/fuzz/fuzz_strings.cpp model/frame.cpp model/device_name.cpp model/tiling.cpp -o "$out/bin/fuzz_strings"

# Seeds
if [ -x build/tests/make-test-model ] && [ ! -f "$out/real.model" ]; then
  DIFFERNET_WEIGHTS_DIR=$PWD/model/weights OMP_NUM_THREADS=2 build/tests/make-test-model "$out/real.model" >/dev/null
fi
python3 - "$out" <<'PY'
import json, os, struct, sys
out = sys.argv[1]
corpus = os.path.join(out, "corpus-model")
def write(name, header, data=b""):
    text = json.dumps(header).encode()
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
meta = {"format": "differnet-model", "format_version": "1"}
real = os.path.join(out, "real.model")
if os.path.exists(real):
    with open(real, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    meta = header["__metadata__"]
    names = sorted(k for k in header if k != "__metadata__")
    # the real header as it is (its data offsets point past the end: a truncated file)
    write("real-header-only", header)
else:
    names = ["flow.block0.subnet1.fc0.weight"]
data = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
small = {"__metadata__": meta}
for i, name in enumerate(names[:3]):
    small[name] = {"dtype": "F32", "shape": [2, 3] if i == 0 else [0], "data_offsets": [0, 24] if i == 0 else [24, 24]}
write("small-model", small, data)
bad = dict(small); bad[names[0]] = {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 24]}
write("huge-shape", bad, data)
nan = struct.pack("<6f", 1, float("nan"), 3, float("inf"), 5, 6)
write("non-finite", small, nan)
# calibration blocks, sound and edited (a huge, negative or zero-T threshold must be refused)
good_cal = {"calibrated": True, "threshold": 4.5, "transforms": 1, "method": "quantile 0.99 of 8 good images at T=1",
            "good_count": 8, "good_mean": 3.0, "good_std": 0.8, "good_max": 4.6}
for name, edit in [("cal-good", {}), ("cal-huge", {"threshold": 1e308}), ("cal-negative", {"threshold": -5}),
                   ("cal-t0", {"transforms": 0})]:
    m = dict(meta); m["calibration"] = json.dumps({**good_cal, **edit})
    write(name, {**small, "__metadata__": m}, data)
sc = os.path.join(out, "corpus-strings")
for i, s in enumerate(["", "0,0,64,48", "2147483640,0,100,100", "1,2,3", "-1,2,3,4", "99999999999,0,1,1", "1,2,3,4x",
                       "auto", "cpu", "cuda", "cuda:0", "cuda:123", "cuda:-1", "gpu", "fp32", "fp16", "bf16", "int8"]):
    open(os.path.join(sc, f"seed{i}"), "w").write(s)
PY

# Each execution writes its input to a file (the loader reads files): in memory where possible.
scratch=$out/scratch
if [ -d /dev/shm ] && [ -w /dev/shm ]; then scratch=$(mktemp -d /dev/shm/differnet-fuzz.XXXXXX); fi
trap 'rm -rf "$scratch"' EXIT
status=0
for target in fuzz_model_file fuzz_strings; do
  corpus=$out/corpus-${target#fuzz_}
  [ "$target" = fuzz_model_file ] && corpus=$out/corpus-model
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1
        -artifact_prefix="$out/$target-")
  [ -n "$runs" ] && args+=(-runs="$runs")
  [ "$target" = fuzz_model_file ] && args+=(-dict=tests/fuzz/model_file.dict)
  log=$out/$target.log
  if FUZZ_SCRATCH_DIR=$scratch ASAN_OPTIONS=detect_leaks=1 "$out/bin/$target" "${args[@]}" "$corpus" >"$log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz.sh: $target: ${execs:-?} executions, no crash, hang or oversized allocation"
  else
    echo "fuzz.sh: $target FAILED (see $log; the input is under $out/$target-*)"
    tail -20 "$log"
    status=1
  fi
done
exit $status
