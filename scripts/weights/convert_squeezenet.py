#!/usr/bin/env python3
"""Convert the ONNX-zoo SqueezeNet 1.1 .npy weights into the project's backbone file.

usage: scripts/weights/convert_squeezenet.py SRC_DIR OUT.safetensors
SRC_DIR holds squeezenet0_conv{0..25}_{weight,bias}.npy (the upstream weights folder squeezenet1_1/weights).
Tensor names become conv{i}.weight / conv{i}.bias; conv25 is the ImageNet classifier, kept only so
that the port can be checked against the published golden logits.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    tensors = {}
    for i in range(26):
        for kind in ("weight", "bias"):
            arr = np.load(os.path.join(src, f"squeezenet0_conv{i}_{kind}.npy"))
            tensors[f"conv{i}.{kind}"] = arr.astype(np.float32)
    meta = {
        "format": "differnet-backbone",
        "format_version": "1",
        "architecture": "squeezenet1_1",
        "trunk_channels": "512",
        "source": "ONNX model zoo SqueezeNet 1.1 via webmachinelearning/webnn-polyfill "
                  "(commit 0f40904dec1a0d3859db16624f32a38b2b429d32), Apache-2.0",
    }
    safetensors_np.save(out, tensors, meta)


if __name__ == "__main__":
    main()
