#!/usr/bin/env python3
"""Variants of the local scorer on Magnetic Tile, measured on a development half of the defective
test images and reported on the other half (choices are made on the first half only).

Features: the bundled ResNet50-v2 (the upstream weights folder resnet50v2_stage3), stage 2 (512
channels, stride 8) and stage 3 (1024, stride 16), at the model's three scales (448, 224 and 112 px,
the whole image resized), each layer projected by its rows of one fixed random Gaussian matrix
([1536, 256], seed 0, N(0, 1/256)), so that a cell of the concatenated layers projects to the sum of
its layers' projections (projection, averaging and resampling are linear and commute). "base" is
the local scorer as files written before its grid setting run it (model/local_scorer.cpp, grid
"deepest"): stage 2 pooled to the stage-3 grid, 3 x 3 averaging, one Ledoit-Wolf Gaussian per scale
over every training cell, scales averaged at 112 x 112, Gaussian smoothing of sigma 1 px there (4
input px); "shallow01" holds what the presets chose from these figures (grid "shallowest", scales 0
and 1). Variants (comma-separated in $VARIANTS): base, shallow, scales, shallow-scales, shallow01,
nb, sigma, center, shallow-center, rank, inv, median, stage1 (ResNet50-v2's stage 1 at stride 4
beside shallow01: its own Gaussian map, standardised, added at 0.25, 0.5 and 1; extracted uncached,
about 5 more minutes).

Training cells: 200 of the paper's training images (random.Random(0).sample of train_good.txt).
Test: the paper's test split; a defective image is in the development half when its index in its
class's sorted file list is even. Pixel-level ROC AUC at 112 x 112 (mask area-averaged, > 0.5), per
class and over all defective images' pixels, as differnet-eval --pixel-auroc computes it.

  VARIANTS=base,shallow01 /usr/bin/python3 research/localization_variants.py WEIGHTS_DIR DATA_DIR CACHE_DIR
Extraction takes about 10 minutes on 2 cores (cached in CACHE_DIR as fp16), each variant seconds.
"""
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from few_shot_patches import bn, load_net, stages, MEAN, STD  # noqa: E402

CLASSES = ["MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray", "MT_Uneven"]
SIZES = (448, 224, 112)
DIM = 256


def extract(g, proj2, proj3, path):
    img = Image.open(path).convert("RGB")
    out = []
    for s in SIZES:
        x = torch.from_numpy(np.asarray(img.resize((s, s), Image.BILINEAR)).astype(np.float32) / 255.0)
        x = x.permute(2, 0, 1)[None]
        s2, s3 = stages(g, (x - MEAN) / STD)
        p2 = torch.einsum("nchw,cd->ndhw", s2, proj2)
        p3 = torch.einsum("nchw,cd->ndhw", s3, proj3)
        out.append((p2[0].half(), p3[0].half()))
    return out


def mask112(path):
    m = np.asarray(Image.open(path).convert("L").resize((112, 112), Image.BOX)).astype(np.float32) / 255.0
    return m > 0.5


def auroc(scores, labels):
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    # ties: average ranks
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        if j > i:
            ranks[order[i:j + 1]] = (i + j + 2) / 2.0
        i = j + 1
    pos = labels.sum()
    neg = len(labels) - pos
    return (ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)


def gauss_kernel(sigma):
    r = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum(), r


def smooth(m, sigma):
    if sigma <= 0:
        return m
    k, r = gauss_kernel(sigma)
    m = F.conv2d(F.pad(m, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(m, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))


def ledoit_wolf(x):
    """x [M, d] float64 -> (mean, inverse square root of the Ledoit-Wolf covariance)."""
    mu = x.mean(0)
    xc = x - mu
    n, p = xc.shape
    s = xc.T @ xc / n
    m = torch.trace(s) / p
    d2 = ((s - m * torch.eye(p, dtype=x.dtype)) ** 2).sum() / p
    # b2 = 1/n^2 sum_k ||x_k x_k^T - S||_F^2 / p, computed without forming each outer product
    xn2 = (xc ** 2).sum(1)
    b2 = ((xn2 ** 2).sum() / n - (s ** 2).sum()) / n / p
    b2 = torch.clamp(b2, max=d2)
    cov = (b2 / d2) * m * torch.eye(p, dtype=x.dtype) + (1 - b2 / d2) * s
    e, v = torch.linalg.eigh(cov)
    w = v @ torch.diag(e.clamp(min=1e-12).rsqrt()) @ v.T
    return mu, w


def grid_cells(p2, p3, grid, nb, center=None):
    """p2 [N,d,h2,w2], p3 [N,d,h3,w3] projected maps -> cells [N,d,h,w] on the chosen grid; center:
    subtract each image's mean or per-dimension median cell (of this scale)."""
    if nb > 1:
        p2 = F.avg_pool2d(p2, nb, 1, nb // 2, count_include_pad=True)
        p3 = F.avg_pool2d(p3, nb, 1, nb // 2, count_include_pad=True)
    if grid == "deep":
        p2 = F.adaptive_avg_pool2d(p2, p3.shape[-2:])
    else:
        p3 = F.interpolate(p3, size=p2.shape[-2:], mode="bilinear", align_corners=False)
    x = p2 + p3
    if center == "mean":
        x = x - x.mean((2, 3), keepdim=True)
    elif center == "median":
        x = x - x.flatten(2).median(2).values[:, :, None, None]
    return x


def stage1(g, x):
    """ResNet50-v2's stem and stage 1 (stride 4, 256 channels), as few_shot_patches.stages computes them."""
    x = bn(g, "batchnorm0", x)
    x = F.relu(bn(g, "batchnorm1", F.conv2d(x, g("conv0_weight"), stride=2, padding=3)))
    x = F.max_pool2d(x, 3, 2, 1)
    conv = 0
    for u in range(3):
        h = F.relu(bn(g, f"stage1_batchnorm{3 * u}", x))
        shortcut = F.conv2d(h, g(f"stage1_conv{conv + 3}_weight")) if u == 0 else x
        y = F.relu(bn(g, f"stage1_batchnorm{3 * u + 1}", F.conv2d(h, g(f"stage1_conv{conv}_weight"))))
        y = F.relu(bn(g, f"stage1_batchnorm{3 * u + 2}", F.conv2d(y, g(f"stage1_conv{conv + 1}_weight"), padding=1)))
        x = F.conv2d(y, g(f"stage1_conv{conv + 2}_weight")) + shortcut
        conv += 4 if u == 0 else 3
    return x


def stage1_maps(g, data, train, test):
    """Per-cell Gaussian map of stage 1 at 448 px (112 x 112 cells, each averaged over 3 x 3), one
    Gaussian over every cell of the training images (covariance shrunk by 1 % towards its mean
    variance), each test map standardised by the mean and spread of 20 training images' cell scores."""
    def cells(path):
        img = Image.open(path).convert("RGB").resize((448, 448), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            return F.avg_pool2d(stage1(g, (x - MEAN) / STD), 3, 1, 1, count_include_pad=True)[0].reshape(256, -1)
    n, s, ss = 0, torch.zeros(256, dtype=torch.float64), torch.zeros(256, 256, dtype=torch.float64)
    for f in train:
        c = cells(os.path.join(data, "MT_Free", "Imgs", f)).double()
        s += c.sum(1)
        ss += c @ c.T
        n += c.shape[1]
    mu = s / n
    cov = ss / n - torch.outer(mu, mu)
    cov = 0.99 * cov + 0.01 * torch.trace(cov) / 256 * torch.eye(256, dtype=torch.float64)
    e, v = torch.linalg.eigh(cov)
    w, muf = (v @ torch.diag(e.rsqrt()) @ v.T).float(), mu.float()
    score = lambda c: (((c.T - muf) @ w) ** 2).mean(1)
    ref = torch.cat([score(cells(os.path.join(data, "MT_Free", "Imgs", f))) for f in train[:20]])
    return torch.stack([((score(cells(os.path.join(data, c, "Imgs", f))) - ref.mean()) / ref.std()).view(112, 112)
                        for c, f in test])


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    weights, data, cache = sys.argv[1:]
    os.makedirs(cache, exist_ok=True)
    torch.set_num_threads(2)
    g = load_net(weights)
    proj = torch.randn(1536, DIM, generator=torch.Generator().manual_seed(0)) / np.sqrt(DIM)
    proj2, proj3 = proj[:512], proj[512:]
    train_names = [l.strip() for l in open(os.path.join(data, "train_good.txt")) if l.strip()]
    train = random.Random(0).sample(train_names, 200)
    test = []
    for c in CLASSES:
        fs = sorted(f for f in os.listdir(os.path.join(data, c, "Imgs")) if f.endswith(".jpg"))
        test += [(c, f, i % 2 == 0) for i, f in enumerate(fs)]

    def feats(c, f):
        key = os.path.join(cache, f"{c}-{f}.pt")
        if not os.path.exists(key):
            with torch.no_grad():
                torch.save(extract(g, proj2, proj3, os.path.join(data, c, "Imgs", f)), key)
        return torch.load(key)

    tr = []
    for i, f in enumerate(train):
        tr.append(feats("MT_Free", f))
        print(f"\rtrain features {i + 1}/{len(train)}", end="", file=sys.stderr, flush=True)
    te = []
    for i, (c, f, _) in enumerate(test):
        te.append(feats(c, f))
        print(f"\rtest features {i + 1}/{len(test)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    masks = [mask112(os.path.join(data, c, "Imgs", f[:-4] + ".png")) for c, f, _ in test]
    dev = np.array([d for _, _, d in test])
    cls = np.array([c for c, _, _ in test])

    def stack(items, k):
        return (torch.stack([it[k][0] for it in items]).float(), torch.stack([it[k][1] for it in items]).float())

    def evaluate(name, maps):
        res = {}
        for half, sel in (("dev", dev), ("test", ~dev)):
            idx = np.nonzero(sel)[0]
            row = {}
            for c in CLASSES + ["all"]:
                ii = [i for i in idx if c == "all" or cls[i] == c]
                sc = np.concatenate([maps[i].numpy().ravel() for i in ii])
                lb = np.concatenate([masks[i].ravel() for i in ii]).astype(np.int64)
                row[c] = auroc(sc, lb)
            res[half] = row
        for half in ("dev", "test"):
            print(f"{name:<34} {half:<4} " + " ".join(f"{res[half][c]:.3f}" for c in CLASSES + ["all"]), flush=True)

    def run(name, grid="deep", nb=3, scales=(0, 1, 2), sigma=1.0, weights=None, post=None, center=None):
        maps = torch.zeros(len(te), 1, 112, 112)
        for k in scales:
            p2, p3 = stack(tr, k)
            c = grid_cells(p2, p3, grid, nb, center).permute(0, 2, 3, 1).reshape(-1, DIM).double()
            mu, w = ledoit_wolf(c)
            del c
            for i0 in range(0, len(te), 64):
                q2, q3 = stack(te[i0:i0 + 64], k)
                z = grid_cells(q2, q3, grid, nb, center).permute(0, 2, 3, 1).double()
                s = (((z - mu) @ w) ** 2).mean(-1).float()[:, None]
                up = F.interpolate(s, size=(112, 112), mode="bilinear", align_corners=False)
                maps[i0:i0 + 64] += up * (1.0 if weights is None else weights[k])
        maps = smooth(maps / len(scales), sigma)[:, 0]
        if post is not None:
            maps = post(maps)
        evaluate(name, maps)
        return maps

    print(f"{'variant':<34} half " + " ".join(c[3:8] for c in CLASSES) + " all", flush=True)
    variants = os.environ.get("VARIANTS", "base").split(",")
    for v in variants:
        if v == "base":
            run("deep grid (the product)")
        elif v == "shallow":
            run("shallow grid (stride 8)", grid="shallow")
        elif v == "scales":
            for k in range(3):
                run(f"deep grid, scale {k} only", scales=(k,))
        elif v == "shallow-scales":
            for k in range(3):
                run(f"shallow grid, scale {k} only", grid="shallow", scales=(k,))
        elif v == "nb":
            for nb in (1, 5):
                run(f"deep grid, neighbourhood {nb}", nb=nb)
        elif v == "sigma":
            for s in (0.5, 2.0, 4.0):
                run(f"deep grid, sigma {s} px@112", sigma=s)
        elif v == "center":
            run("deep grid, image mean cell removed", center="mean")
            run("deep grid, image median cell removed", center="median")
        elif v == "shallow-center":
            run("shallow grid, image mean removed", grid="shallow", center="mean")
            run("shallow grid, image median removed", grid="shallow", center="median")
        elif v == "shallow01":
            run("shallow grid, scales 0 and 1", grid="shallow", scales=(0, 1))
            run("shallow grid, scales 0 and 1, sigma 2", grid="shallow", scales=(0, 1), sigma=2.0)
            run("shallow grid, scales 0 and 1, sigma 0.5", grid="shallow", scales=(0, 1), sigma=0.5)
        elif v == "rank":
            run("deep grid, per-image ranks", post=lambda m: m.flatten(1).argsort(1).argsort(1).float().view_as(m))
        elif v == "inv":
            run("deep grid, inverted", post=lambda m: -m)
        elif v == "stage1":
            base = run("shallow grid, scales 0 and 1", grid="shallow", scales=(0, 1))
            s1 = smooth(stage1_maps(g, data, train, [(c, f) for c, f, _ in test])[:, None], 1.0)[:, 0]
            evaluate("stage 1 alone", s1)
            for a in (0.25, 0.5, 1.0):
                evaluate(f"shallow01 + {a} x stage 1", base + a * s1)
        elif v == "median":
            run("deep grid minus image median", post=lambda m: m - m.flatten(1).median(1).values[:, None, None])


if __name__ == "__main__":
    main()
