#!/usr/bin/env python3
"""Few-shot reference on Magnetic Tile, local features (16 training
images); the companion of few_shot_reference.py, which measures pooled SqueezeNet features.

PatchCore-like scoring on the bundled ResNet50-v2 (the upstream weights folder resnet50v2_stage3, raw .npy;
the graph of its README): 448-px input, the outputs of stage 2 (512 channels, 56 x 56) and stage 3
(1024, 28 x 28), each averaged over 3 x 3 neighbourhoods, stage 2 pooled to 28 x 28, each scaled to
unit std, concatenated and projected to 384 dimensions (a fixed random Gaussian matrix, seed 0): 784
local vectors per image. For each of three draws of 16 images from train_good.txt
(random.Random(draw).sample, as few_shot_reference.py) the bank is the 16 images' 12544 vectors, and
a test image (the paper's test set: 191 MT_Free, 392 defective) scores
  - the largest distance from one of its cells to the nearest bank cell (PatchCore's image score);
  - the mean of its 10 largest such distances;
  - the same with the image's own cells added to the bank, those within 7 cells (Chebyshev) of the
    scored cell left out (self-reference: a defect is unlike the rest of its own tile);
  - the first, with each image's grey levels standardised first (mean 0.45, std 0.2; the acquisition
    runs differ in exposure).
Prints ROC AUC per draw and the mean. 48 minutes on 2 cores shared with other work (less alone).

  /usr/bin/python3 research/few_shot_patches.py WEIGHTS_DIR DATA_DIR
  (WEIGHTS_DIR = the upstream weights folder resnet50v2_stage3/weights, DATA_DIR = the Magnetic Tile folder)
"""
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from few_shot_reference import auroc  # the same rank statistic as the pooled-feature reference

CLASSES = ["MT_Free", "MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray", "MT_Uneven"]
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
DRAWS = (0, 1, 2)


def load_net(weights):
    def g(name):
        return torch.from_numpy(np.load(os.path.join(weights, f"resnetv24_{name}.npy")))
    return g


def bn(g, name, x):
    return F.batch_norm(x, g(name + "_running_mean"), g(name + "_running_var"), g(name + "_gamma"),
                        g(name + "_beta"), False, 0.0, 1e-5)


def stages(g, x):
    """Pre-activation ResNet50-v2 through stage 3; returns the outputs of stages 2 and 3."""
    x = bn(g, "batchnorm0", x)
    x = F.relu(bn(g, "batchnorm1", F.conv2d(x, g("conv0_weight"), stride=2, padding=3)))
    x = F.max_pool2d(x, 3, 2, 1)
    out = {}
    for stage, units in ((1, 3), (2, 4), (3, 6)):
        p, conv = f"stage{stage}_", 0
        for u in range(units):
            stride = 2 if u == 0 and stage > 1 else 1
            h = F.relu(bn(g, p + f"batchnorm{3 * u}", x))
            main = [conv, conv + 1, conv + 2]
            if u == 0:
                shortcut = F.conv2d(h, g(p + f"conv{conv + 3}_weight"), stride=stride)
                conv += 4
            else:
                shortcut = x
                conv += 3
            y = F.relu(bn(g, p + f"batchnorm{3 * u + 1}", F.conv2d(h, g(p + f"conv{main[0]}_weight"))))
            y = F.relu(bn(g, p + f"batchnorm{3 * u + 2}",
                          F.conv2d(y, g(p + f"conv{main[1]}_weight"), stride=stride, padding=1)))
            x = F.conv2d(y, g(p + f"conv{main[2]}_weight")) + shortcut
        out[stage] = x
    return out[2], out[3]


def cells(g, proj, path, per_image):
    img = Image.open(path).convert("RGB").resize((448, 448), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(img).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    if per_image:  # each image's grey levels to mean 0.45, std 0.2
        x = ((x - x.mean()) / (x.std() + 1e-6) * 0.2 + 0.45).clamp(0, 1)
    s2, s3 = stages(g, (x - MEAN) / STD)
    s2 = F.avg_pool2d(F.avg_pool2d(s2, 3, 1, 1), 2)
    s3 = F.avg_pool2d(s3, 3, 1, 1)
    v = torch.cat([s2 / (s2.std() + 1e-8), s3 / (s3.std() + 1e-8)], 1)[0]
    return v.permute(1, 2, 0).reshape(-1, v.shape[0]) @ proj


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    weights, data = sys.argv[1:]
    torch.set_num_threads(2)
    g = load_net(weights)
    proj = torch.randn(512 + 1024, 384, generator=torch.Generator().manual_seed(0)) / np.sqrt(384)
    train_names = [l.strip() for l in open(os.path.join(data, "train_good.txt")) if l.strip()]
    train_set = set(train_names)
    test = [(c, f) for c in CLASSES for f in sorted(os.listdir(os.path.join(data, c, "Imgs")))
            if f.endswith(".jpg") and not (c == "MT_Free" and f in train_set)]
    labels = np.array([0 if c == "MT_Free" else 1 for c, _ in test])
    draws = {d: random.Random(d).sample(train_names, 16) for d in DRAWS}
    print(f"test set: {int((labels == 0).sum())} good, {int(labels.sum())} defective", flush=True)
    side = 28
    yy, xx = np.divmod(np.arange(side * side), side)
    near = torch.from_numpy(np.maximum(np.abs(yy[:, None] - yy[None]), np.abs(xx[:, None] - xx[None])) <= 7)
    results = {}
    with torch.no_grad():
        for per_image in (False, True):
            test_cells = []
            for i, (c, f) in enumerate(test):
                test_cells.append(cells(g, proj, os.path.join(data, c, "Imgs", f), per_image))
                print(f"\rfeatures {i + 1}/{len(test)}", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
            for d, names in draws.items():
                bank = torch.cat([cells(g, proj, os.path.join(data, "MT_Free", "Imgs", f), per_image) for f in names])
                worst, top10, with_self = [], [], []
                for t in test_cells:
                    nearest = torch.cdist(t, bank).min(1).values
                    worst.append(nearest.max().item())
                    if not per_image:
                        top10.append(nearest.topk(10).values.mean().item())
                        own = torch.cdist(t, t).masked_fill(near, float("inf")).min(1).values
                        with_self.append(torch.minimum(nearest, own).max().item())
                if per_image:
                    results.setdefault("worst cell, per-image grey levels", []).append(auroc(np.array(worst), labels))
                else:
                    results.setdefault("worst cell", []).append(auroc(np.array(worst), labels))
                    results.setdefault("mean of the 10 worst cells", []).append(auroc(np.array(top10), labels))
                    results.setdefault("worst cell, own cells beyond 7 added", []).append(auroc(np.array(with_self), labels))
            for title, res in results.items():
                if (("per-image" in title) == per_image):
                    print(f"{title:<40} " + " ".join(f"{r:.3f}" for r in res) + f"   mean {np.mean(res):.3f}", flush=True)


if __name__ == "__main__":
    main()
