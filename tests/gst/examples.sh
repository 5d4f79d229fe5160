#!/usr/bin/env bash
# Runs the example applications of pipelines/ (C and Python) on a running pipeline with a small
# model and checks that they read the DifferNet metadata of every buffer.
#   examples.sh MAKE_TEST_MODEL READ_META_C READ_META_PY
set -euo pipefail
make_model=$1 read_meta_c=$2 read_meta_py=$3
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
