#!/usr/bin/env bash
# Downloads, on a Debian 12 machine with apt, the .deb files that scripts/gpu-check.sh unpacks
# (DEBS_DIR) on a GPU machine that has CUDA, python3's torch, meson and ninja but no C++ development
# packages: GTest, nlohmann-json, stb_image (image files without OpenCV) and pkg-config, about 2 MB.
# OpenCV and GStreamer are left out (their dependencies come to well over 100 MB): that build has
# no GStreamer plugin and reads images with stb_image.
#   scripts/fetch-gpu-debs.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/fetch-gpu-debs.sh DIR}
packages=(libgtest-dev googletest nlohmann-json3-dev libstb-dev libstb0 pkgconf pkgconf-bin libpkgconf3)
mkdir -p "$dir"
cd "$dir"
# apt-get download needs current package lists; refresh them once if it fails.
apt-get download "${packages[@]}" > download.log 2>&1 || { apt-get update -qq && apt-get download "${packages[@]}" > download.log 2>&1; } \
  || { cat download.log; echo "fetch-gpu-debs: apt-get download failed"; exit 1; }
rm -f download.log
for p in "${packages[@]}"; do
  ls "${p}"_*.deb > /dev/null 2>&1 || { echo "fetch-gpu-debs: $p was not downloaded (run apt-get update?)"; exit 1; }
done
echo "fetch-gpu-debs: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $PWD"
