#!/usr/bin/python3
"""Generates line-scan strips of a web of material (woven texture, lighting drift, fibre streaks) for
the tiling benchmark (scripts/bench/bench-tiles.sh), some with one small weaving fault covering about
0.05 % of the strip: a patch without the weave, a patch with the weave shifted, a pulled thread.

usage: make_web_strips.py OUTDIR [--width 4096] [--height 256] [--train 24] [--test 40] [--seed 0]
Writes OUTDIR/train/good/*.png, OUTDIR/test/good/*.png and OUTDIR/test/defect/*.png (MVTec AD layout,
which differnet-eval reads) and OUTDIR/defects.csv (file, kind, x, y, area in px).
"""
import argparse
import os

import numpy as np
from PIL import Image


def weave(x, y, period, phase):
    return np.sin(2 * np.pi * x / period + phase[0]) * np.sin(2 * np.pi * y / period + phase[1])


def strip(rng, w, h):
    """A strip and the parameters of its weave (for defects that break the weave)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    params = (rng.uniform(5.5, 6.5), rng.uniform(0, 2 * np.pi, 2))
    drift = 12 * np.sin(2 * np.pi * x / w * rng.uniform(0.5, 2) + rng.uniform(0, 6.28))  # lighting along the web
    streaks = np.repeat(rng.normal(0, 4, (h, 1)), w, axis=1)  # fibre streaks along the web
    img = 130 + 40 * weave(x, y, *params) + drift + streaks + rng.normal(0, 6, (h, w))
    return img, params


def add_defect(rng, img, params, area):
    """Weaving faults that keep the local brightness, so that a strip squeezed to a square input
    (which averages the weave away) hides them: a patch without the weave, a patch with the weave
    shifted by half a period, a thin thread pulled across the web (2 px)."""
    h, w = img.shape
    kind = rng.choice(["missing weave", "shifted weave", "pulled thread"])
    cx, cy = int(rng.integers(40, w - 40)), int(rng.integers(30, h - 30))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    period, phase = params
    if kind == "pulled thread":  # a 2-px line across the web, its length giving the area
        length = area / 2.0
        thread = (x >= cx) & (x < cx + 2)
        mask = thread & (np.abs(y - cy) <= length / 2) if length <= h - 10 else thread & (y >= 5) & (y < h - 5)
        img[mask] -= 35
    else:
        r = np.sqrt(area / np.pi)
        mask = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
        if kind == "missing weave":
            img[mask] -= 40 * weave(x, y, period, phase)[mask]
        else:
            img[mask] -= 80 * weave(x, y, period, phase)[mask]  # the weave inverted: half a period off
    return kind, cx, cy, int(mask.sum())


def save(img, path):
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L").convert("RGB").save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--train", type=int, default=24)
    ap.add_argument("--test", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    area = 0.0005 * a.width * a.height
    for d in ("train/good", "test/good", "test/defect"):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    for i in range(a.train):
        save(strip(rng, a.width, a.height)[0], os.path.join(a.out, "train/good", f"{i:03d}.png"))
    with open(os.path.join(a.out, "defects.csv"), "w") as f:
        f.write("file,kind,x,y,area\n")
        for i in range(a.test):
            save(strip(rng, a.width, a.height)[0], os.path.join(a.out, "test/good", f"{i:03d}.png"))
            img, params = strip(rng, a.width, a.height)
            kind, x, y, px = add_defect(rng, img, params, area)
            save(img, os.path.join(a.out, "test/defect", f"{i:03d}.png"))
            f.write(f"test/defect/{i:03d}.png,{kind},{x},{y},{px}\n")
    print(f"{a.out}: {a.train} training strips, {a.test} good and {a.test} defective test strips of "
          f"{a.width}x{a.height}, defects of about {area:.0f} px ({100 * area / (a.width * a.height):.3f} %)")


if __name__ == "__main__":
    main()
