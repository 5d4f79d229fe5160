#!/usr/bin/env python3
"""Few-shot reference on Magnetic Tile (16 training images).

An outside check of what 16 good images can reach with the bundled SqueezeNet 1.1 features, whatever
the density model: PyTorch on the same ImageNet weights (the upstream weights folder squeezenet1_1, raw .npy),
448 px input, scales 448/224/112 as nearest subsamplings, global average pooling, as the extractor
does. For each of five draws of 16 images from train_good.txt (random.Random(draw).sample) it fits,
on the pooled features of the 16, and scores the paper's test set (the other 191 MT_Free images and
the 392 defective ones):
  - the Ledoit-Wolf Gaussian on standardised features (the project's yardstick), per layer fire4..fire9;
  - the same with each image's intensity standardised first (the acquisition runs exp1..exp6 differ
    in exposure: mean grey level 66 to 153);
  - the same with the horizontally, vertically and doubly flipped images added (64 vectors);
  - the distance to the nearest of the 16 (1-NN), per layer;
  - local: fire6's 448-px map pooled to 14 x 14 cells; an image scores the largest distance from one
    of its cells to the nearest of the 16 images' 3136 cells (as PatchCore does), three draws;
  - the full 761 images, for comparison.
Prints ROC AUC per draw and the mean. About 12 minutes on 2 cores (feature extraction ~10, local cells ~1).

  /usr/bin/python3 research/few_shot_reference.py WEIGHTS_DIR DATA_DIR
  (WEIGHTS_DIR = the upstream weights folder squeezenet1_1/weights, DATA_DIR = the Magnetic Tile folder)
"""
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

LAYERS = ["fire2", "fire3", "fire4", "fire5", "fire6", "fire7", "fire8", "fire9"]
CLASSES = ["MT_Free", "MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray", "MT_Uneven"]


def load_net(weights):
    def w(i, k):
        return torch.from_numpy(np.load(os.path.join(weights, f"squeezenet0_conv{i}_{k}.npy")))
    return {i: (w(i, "weight"), w(i, "bias")) for i in range(25)}


def taps(p, x):
    def conv(x, i, stride=1, pad=0):
        return F.relu(F.conv2d(x, p[i][0], p[i][1], stride=stride, padding=pad))
    out = {}
    x = F.max_pool2d(conv(x, 0, stride=2), 3, 2, ceil_mode=True)
    for name, k in zip(LAYERS, [1, 4, 7, 10, 13, 16, 19, 22]):
        s = conv(x, k)
        x = torch.cat([conv(s, k + 1), conv(s, k + 2, pad=1)], 1)
        out[name] = x.mean((2, 3))
        if name == "fire6":
            out["fire6_map"] = x
        if k in (4, 10):
            x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    return out


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def features(p, img, per_image):
    img = img.convert("RGB").resize((448, 448), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(img).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    if per_image:  # each image's grey levels to mean 0.45, std 0.2
        x = ((x - x.mean()) / (x.std() + 1e-6) * 0.2 + 0.45).clamp(0, 1)
    x = (x - MEAN) / STD
    per_scale = [taps(p, x[:, :, ::s, ::s]) for s in (1, 2, 4)]
    r = {n: torch.cat([o[n] for o in per_scale], 1)[0].numpy().astype(np.float64) for n in LAYERS}
    # fire6's map at 448 px (28 x 28) pooled to 14 x 14 cells: 196 local vectors of 384
    cells = F.avg_pool2d(per_scale[0]["fire6_map"], 2)[0]
    r["fire6_cells"] = cells.permute(1, 2, 0).reshape(-1, cells.shape[0]).contiguous()
    return r


def ledoit_wolf(x):  # scikit-learn's ledoit_wolf on centred x
    n, d = x.shape
    emp = x.T @ x / n
    mu = np.trace(emp) / d
    x2 = x ** 2
    beta = (np.sum(x2.T @ x2) / n - np.sum(emp ** 2)) / (n * d)
    delta = (np.sum(emp ** 2) - 2 * mu * np.trace(emp) + d * mu ** 2) / d
    s = 0.0 if delta <= 0 else min(beta, delta) / delta
    return (1 - s) * emp + s * mu * np.eye(d)


def gaussian_scores(train, test):
    m, s = train.mean(0), train.std(0) + 1e-6
    a, b = (train - m) / s, (test - m) / s
    centre = a.mean(0)
    precision = np.linalg.inv(ledoit_wolf(a - centre))
    d = b - centre
    return np.einsum("ij,jk,ik->i", d, precision, d)


def nn_scores(train, test):
    return ((test[:, None, :] - train[None, :, :]) ** 2).sum(-1).min(1)


def local_nn_scores(bank, test_cells):  # PatchCore-like: an image's worst cell, by its nearest good cell
    return np.array([torch.cdist(t, bank).min(1).values.max().item() for t in test_cells])


def auroc(scores, labels):
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    npos, nneg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - npos * (npos + 1) / 2) / (npos * nneg)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    weights, data = sys.argv[1:]
    torch.set_num_threads(2)
    net = load_net(weights)
    train_names = [l.strip() for l in open(os.path.join(data, "train_good.txt")) if l.strip()]
    train_set = set(train_names)
    files = [(c, f) for c in CLASSES for f in sorted(os.listdir(os.path.join(data, c, "Imgs"))) if f.endswith(".jpg")]
    feats = {"plain": {n: [] for n in LAYERS}, "per-image": {n: [] for n in LAYERS}}
    flips = {n: {} for n in LAYERS}
    cells = []
    with torch.no_grad():
        for i, (c, f) in enumerate(files):
            img = Image.open(os.path.join(data, c, "Imgs", f))
            for mode in feats:
                r = features(net, img, mode == "per-image")
                if mode == "plain":
                    cells.append(r["fire6_cells"])
                for n in LAYERS:
                    feats[mode][n].append(r[n])
            if c == "MT_Free" and f in train_set:
                variants = [ImageOps.mirror(img), ImageOps.flip(img), ImageOps.flip(ImageOps.mirror(img))]
                rs = [features(net, v, False) for v in variants]
                for n in LAYERS:
                    flips[n][f] = np.stack([r[n] for r in rs])
            print(f"\rfeatures {i + 1}/{len(files)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    feats = {m: {n: np.stack(v) for n, v in d.items()} for m, d in feats.items()}
    index = {f: i for i, (c, f) in enumerate(files) if c == "MT_Free"}
    test = [i for i, (c, f) in enumerate(files) if not (c == "MT_Free" and f in train_set)]
    labels = np.array([0 if files[i][0] == "MT_Free" else 1 for i in test])
    print(f"test set: {int((labels == 0).sum())} good, {int(labels.sum())} defective")

    def row(title, fn, n=16, draws=5):
        res = []
        for d in range(draws):
            names = random.Random(d).sample(train_names, n) if n < len(train_names) else train_names
            res.append(auroc(fn(names), labels))
        print(f"{title:<48} " + " ".join(f"{r:.3f}" for r in res) + f"   mean {np.mean(res):.3f}", flush=True)

    for n in LAYERS[2:]:
        F_ = feats["plain"][n]
        row(f"Gaussian, {n}", lambda names: gaussian_scores(F_[[index[f] for f in names]], F_[test]))
    for n in ("fire5", "fire6", "fire8", "fire9"):
        F_ = feats["per-image"][n]
        row(f"Gaussian, {n}, per-image intensity", lambda names: gaussian_scores(F_[[index[f] for f in names]], F_[test]))
    for n in ("fire6", "fire8", "fire9"):
        F_ = feats["plain"][n]
        row(f"Gaussian, {n}, + 3 flips of each (64 vectors)", lambda names: gaussian_scores(
            np.concatenate([F_[[index[f] for f in names]]] + [np.stack([flips[n][f][k] for f in names]) for k in range(3)]),
            F_[test]))
    for n in ("fire6", "fire8", "fire9"):
        F_ = feats["plain"][n]
        row(f"1-NN distance, {n}", lambda names: nn_scores(F_[[index[f] for f in names]], F_[test]))
    test_cells = [cells[i] for i in test]
    row("nearest local cell (14 x 14 cells), fire6", lambda names: local_nn_scores(
        torch.cat([cells[index[f]] for f in names]), test_cells), draws=3)
    F_ = feats["plain"]["fire6"]
    row(f"Gaussian, fire6, all {len(train_names)} images", lambda names: gaussian_scores(F_[[index[f] for f in names]], F_[test]),
        n=len(train_names), draws=1)


if __name__ == "__main__":
    main()
