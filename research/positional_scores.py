#!/usr/bin/env python3
"""Where in the frame a cell lies: the local scorer with positional statistics, on Magnetic Tile.

The product's local scorer (localization_variants.py "shallow01": ResNet50-v2 stage 2 + 3 on the
stride-8 grid, 3 x 3 averaging, 256 random dimensions, scales 448 and 224 px, one Ledoit-Wolf Gaussian
per scale shared by every position) judges a cell the same wherever it lies. Parts under a line camera
sit where the fixture puts them, so a cell at the part's edge and a cell in its middle have different
normal looks; PaDiM models each position on its own. Variants, each per scale:
  - shared: the product's map (one mean, one covariance for every position);
  - posmean: one mean per position, the covariance shared (fitted to the cells minus their position's
    mean): PaDiM with a shared covariance;
  - posnorm: the shared map, each position's score standardised by the mean and spread of that
    position's scores over other good images (100 training images not used for the Gaussian);
  - posmean+posnorm: both;
  - self-reference: each cell against the rest of its own tile (the median of its squared whitened
    distances, per dimension, to the tile's cells), alone and added at half weight to the shared map
    (both standardised over all test maps' pixels): a defect is unlike the rest of its part.
Reported: pixel-level ROC AUC at 112 x 112 per class and over all defective pixels on the development
half of the defective test images / the other half (as localization_variants.py), and the image
ROC AUC of the map's maximum over the paper's test set (191 good, 392 defective), whole / dev half.
Then, for the shared map: per class, the pixel ROC AUC of the marked pixels against every pixel of the
good test tiles, and of the unmarked pixels of the same defective tiles against those (is a marked
region unusual in itself, or only beside the rest of its tile?).
Held out from every fit: the 100 position-statistics images are not among the Gaussian's 200; the
choice would be made on the development half and on held-out good images, never the other half.

  /usr/bin/python3 research/positional_scores.py WEIGHTS_DIR DATA_DIR CACHE_DIR
Shares the feature cache of localization_variants.py (about 12 min to extract 883 images on 2 cores
when empty; then a minute per variant, 5 minutes for self-reference).
"""
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from few_shot_patches import load_net  # noqa: E402
from localization_variants import (CLASSES, DIM, auroc, extract, grid_cells, ledoit_wolf,  # noqa: E402
                                   mask112, smooth)

SCALES = (0, 1)


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
    rest = sorted(set(train_names) - set(train))
    posref = random.Random(1).sample(rest, 100)
    free = sorted(f for f in os.listdir(os.path.join(data, "MT_Free", "Imgs")) if f.endswith(".jpg"))
    good_test = [f for f in free if f not in set(train_names)]
    test = [("MT_Free", f, i % 2 == 0) for i, f in enumerate(good_test)]
    for c in CLASSES:
        fs = sorted(f for f in os.listdir(os.path.join(data, c, "Imgs")) if f.endswith(".jpg"))
        test += [(c, f, i % 2 == 0) for i, f in enumerate(fs)]

    def feats(c, f):
        key = os.path.join(cache, f"{c}-{f}.pt")
        if not os.path.exists(key):
            with torch.no_grad():
                torch.save(extract(g, proj2, proj3, os.path.join(data, c, "Imgs", f)), key)
        return torch.load(key)

    def load(names, what):
        out = []
        for i, (c, f) in enumerate(names):
            out.append(feats(c, f))
            print(f"\r{what} features {i + 1}/{len(names)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return out

    tr = load([("MT_Free", f) for f in train], "train")
    pr = load([("MT_Free", f) for f in posref], "position reference")
    te = load([(c, f) for c, f, _ in test], "test")
    defective = np.array([c != "MT_Free" for c, _, _ in test])
    masks = [mask112(os.path.join(data, c, "Imgs", f[:-4] + ".png")) if c != "MT_Free" else None
             for c, f, _ in test]
    dev = np.array([d for _, _, d in test])
    cls = np.array([c for c, _, _ in test])

    def stack(items, k):
        return (torch.stack([it[k][0] for it in items]).float(), torch.stack([it[k][1] for it in items]).float())

    def cells(items, k):
        out = []
        for i0 in range(0, len(items), 64):
            p2, p3 = stack(items[i0:i0 + 64], k)
            out.append(grid_cells(p2, p3, "shallow", 3))
        return torch.cat(out)  # [N, d, h, w]

    def evaluate(name, maps):
        for half, sel in (("dev", dev), ("test", ~dev)):
            row = []
            for c in CLASSES + ["all"]:
                ii = [i for i in np.nonzero(sel & defective)[0] if c == "all" or cls[i] == c]
                sc = np.concatenate([maps[i].numpy().ravel() for i in ii])
                lb = np.concatenate([masks[i].ravel() for i in ii]).astype(np.int64)
                row.append(auroc(sc, lb))
            mx = maps.flatten(1).max(1).values.numpy()
            img = auroc(mx[sel], defective[sel].astype(np.int64))
            print(f"{name:<22} {half:<4} " + " ".join(f"{v:.3f}" for v in row) + f"  image {img:.3f}", flush=True)

    def self_reference(q):
        """Each cell against the rest of its own tile: the q-quantile of its squared whitened distances
        (per dimension) to the tile's cells, under the shared Gaussian's whitening; scales averaged."""
        maps = torch.zeros(len(te), 1, 112, 112)
        for k in SCALES:
            c = cells(tr, k).permute(0, 2, 3, 1).reshape(-1, DIM).double()
            mu, w = ledoit_wolf(c)
            del c
            for i0 in range(0, len(te), 64):
                z = ((cells(te[i0:i0 + 64], k).permute(0, 2, 3, 1).double() - mu) @ w).float()
                for j in range(z.shape[0]):
                    x = z[j].reshape(-1, DIM)
                    d = torch.cdist(x, x) ** 2 / DIM
                    s = torch.quantile(d, q, dim=1).view(1, 1, z.shape[1], z.shape[2])
                    maps[i0 + j:i0 + j + 1] += F.interpolate(s, size=(112, 112), mode="bilinear", align_corners=False)
        return smooth(maps / len(SCALES), 1.0)[:, 0]

    def run(name, posmean, posnorm):
        maps = torch.zeros(len(te), 1, 112, 112)
        for k in SCALES:
            c = cells(tr, k).double()  # [N, d, h, w]
            mu_p = c.mean(0) if posmean else c.mean((0, 2, 3))[:, None, None]
            x = (c - mu_p).permute(0, 2, 3, 1).reshape(-1, DIM)
            _, w = ledoit_wolf(x)  # the centred cells' covariance (their mean is 0)
            del c, x

            def score(items):
                z = cells(items, k).double() - mu_p
                return (((z.permute(0, 2, 3, 1)) @ w) ** 2).mean(-1).float()  # [N, h, w]

            s = torch.cat([score(te[i0:i0 + 64]) for i0 in range(0, len(te), 64)])
            if posnorm:
                r = torch.cat([score(pr[i0:i0 + 64]) for i0 in range(0, len(pr), 64)])
                m, sd = r.mean(0), r.std(0)
                s = (s - m) / sd.clamp(min=0.1 * sd.mean())
            maps += F.interpolate(s[:, None], size=(112, 112), mode="bilinear", align_corners=False)
        maps = smooth(maps / len(SCALES), 1.0)[:, 0]
        evaluate(name, maps)
        return maps

    print(f"{'variant':<22} half " + " ".join(c[3:8] for c in CLASSES) + " all", flush=True)
    shared = None
    for name, pm, pn in (("shared", False, False), ("posmean", True, False), ("posnorm", False, True),
                         ("posmean+posnorm", True, True)):
        maps = run(name, pm, pn)
        shared = maps if shared is None else shared

    # A cell unlike the rest of its own tile (the median of its distances to the tile's cells), alone and
    # added to the shared map (each standardised by its mean and spread over all test maps' pixels).
    selfref = self_reference(0.5)
    evaluate("self-reference", selfref)
    z = lambda m: (m - m.mean()) / m.std()
    evaluate("shared + self-ref/2", z(shared) + 0.5 * z(selfref))

    # Is a marked region unusual in itself, or only beside the rest of its tile? Pixel ROC AUC of the
    # shared map, every test image: marked pixels against the good test tiles' pixels, and the
    # unmarked pixels of the defective tiles against the same.
    good_px = np.concatenate([shared[i].numpy().ravel() for i in np.nonzero(~defective)[0]])
    print("shared map against the good test tiles' pixels: marked pixels / unmarked pixels of the same tiles")
    for c in CLASSES:
        ii = [i for i in np.nonzero(defective)[0] if cls[i] == c]
        marked = np.concatenate([shared[i].numpy()[masks[i]] for i in ii])
        unmarked = np.concatenate([shared[i].numpy()[~masks[i]] for i in ii])
        a = [auroc(np.concatenate([good_px, x]), np.r_[np.zeros(len(good_px)), np.ones(len(x))].astype(np.int64))
             for x in (marked, unmarked)]
        print(f"{c:<12} {a[0]:.3f} / {a[1]:.3f}", flush=True)


if __name__ == "__main__":
    main()
