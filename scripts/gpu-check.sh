#!/usr/bin/env bash
# The CUDA check in one go, for a machine with an NVIDIA GPU (and, with DIFFERNET_TEST_DEVICE=cpu,
# for CI, so that it cannot rot):
#   1. builds against a CUDA LibTorch (the one inside python3's torch package, or LIBTORCH_DIR);
#   2. runs the test suite with the Detector and element tests on DIFFERNET_TEST_DEVICE;
#   3. checks the device against the CPU: per-image scores in fp32 (TF32 off) within 1e-4
#      relative, and the reduced precision (fp16 on CUDA, bf16 on the CPU) within 0.5 AUROC points,
#      on generated images and, when MT_DATA and MT_MODEL are given, on the Magnetic Tile test set;
#   4. runs differnet-bench (T=1 batch 1 and batched, T=64, localization; fp32 and the reduced
#      precision; the flow in fp32 and bf16, and int8 on the CPU) while sampling the GPU's memory
#      with nvidia-smi; with MT_DATA (not --quick), scripts/bench/bench-streams.sh on the device: 1, 2 and 4
#      streams with separate models, one shared and cross-stream batching;
#   5. prints a short table last. Everything it wrote is in OUT_DIR.
#
# usage: scripts/gpu-check.sh [--quick]      (--quick: a smoke run, as CI does it)
# environment:
#   DIFFERNET_TEST_DEVICE  cuda (default), cuda:N, or cpu
#   LIBTORCH_DIR   a LibTorch folder (include/, lib/); default: python3's torch package when the
#                  device is CUDA, Debian's libtorch-dev when it is cpu
#   PYTHON         the Python whose torch to use (default python3)
#   DEBS_DIR       Debian .deb files to unpack into the build folder when this machine lacks the
#                  development files of GStreamer, OpenCV, nlohmann-json or GTest
#                  (scripts/fetch-gpu-debs.sh DIR downloads them on a Debian 12 machine)
#   BUILD_DIR      build folder (default build-gpu-check); OUT_DIR (default BUILD_DIR/gpu-check)
#   MESON_ARGS     more options for meson setup (e.g. -Dimage_io=stb)
#   MT_DATA        Magnetic Tile folder (MT_*/Imgs/*.jpg and train_good.txt, as for
#                  scripts/bench/benchmark-magnetic-tile.sh): fp32 against the reduced precision on its test
#                  set (T=MT_TRANSFORMS, default 8), with MT_MODEL or a fast-preset model trained here
#   BENCH_ITERATIONS  timed runs per figure (default 20; 2 with --quick)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
[ "${1:-}" = "--quick" ] && quick=1
device=${DIFFERNET_TEST_DEVICE:-cuda}
export DIFFERNET_TEST_DEVICE=$device
builddir=${BUILD_DIR:-build-gpu-check}
out=${OUT_DIR:-$builddir/gpu-check}
python=${PYTHON:-python3}
mkdir -p "$out"
out=$(cd "$out" && pwd)
say() { echo "gpu-check: $*"; }
die() { echo "gpu-check: FAILED: $*"; exit 1; }
failures=()
check() {  # check NAME COMMAND...: runs COMMAND, records a failure under NAME
  local name=$1
  shift
  if "$@"; then say "ok: $name"; else failures+=("$name"); say "NOT OK: $name"; fi
}

# ---- 1. LibTorch and the other build dependencies -------------------------------------------------
case $device in
  cpu) reduced=bf16 ;;
  cuda|cuda:[0-9]*) reduced=fp16 ;;
  *) die "DIFFERNET_TEST_DEVICE must be cpu, cuda or cuda:N, not '$device'" ;;
esac
libtorch=${LIBTORCH_DIR:-}
if [ -z "$libtorch" ] && [ "$reduced" = fp16 ]; then
  info=$("$python" -c 'import torch, os; print(os.path.dirname(torch.__file__)); print(torch.version.cuda); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2> "$out/torch-probe.err") \
    || die "no LIBTORCH_DIR and $python cannot import torch: $(tail -3 "$out/torch-probe.err")"
  libtorch=$(sed -n 1p <<< "$info")
  [ "$(sed -n 2p <<< "$info")" != None ] || die "$python's torch ($libtorch) has no CUDA; set LIBTORCH_DIR to a CUDA LibTorch"
  [ "$(sed -n 3p <<< "$info")" = 1 ] || die "$python's torch uses the old C++ ABI; GStreamer and OpenCV here use the new one: take a cxx11-ABI LibTorch (LIBTORCH_DIR)"
  say "LibTorch from $python: $libtorch (CUDA $(sed -n 2p <<< "$info"))"
fi
[ -z "$libtorch" ] || [ -d "$libtorch/include" ] || die "LIBTORCH_DIR '$libtorch' has no include/ folder"

if [ -n "${DEBS_DIR:-}" ]; then
  # Unpack the .deb files into a private root and point pkg-config, the compiler and the loader at it.
  sysroot=$(mkdir -p "$builddir/sysroot" && cd "$builddir/sysroot" && pwd)
  n=0
  for deb in "$DEBS_DIR"/*.deb; do
    [ -e "$deb" ] || die "DEBS_DIR '$DEBS_DIR' holds no .deb files"
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$sysroot" || die "cannot unpack $deb"
    else  # a machine without dpkg: a .deb is an ar archive holding data.tar.*
      member=$(ar t "$deb" | grep '^data\.tar') || die "$deb is not a .deb"
      case $member in
        *.xz) unpack=(tar -xJ) ;;
        *.zst) unpack=(tar --zstd -x) ;;
        *.gz) unpack=(tar -xz) ;;
        *) unpack=(tar -x) ;;
      esac
      ar p "$deb" "$member" | "${unpack[@]}" -C "$sysroot" || die "cannot unpack $deb"
    fi
    n=$((n + 1))
  done
  multiarch=lib/x86_64-linux-gnu
  # Every /usr in the .pc files (prefix=, libdir=, a bare -I/usr/include) moves into the root; the
  # files were just unpacked afresh, so this runs once on each.
  for pc in "$sysroot"/usr/{$multiarch,lib,share}/pkgconfig/*.pc; do
    [ -e "$pc" ] && sed -i -E "s#(^|[=[:space:]]|-[IL])/usr(/|\$|[[:space:]])#\\1$sysroot/usr\\2#g" "$pc"
  done
  # Debian's OpenCV module packages carry no opencv4.pc (libopencv-dev does, with every module).
  if [ ! -e "$sysroot/usr/$multiarch/pkgconfig/opencv4.pc" ] && [ -d "$sysroot/usr/include/opencv4" ]; then
    mkdir -p "$sysroot/usr/$multiarch/pkgconfig"
    cat > "$sysroot/usr/$multiarch/pkgconfig/opencv4.pc" <<EOF
prefix=$sysroot/usr
Name: OpenCV
Description: OpenCV core, imgproc and imgcodecs (unpacked from Debian packages by gpu-check.sh)
Version: 4.6.0
Libs: -L\${prefix}/$multiarch -lopencv_imgcodecs -lopencv_imgproc -lopencv_core
Cflags: -I\${prefix}/include/opencv4
EOF
  fi
  export PKG_CONFIG_PATH="$sysroot/usr/$multiarch/pkgconfig:$sysroot/usr/lib/pkgconfig:$sysroot/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="$sysroot/usr/$multiarch:$sysroot/$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LIBRARY_PATH="$sysroot/usr/$multiarch${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export CPATH="$sysroot/usr/include${CPATH:+:$CPATH}"
  export LDFLAGS="${LDFLAGS:-} -Wl,-rpath-link,$sysroot/usr/$multiarch -Wl,-rpath-link,$sysroot/$multiarch"
  export GST_PLUGIN_SYSTEM_PATH_1_0="$sysroot/usr/$multiarch/gstreamer-1.0"
  scanner="$sysroot/usr/libexec/gstreamer-1.0/gst-plugin-scanner"
  [ -x "$scanner" ] || scanner=$(ls "$sysroot"/usr/lib/*/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner 2>/dev/null | head -1)
  [ -z "$scanner" ] || export GST_PLUGIN_SCANNER="$scanner"
  export PATH="$PATH:$sysroot/usr/bin"  # the machine's own tools first; pkg-config from the root if it has none
  command -v pkg-config > /dev/null || die "no pkg-config here and none in DEBS_DIR (scripts/fetch-gpu-debs.sh brings pkgconf)"
  say "unpacked $n .deb files into $sysroot"
fi

# ---- 2. Build and test ----------------------------------------------------------------------------
setup_args=(-Dlibtorch_dir="$libtorch" ${MESON_ARGS:-})
if [ -d "$builddir/meson-private" ]; then
  meson setup --reconfigure "$builddir" "${setup_args[@]}" > "$out/meson-setup.log" 2>&1
else
  meson setup "$builddir" "${setup_args[@]}" > "$out/meson-setup.log" 2>&1
fi || { tail -30 "$out/meson-setup.log"; die "meson setup failed (log: $out/meson-setup.log)"; }
grep -E "LibTorch|CUDA|GStreamer plugin" "$out/meson-setup.log" | sed 's/^/  /'
if [ "$reduced" = fp16 ] && ! grep -qE "CUDA +: (YES|[Tt]rue)" "$out/meson-setup.log"; then
  die "the build found no CUDA in LibTorch '$libtorch'"
fi
ninja -C "$builddir" -j "$(nproc)" > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; die "the build failed (log: $out/build.log)"; }
say "built in $builddir"
bin=$builddir/tools

tests=(model element)
grep -qE "GStreamer plugin *: (YES|[Tt]rue)" "$out/meson-setup.log" || { tests=(model); say "no GStreamer plugin in this build: element tests skipped"; }
if [ "$quick" = 1 ]; then
  # CI: the device-dependent cases only (the whole suite has just run in tests/run.sh).
  export GTEST_FILTER='DetectorTest.*:Element.FramesInFlight:Element.StateCycles:Element.BuffersMetaMessagesAndResultsFile'
fi
say "tests on $device: ${tests[*]}"
check "test suite on $device" meson test -C "$builddir" --print-errorlogs --num-processes 1 "${tests[@]}"
unset GTEST_FILTER
cp "$builddir/meson-logs/testlog.txt" "$out/testlog.txt" 2>/dev/null

# ---- 3. The device against the CPU ----------------------------------------------------------------
work=$out/agreement
rm -rf "$work" && mkdir -p "$work"
"$builddir/tests/make-test-images" "$work/images" > /dev/null || die "make-test-images failed"
"$bin/differnet-train" "$work/images/train" -o "$work/tiny.model" --preset fast --input-size 128 --flow-width 64 --epochs 12 \
  --batch-size 4 --feature-cache 8 --seed 1 --holdout 4 --device cpu > "$work/train.log" 2>&1 \
  || { tail "$work/train.log"; die "training the check model failed"; }
eval_run() {  # eval_run NAME MODEL FOLDER T DEVICE PRECISION [more differnet-eval options]; the flow in fp32
  # (precision=auto would run it in int8 on a CPU with VNNI and in fp32 on CUDA: not comparable)
  local name=$1 model=$2 folder=$3 T=$4 dev=$5 prec=$6; shift 6
  "$bin/differnet-eval" "$model" "$folder" --transforms "$T" --device "$dev" --precision "$prec" \
    --flow-precision fp32 --report "$work/$name.json" "$@" > "$work/$name.log" 2>&1 || { tail "$work/$name.log"; return 1; }
}
compare() {  # compare NAME REFERENCE.json OTHER.json MAX_RELATIVE MAX_AUROC_POINTS
  /usr/bin/env python3 - "$@" <<'PY'
import json, sys
name, a, b, rel_max, auc_max = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), float(sys.argv[4]), float(sys.argv[5])
sa = {i["path"]: i["score"] for i in a["images"]}
rel = max(abs(i["score"] - sa[i["path"]]) / max(abs(sa[i["path"]]), 1e-12) for i in b["images"])
dauc = 100 * abs(a["auroc"] - b["auroc"])
ok = rel <= rel_max and dauc <= auc_max
print(f"{name}: {len(sa)} images, AUROC {a['auroc']:.4f} ({a['device']} {a['precision']}) vs {b['auroc']:.4f} "
      f"({b['device']} {b['precision']}): {dauc:.2f} points; max relative score difference {rel:.2e} "
      f"(limits {rel_max:g}, {auc_max:g} points) {'ok' if ok else 'NOT OK'}")
sys.exit(0 if ok else 1)
PY
}
agreement=()
if eval_run cpu-fp32 "$work/tiny.model" "$work/images/test" 8 cpu fp32 \
   && eval_run dev-fp32 "$work/tiny.model" "$work/images/test" 8 "$device" fp32 \
   && eval_run dev-$reduced "$work/tiny.model" "$work/images/test" 8 "$device" $reduced; then
  agreement+=("$(compare "generated, $device fp32 vs cpu fp32" "$work/cpu-fp32.json" "$work/dev-fp32.json" 1e-4 0.5)") \
    || failures+=("fp32 agreement")
  agreement+=("$(compare "generated, $device $reduced vs cpu fp32" "$work/cpu-fp32.json" "$work/dev-$reduced.json" 1 0.5)") \
    || failures+=("$reduced agreement")
else
  failures+=("agreement runs")
fi
if [ -n "${MT_DATA:-}" ]; then
  mt=(--ext jpg --good MT_Free --exclude "$MT_DATA/train_good.txt")
  T=${MT_TRANSFORMS:-8}
  if [ -z "${MT_MODEL:-}" ]; then  # train one here, on the paper's training list (fast preset)
    MT_MODEL=$work/mt.model
    say "training a Magnetic Tile model on $device (fast preset)"
    "$bin/differnet-train" "$MT_DATA/MT_Free" --ext jpg --include "$MT_DATA/train_good.txt" --holdout 0 \
      --preset fast --seed 0 --device "$device" -o "$MT_MODEL" > "$work/mt-train.log" 2>&1 \
      || { tail "$work/mt-train.log"; failures+=("Magnetic Tile training"); }
    grep -E "^wrote" "$work/mt-train.log"
  fi
  if [ -s "$MT_MODEL" ] && eval_run mt-fp32 "$MT_MODEL" "$MT_DATA" "$T" "$device" fp32 "${mt[@]}" \
     && eval_run mt-$reduced "$MT_MODEL" "$MT_DATA" "$T" "$device" $reduced "${mt[@]}"; then
    agreement+=("$(compare "Magnetic Tile T=$T, $device $reduced vs fp32" "$work/mt-fp32.json" "$work/mt-$reduced.json" 1 0.5)") \
      || failures+=("Magnetic Tile $reduced AUROC")
  else
    failures+=("Magnetic Tile runs")
  fi
fi
printf '%s\n' "${agreement[@]}"

# ---- 4. Speed and memory --------------------------------------------------------------------------
iterations=${BENCH_ITERATIONS:-20}
flow_precisions=fp32,bf16  # int8 is CPU only
[ "$reduced" = bf16 ] && flow_precisions=fp32,bf16,int8
bench=(--backbones squeezenet1_1,alexnet --flow-widths 512,2048 --transforms 1,64 --localize-transforms 1
       --precision fp32,$reduced --flow-precision "$flow_precisions" --iterations "$iterations" --warmup 3
       --batch 64 --device "$device")
[ "$quick" = 1 ] && bench=(--quick --backbones squeezenet1_1 --transforms 1 --localize-transforms 1
                           --precision fp32,$reduced --batch 4 --device "$device")
sampler=
if [ "$reduced" = fp16 ] && command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt" 2>&1
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$out/gpu-memory.csv" 2>/dev/null &
  sampler=$!
  sleep 1
fi
run_bench() { "$bin/differnet-bench" "${bench[@]}" > "$out/bench.txt" 2>&1 || { tail "$out/bench.txt"; return 1; }; }
check "differnet-bench" run_bench
[ -z "$sampler" ] || kill "$sampler" 2>/dev/null
# Many streams on the device: separate models, one shared, cross-stream batching.
streams_ok=0
if [ "$quick" = 0 ] && [ -d "$builddir/plugin" ] && [ -n "${MT_MODEL:-}" ] && [ -s "${MT_MODEL:-}" ]; then
  run_streams() {
    BUILD_DIR=$builddir scripts/bench/bench-streams.sh "$MT_MODEL" 20 1,2,4 device="$device" localization=off \
      > "$out/streams.txt" 2>&1 || { tail "$out/streams.txt"; return 1; }
  }
  check "bench-streams" run_streams && streams_ok=1
fi

# ---- 5. The table ---------------------------------------------------------------------------------
echo
echo "==== gpu-check: $device ($(cat "$out/gpu.txt" 2>/dev/null || echo "no nvidia-smi")), LibTorch ${libtorch:-Debian}"
echo "command: DIFFERNET_TEST_DEVICE=$device scripts/gpu-check.sh${1:+ $1}    (logs: $out)"
sed -n '/^summary/,$p' "$out/bench.txt"
[ "$streams_ok" = 0 ] || { echo "streams (scripts/bench/bench-streams.sh MODEL 20 1,2,4 device=$device localization=off):"; cat "$out/streams.txt"; }
if [ -s "${out}/gpu-memory.csv" ]; then
  base=$(head -1 "$out/gpu-memory.csv"); peak=$(sort -n "$out/gpu-memory.csv" | tail -1)
  echo "GPU memory (nvidia-smi, whole device): $base MiB before the bench, peak $peak MiB during it"
fi
printf '%s\n' "${agreement[@]}"
if [ ${#failures[@]} -gt 0 ]; then
  echo "gpu-check: FAILED: ${failures[*]}"
  exit 1
fi
echo "gpu-check: all checks passed"
