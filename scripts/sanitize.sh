#!/usr/bin/env bash
# The model, element and publish tests under AddressSanitizer and UndefinedBehaviorSanitizer (GCC), with
# leak checking at exit. The sanitizers are Meson's own option: -Db_sanitize=address,undefined.
#   scripts/sanitize.sh            builds in ./build-asan (or $BUILD_DIR) and runs the suites
# Any report (invalid access, leak, undefined behaviour) stops the test that made it and fails the
# run. Suppressions live in tests/sanitizers/, each with its reason. The stress tests run 10 state
# cycles here instead of 200 (DIFFERNET_STRESS_CYCLES): the instrumented build is 5 to 10 times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build-asan}
options=(-Db_sanitize=address,undefined -Dcpp_args=-fno-omit-frame-pointer -Dc_args=-fno-omit-frame-pointer)
if [ -d "$builddir/meson-private" ]; then
  meson setup --reconfigure "$builddir" "${options[@]}" >/dev/null
else
  meson setup "$builddir" "${options[@]}" >/dev/null
fi
targets=(tests/model-tests tests/element-tests)
# The plugin and the PyTorch parity reference, where this build has them.
for t in plugin/libgstdiffernet.so plugin/libgstdiffernet-core.impl tests/reference.safetensors tests/publish-tests; do
  if ninja -C "$builddir" -t targets all | grep -q "^$t:"; then targets+=("$t"); fi
done
ninja -C "$builddir" -j 2 "${targets[@]}"

supp=$PWD/tests/sanitizers
# fast_unwind_on_malloc=0: GLib and LibTorch have no frame pointers; without it a leak's stack stops
# at g_malloc and the suppressions cannot see where it came from.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:fast_unwind_on_malloc=0:detect_odr_violation=1
export LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp
# GStreamer scans plugins in a helper process that is not instrumented and could not load an
# instrumented plugin: scan in the test process instead.
export GST_REGISTRY_FORK=no
export DIFFERNET_STRESS_CYCLES=${DIFFERNET_STRESS_CYCLES:-10}
suites=(model)
if [ -x "$builddir/tests/element-tests" ]; then suites+=(element); fi
if [ -x "$builddir/tests/publish-tests" ]; then suites+=(publish); fi
meson test -C "$builddir" --print-errorlogs --num-processes 1 --timeout-multiplier 3 "${suites[@]}"
echo "sanitize.sh: ${suites[*]} tests clean under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer"
