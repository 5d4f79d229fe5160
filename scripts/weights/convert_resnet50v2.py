#!/usr/bin/python3
"""Convert the ONNX-zoo ResNet50-v2 (stem and stages 1-3) .npy weights into the project's backbone file.

usage: scripts/weights/convert_resnet50v2.py SRC_DIR OUT.safetensors
SRC_DIR holds resnetv24_*.npy (the upstream weights folder resnet50v2_stage3/weights). Values are unchanged
(float32, OIHW); names lose the "resnetv24_" prefix and take dots: resnetv24_stage2_conv3_weight.npy
-> stage2.conv3.weight, resnetv24_batchnorm1_running_var.npy -> batchnorm1.running_var.
"""
import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

PATTERN = re.compile(r"^resnetv24_(?:(stage\d)_)?((?:conv|batchnorm)\d+)_(weight|gamma|beta|running_mean|running_var)\.npy$")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    tensors = {}
    for path in sorted(glob.glob(os.path.join(src, "*.npy"))):
        m = PATTERN.match(os.path.basename(path))
        if not m:
            sys.exit(f"unexpected file {path}")
        stage, layer, kind = m.groups()
        name = (stage + "." if stage else "") + layer + "." + kind
        tensors[name] = np.load(path).astype(np.float32)
    meta = {
        "format": "differnet-backbone",
        "format_version": "1",
        "architecture": "resnet50v2",
        "trunk_channels": "1024",
        "source": "ONNX model zoo ResNet50-v2 (resnet50-v2-7), stem and stages 1-3, via "
                  "webmachinelearning/webnn-polyfill (commit 0f40904dec1a0d3859db16624f32a38b2b429d32), Apache-2.0",
    }
    safetensors_np.save(out, tensors, meta)
    print(f"{out}: {len(tensors)} tensors, {sum(t.size for t in tensors.values())} values")


if __name__ == "__main__":
    main()
