#!/usr/bin/env bash
# Installs, with apt-get, every Debian 12 package that building, testing and the demo need.
# Runs through sudo when not root. Safe to run again: apt-get skips what is installed.
set -euo pipefail

packages=(
  # toolchain and build
  g++ meson ninja-build pkg-config
  # model library: LibTorch (CPU), a fast BLAS for it, OpenCV, JSON
  libtorch-dev libdnnl-dev libopenblas0-openmp libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  nlohmann-json3-dev
  # GStreamer plugin, its tests and the demo pipelines (x264enc: ugly; avdec_h264: libav)
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # tests: GoogleTest, the PyTorch reference for the parity test, the Python example (GObject introspection)
  libgtest-dev python3 python3-numpy python3-scipy python3-pil python3-torch python3-torchvision
  python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  # differnetpublish (libmosquitto); its tests start Debian's broker with their own configuration and
  # make TLS certificates with openssl; the subscriber example uses paho-mqtt
  libmosquitto-dev mosquitto openssl python3-paho-mqtt
  # GenICam cameras: Aravis's GStreamer source aravissrc (in libaravis-0.8-0), its headers
  # for the fake-camera test (its .pc file needs libusb-1.0-0-dev, not a dependency of the package),
  # and arv-tool-0.8 to list cameras
  libaravis-dev libusb-1.0-0-dev aravis-tools-cli
  # the fuzz pass (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
)

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} packages already installed"
fi

# The flow's speed rests on BLAS: the reference BLAS is ~45x slower, and OpenBLAS's pthread
# variant fights LibTorch's OpenMP threads for the cores (see README, "Speed").
for lib in libblas.so.3 liblapack.so.3; do
  alt="${lib}-x86_64-linux-gnu"
  target="/usr/lib/x86_64-linux-gnu/openblas-openmp/${lib}"
  if [ -e "$target" ] && update-alternatives --query "$alt" >/dev/null 2>&1; then
    current=$(update-alternatives --query "$alt" | sed -n 's/^Value: //p')
    [ "$current" = "$target" ] || "${SUDO[@]}" update-alternatives --set "$alt" "$target"
  fi
done
