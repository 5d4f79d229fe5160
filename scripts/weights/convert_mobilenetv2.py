#!/usr/bin/python3
"""Convert the ONNX-zoo MobileNetV2 feature trunk (.npy weights, batch norms folded) into the project's
backbone file.

usage: scripts/weights/convert_mobilenetv2.py SRC_DIR OUT.safetensors
SRC_DIR holds conv_{i}_{weight,bias}.npy (the upstream weights folder mobilenetv2/weights). Values are unchanged
(float32, OIHW); conv_{i}_weight.npy -> conv{i}.weight. The classifier's lone bias is left out.
"""
import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    tensors = {}
    for path in sorted(glob.glob(os.path.join(src, "conv_*.npy"))):
        m = re.match(r"^conv_(\d+)_(weight|bias)\.npy$", os.path.basename(path))
        if not m:
            sys.exit(f"unexpected file {path}")
        tensors[f"conv{m.group(1)}.{m.group(2)}"] = np.load(path).astype(np.float32)
    meta = {
        "format": "differnet-backbone",
        "format_version": "1",
        "architecture": "mobilenetv2",
        "trunk_channels": "1280",
        "source": "ONNX model zoo MobileNetV2 (mobilenetv2-7) via webmachinelearning/webnn-polyfill "
                  "(commit 0f40904dec1a0d3859db16624f32a38b2b429d32), Apache-2.0",
    }
    safetensors_np.save(out, tensors, meta)
    print(f"{out}: {len(tensors)} tensors, {sum(t.size for t in tensors.values())} values")


if __name__ == "__main__":
    main()
