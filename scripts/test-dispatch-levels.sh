#!/usr/bin/env bash
# Runs the model and element suites once per CPU dispatch level this machine supports, so that a
# numeric test that holds on one CPU's kernels holds on the next CPU's too. LibTorch picks its ATen
# kernels by ATEN_CPU_CAPABILITY (default, avx2, avx512) and oneDNN its convolution and matrix
# kernels by ONEDNN_MAX_CPU_ISA; each level below caps both:
#   default  ATEN_CPU_CAPABILITY=default  ONEDNN_MAX_CPU_ISA=SSE41
#   avx2     ATEN_CPU_CAPABILITY=avx2     ONEDNN_MAX_CPU_ISA=AVX2
#   avx512   ATEN_CPU_CAPABILITY=avx512   ONEDNN_MAX_CPU_ISA=AVX512_CORE   (where the CPU has AVX-512)
#   native   neither set (what the machine picks by itself)
# Usage: scripts/test-dispatch-levels.sh [LEVEL ...]   (default: every level the CPU supports)
# Needs a build (tests/run.sh makes ./build, or BUILD_DIR); prints one line per level and exits 1 when
# any level fails.
set -uo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}
[ -d "$builddir/meson-private" ] || { echo "test-dispatch-levels.sh: no build in $builddir (run tests/run.sh first)"; exit 1; }
levels=("$@")
if [ ${#levels[@]} -eq 0 ]; then
  levels=(default)
  grep -qw avx2 /proc/cpuinfo && levels+=(avx2)
  grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && levels+=(avx512)
  levels+=(native)
fi
suites=(model)
# (the list is read whole first: grep -q closing the pipe early would fail it under pipefail)
tests=$(meson test -C "$builddir" --list 2>/dev/null)
grep -qx element <<< "$tests" && suites+=(element)
status=0
for level in "${levels[@]}"; do
  case $level in
    default) env=(ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41) ;;
    avx2)    env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2) ;;
    avx512)  env=(ATEN_CPU_CAPABILITY=avx512 ONEDNN_MAX_CPU_ISA=AVX512_CORE) ;;
    native)  env=() ;;
    *) echo "test-dispatch-levels.sh: unknown level '$level' (default, avx2, avx512, native)"; exit 2 ;;
  esac
  start=$(date +%s)
  if env "${env[@]}" meson test -C "$builddir" --num-processes 1 --print-errorlogs "${suites[@]}" \
      > "$builddir/meson-logs/dispatch-$level.log" 2>&1; then
    echo "dispatch level $level: ${suites[*]} passed ($(( $(date +%s) - start )) s)"
  else
    echo "dispatch level $level: FAILED ($(( $(date +%s) - start )) s); log: $builddir/meson-logs/dispatch-$level.log"
    grep -E '^\[  FAILED  \]|Failure|evaluates to' "$builddir/meson-logs/dispatch-$level.log" | head -20
    status=1
  fi
done
exit $status
