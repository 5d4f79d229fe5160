#!/usr/bin/env bash
# Prepares the one run of scripts/gpu-check.sh on a lent GPU machine (CUDA, python3 with torch, meson
# and ninja, but no C++ development packages and no network): puts the .deb files it unpacks
# (scripts/fetch-gpu-debs.sh) and the Magnetic Tile JPEGs with the paper's training list into .gpu/
# (ignored by git; about 51 MB, inside the 64 MiB a run may carry with the repository), then prints
# the command to give the machine, with .gpu carried.
#   scripts/prepare-gpu-run.sh MAGNETIC_TILE_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
mt=${1:?usage: scripts/prepare-gpu-run.sh MAGNETIC_TILE_DIR (the dataset folder: MT_*/Imgs, train_good.txt)}
[ -f "$mt/train_good.txt" ] || { echo "prepare-gpu-run: no Magnetic Tile data in '$mt' (train_good.txt missing)"; exit 1; }
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu
scripts/fetch-gpu-debs.sh .gpu/debs
mkdir -p .gpu/mt
cp "$mt/train_good.txt" .gpu/mt/
(cd "$mt" && find . -path './MT_*' -name '*.jpg' -print0 | tar --null -T - -cf -) | tar -C .gpu/mt -xf -
echo "prepare-gpu-run: $(find .gpu/mt -name '*.jpg' | wc -l) Magnetic Tile images; .gpu holds $(du -sh .gpu | cut -f1)"
cat <<'CMD'
Device command (carry [".gpu"], timeout 600 s):
DEBS_DIR=.gpu/debs MT_DATA=.gpu/mt OUT_DIR=/tmp/gpu-check scripts/gpu-check.sh 2>&1 | tee $OUT/gpu-check.log; cp /tmp/gpu-check/{bench.txt,testlog.txt,gpu.txt,gpu-memory.csv,meson-setup.log} $OUT/ 2>/dev/null; tail -c 4000 /tmp/gpu-check/build.log > $OUT/build-tail.log
CMD
