#!/usr/bin/env python3
"""A fully convolutional normalizing flow over the local scorer's cells, measured beside the per-cell
Gaussian it would replace (the local scorer of the presets), on Magnetic Tile.

Cells: exactly those of the product's local scorer with the presets' settings (research/
localization_variants.py, variant "shallow01"): the bundled ResNet50-v2's stage 2 and stage 3 at the
448 and 224 px scales, projected to 256 dimensions (fixed random matrix, seed 0), 3 x 3 averaged,
stage 3 upsampled to stage 2's stride-8 grid (56 x 56 and 28 x 28 cells).

Per scale, the Gaussian (Ledoit-Wolf, shared over positions) is fitted to the training cells and
whitens them; its map is the per-cell mean of the squared whitened cell (the product's). The flow
then models the whitened maps: `BLOCKS` glow coupling blocks (the method's coupling, soft clamp
alpha 3) whose subnets are 3 x 3 convolutions (channels/2 -> HIDDEN -> channels, ReLU between, the
last one zero-initialised, so that before training the flow is the identity and its map the
Gaussian's), each after a fixed random channel permutation; trained by maximum likelihood of every
cell (0.5 |z|^2 - log|det J| per cell) on random 24 x 24 crops, Adam 2e-4, `EPOCHS` passes over the
training images, no choice made on the test images (the figures print at the end of training
only; the held-out good images' likelihood is printed per epoch). Its map is the per-cell negative
log-likelihood, or CS-Flow's per-cell mean |z|^2 (both printed). Maps of the two scales are averaged
at 112 x 112 and smoothed (sigma 1 px there, 4 input px), as in the product.

Training images: 200 of the paper's training images (random.Random(0).sample of train_good.txt,
those of localization_variants.py), of which the last 40 are held out (their likelihood is printed).
Test: the paper's test split (191 good, 392 defective); pixel ROC AUC per class and over all
defective pixels, on the development half (even index in the class's sorted list) and the other
half; image ROC AUC of the smoothed map's maximum over all 583 test images.

  /usr/bin/python3 research/conv_flow.py WEIGHTS_DIR DATA_DIR CACHE_DIR
WEIGHTS_DIR: the upstream ResNet50-v2 weights folder; CACHE_DIR: shared with localization_variants.py.
Environment: EPOCHS (default 12), BLOCKS (4), HIDDEN (128), DILATION (1), SEED (0).
"""
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from few_shot_patches import load_net  # noqa: E402
from localization_variants import (CLASSES, DIM, auroc, extract, grid_cells, ledoit_wolf, mask112,  # noqa: E402
                                   smooth)

SCALES = (0, 1)
CROP = 24
ALPHA = 3.0


def soft_clamp(a):
    return ALPHA * 0.636 * torch.atan(a / ALPHA)


class Coupling(nn.Module):
    def __init__(self, c, hidden, dilation, gen):
        super().__init__()
        self.c1 = c // 2
        self.c2 = c - self.c1
        self.register_buffer("perm", torch.randperm(c, generator=gen))

        def subnet(cin, cout):
            a = nn.Conv2d(cin, hidden, 3, padding=dilation, dilation=dilation)
            b = nn.Conv2d(hidden, cout, 3, padding=1)
            nn.init.zeros_(b.weight)
            nn.init.zeros_(b.bias)
            return nn.Sequential(a, nn.ReLU(), b)

        self.s1 = subnet(self.c1, 2 * self.c2)
        self.s2 = subnet(self.c2, 2 * self.c1)

    def forward(self, x):
        x = x[:, self.perm]
        x1, x2 = x[:, :self.c1], x[:, self.c1:]
        r2 = self.s2(x2)
        s2 = soft_clamp(r2[:, :self.c1])
        y1 = x1 * torch.exp(s2) + r2[:, self.c1:]
        r1 = self.s1(y1)
        s1 = soft_clamp(r1[:, :self.c2])
        y2 = x2 * torch.exp(s1) + r1[:, self.c2:]
        return torch.cat([y1, y2], 1), s2.sum(1) + s1.sum(1)


class ConvFlow(nn.Module):
    def __init__(self, c, blocks, hidden, dilation, seed):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.blocks = nn.ModuleList([Coupling(c, hidden, dilation, gen) for _ in range(blocks)])

    def forward(self, x):
        logdet = torch.zeros(x.shape[0], *x.shape[2:])
        for b in self.blocks:
            x, ld = b(x)
            logdet = logdet + ld
        return x, logdet


def nll_cells(z, logdet):
    return 0.5 * (z ** 2).sum(1) - logdet  # [N,h,w]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    weights, data, cache = sys.argv[1:]
    epochs = int(os.environ.get("EPOCHS", 12))
    blocks = int(os.environ.get("BLOCKS", 4))
    hidden = int(os.environ.get("HIDDEN", 128))
    dilation = int(os.environ.get("DILATION", 1))
    seed = int(os.environ.get("SEED", 0))
    os.makedirs(cache, exist_ok=True)
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    g = load_net(weights)
    proj = torch.randn(1536, DIM, generator=torch.Generator().manual_seed(0)) / np.sqrt(DIM)
    proj2, proj3 = proj[:512], proj[512:]
    train_names = [line.strip() for line in open(os.path.join(data, "train_good.txt")) if line.strip()]
    train = random.Random(0).sample(train_names, 200)
    fit, held = train[:160], train[160:]
    test = []
    in_train = set(train_names)
    good = sorted(f for f in os.listdir(os.path.join(data, "MT_Free", "Imgs")) if f.endswith(".jpg") and f not in in_train)
    test += [("MT_Free", f, False) for f in good]
    for c in CLASSES:
        fs = sorted(f for f in os.listdir(os.path.join(data, c, "Imgs")) if f.endswith(".jpg"))
        test += [(c, f, i % 2 == 0) for i, f in enumerate(fs)]

    def feats(c, f):
        key = os.path.join(cache, f"{c}-{f}.pt")
        if not os.path.exists(key):
            with torch.no_grad():
                torch.save(extract(g, proj2, proj3, os.path.join(data, c, "Imgs", f)), key)
        return torch.load(key)

    def load_all(items, what):
        out = []
        for i, (c, f) in enumerate(items):
            out.append(feats(c, f))
            print(f"\r{what} features {i + 1}/{len(items)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return out

    tr = load_all([("MT_Free", f) for f in fit], "train")
    ho = load_all([("MT_Free", f) for f in held], "held-out")
    te = load_all([(c, f) for c, f, _ in test], "test")
    defective = np.array([c != "MT_Free" for c, _, _ in test])
    masks = [mask112(os.path.join(data, c, "Imgs", f[:-4] + ".png")) if c != "MT_Free" else None for c, f, _ in test]
    dev = np.array([d for _, _, d in test])
    cls = np.array([c for c, _, _ in test])

    def cells(items, k):
        p2 = torch.stack([it[k][0] for it in items]).float()
        p3 = torch.stack([it[k][1] for it in items]).float()
        return grid_cells(p2, p3, "shallow", 3)

    maps = {name: torch.zeros(len(te), 1, 112, 112) for name in ("gaussian", "flow-nll", "flow-z2")}
    for k in SCALES:
        x = cells(tr, k)
        flat = x.permute(0, 2, 3, 1).reshape(-1, DIM).double()
        mu, w = ledoit_wolf(flat)
        del flat
        mu, w = mu.float(), w.float()

        def whiten(x):
            return torch.einsum("nchw,cd->ndhw", x - mu[None, :, None, None], w)

        u = whiten(x)
        uh = whiten(cells(ho, k))
        flow = ConvFlow(DIM, blocks, hidden, dilation, seed + k)
        opt = torch.optim.Adam(flow.parameters(), lr=2e-4, weight_decay=1e-5)
        n, _, h, wd = u.shape
        crop = min(CROP, h)
        t0 = time.time()
        for ep in range(epochs):
            order = torch.randperm(n)
            tot = 0.0
            for i0 in range(0, n, 8):
                idx = order[i0:i0 + 8]
                ys = torch.randint(0, h - crop + 1, (1,)).item()
                xs = torch.randint(0, wd - crop + 1, (1,)).item()
                batch = u[idx, :, ys:ys + crop, xs:xs + crop]
                z, ld = flow(batch)
                loss = nll_cells(z, ld).mean() / DIM
                opt.zero_grad()
                loss.backward()
                opt.step()
                tot += loss.item() * len(idx)
            with torch.no_grad():
                z, ld = flow(uh)
                held_nll = nll_cells(z, ld).mean().item() / DIM
                base = nll_cells(uh, torch.zeros(1)).mean().item() / DIM
            print(f"scale {k} epoch {ep + 1}: train {tot / n:.4f}, held-out {held_nll:.4f} (Gaussian {base:.4f}),"
                  f" {time.time() - t0:.0f} s", flush=True)
        with torch.no_grad():
            for i0 in range(0, len(te), 32):
                v = whiten(cells(te[i0:i0 + 32], k))
                z, ld = flow(v)
                for name, s in (("gaussian", (v ** 2).mean(1)), ("flow-nll", nll_cells(z, ld) / DIM),
                                ("flow-z2", (z ** 2).mean(1))):
                    maps[name][i0:i0 + 32] += F.interpolate(s[:, None], size=(112, 112), mode="bilinear",
                                                            align_corners=False) / len(SCALES)
    print(f"{'map':<10} half " + " ".join(c[3:8] for c in CLASSES) + "  all   image", flush=True)
    for name, m in maps.items():
        m = smooth(m, 1.0)[:, 0]
        img = m.flatten(1).amax(1).numpy()
        img_auc = auroc(img, defective.astype(np.int64))
        for half, sel in (("dev", dev & defective), ("test", ~dev & defective)):
            idx = np.nonzero(sel)[0]
            row = []
            for c in CLASSES + ["all"]:
                ii = [i for i in idx if c == "all" or cls[i] == c]
                sc = np.concatenate([m[i].numpy().ravel() for i in ii])
                lb = np.concatenate([masks[i].ravel() for i in ii]).astype(np.int64)
                row.append(auroc(sc, lb))
            print(f"{name:<10} {half:<4} " + " ".join(f"{r:.3f}" for r in row) + f"  {img_auc:.4f}", flush=True)


if __name__ == "__main__":
    main()
