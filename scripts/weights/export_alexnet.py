#!/usr/bin/python3
"""Write torchvision's ImageNet AlexNet trunk (alexnet().features) as a gst-differnet backbone file.

usage: scripts/weights/export_alexnet.py [--random-weights --seed N] OUT.safetensors

Needs torchvision and, for the ImageNet weights, a network connection (torchvision downloads them
into ~/.cache/torch) or a cached copy. Put the result in $DIFFERNET_WEIGHTS_DIR as alexnet.safetensors
(then `--backbone alexnet` finds it) or pass its path as the backbone.

--random-weights writes a randomly initialised AlexNet instead (for tests; it detects nothing).
The ImageNet weights carry ImageNet's terms (non-commercial research): check before commercial use.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

# Positions of the five convolutions in torchvision's alexnet().features.
CONV_INDICES = (0, 3, 6, 8, 10)


def alexnet_tensors(features):
    sd = features.state_dict()
    out = {}
    for i, idx in enumerate(CONV_INDICES):
        out[f"conv{i}.weight"] = sd[f"{idx}.weight"].detach().cpu().float().numpy()
        out[f"conv{i}.bias"] = sd[f"{idx}.bias"].detach().cpu().float().numpy()
    return out


def write_backbone(path, features, source):
    meta = {"format": "differnet-backbone", "format_version": "1", "architecture": "alexnet",
            "trunk_channels": "256", "source": source}
    safetensors_np.save(path, alexnet_tensors(features), meta)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--random-weights", action="store_true", help="random initialisation (tests only)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch
    import torchvision
    if args.random_weights:
        torch.manual_seed(args.seed)
        model = torchvision.models.alexnet(weights=None)
        source = f"torchvision alexnet, random initialisation (seed {args.seed})"
    else:
        try:
            model = torchvision.models.alexnet(weights=torchvision.models.AlexNet_Weights.IMAGENET1K_V1)
        except Exception as e:  # no network and no cached copy
            sys.exit(f"export_alexnet: cannot get torchvision's ImageNet AlexNet weights: {e}")
        source = "torchvision alexnet IMAGENET1K_V1 (BSD-3 code; ImageNet-trained weights)"
    write_backbone(args.out, model.features.eval(), source)
    print(f"wrote {args.out} ({source})")


if __name__ == "__main__":
    main()
