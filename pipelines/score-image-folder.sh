#!/usr/bin/env bash
# Scores a folder of images: JSON-lines results (with each image's name) and annotated PNGs.
#   pipelines/score-image-folder.sh MODEL IMAGES_DIR OUTDIR [EXT]
# EXT is png (default) or jpg; images may differ in size. Writes OUTDIR/results.jsonl and
# OUTDIR/<image name>.annotated.png.
set -euo pipefail
model=${1:?usage: score-image-folder.sh MODEL IMAGES_DIR OUTDIR [EXT]}
images=${2:?IMAGES_DIR}
out=${3:?OUTDIR}
ext=${4:-png}
case "$ext" in
  png) decoder=pngdec mime=image/png ;;
  jpg|jpeg) decoder=jpegdec mime=image/jpeg ;;
  *) echo "score-image-folder: EXT must be png or jpg" >&2; exit 2 ;;
esac
mkdir -p "$out"
seq_dir=$(mktemp -d)
trap 'rm -rf "$seq_dir"' EXIT
# multifilesrc reads numbered files: link the images in sorted order, remembering their names.
mapfile -t files < <(find "$images" -maxdepth 1 -type f -iname "*.$ext" | sort)
[ ${#files[@]} -gt 0 ] || { echo "score-image-folder: no *.$ext images in $images" >&2; exit 1; }
for i in "${!files[@]}"; do ln -s "$(realpath "${files[$i]}")" "$(printf '%s/%06d.%s' "$seq_dir" "$i" "$ext")"; done
gst_status=0
gst-launch-1.0 -q multifilesrc location="$seq_dir/%06d.$ext" caps="$mime,framerate=1/1" ! \
  $decoder ! videoconvert ! differnetfilter model="$model" results-file="$seq_dir/results.jsonl" ! \
  videoconvert ! pngenc ! multifilesink location="$seq_dir/annotated-%06d.png" || gst_status=$?
: > "$out/results.jsonl"
n=0
touch "$seq_dir/results.jsonl"
while IFS= read -r line; do
  name=$(basename "${files[$n]}")
  mv "$(printf '%s/annotated-%06d.png' "$seq_dir" "$n")" "$out/$name.annotated.png"
  # the name as a JSON string: quotes, backslashes and control characters escaped
  qname=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$name")
  echo "{\"image\":$qname,${line#\{}" >> "$out/results.jsonl"
  n=$((n + 1))
done < "$seq_dir/results.jsonl"
if [ "$n" -lt ${#files[@]} ] || [ "$gst_status" -ne 0 ]; then
  echo "score-image-folder: scored only $n of ${#files[@]} images; stopped at '${files[$n]:-?}' (unreadable or" \
       "truncated?); the results of the first $n are in $out/results.jsonl" >&2
  exit 1
fi
echo "scored $n images: $out/results.jsonl and $out/*.annotated.png"
