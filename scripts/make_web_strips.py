#!/usr/bin/python3
"""Generates line-scan strips of a web of material (woven texture, lighting drift, fibre streaks) for
the tiling benchmark (scripts/bench-tiles.sh), some with one small defect: a dark or bright spot or a
short scratch covering about 0.05 % of the strip.

usage: make_web_strips.py OUTDIR [--width 4096] [--height 256] [--train 24] [--test 40] [--seed 0]
Writes OUTDIR/train/good/*.png, OUTDIR/test/good/*.png and OUTDIR/test/defect/*.png (MVTec AD layout,
which differnet-eval reads) and OUTDIR/defects.csv (file, kind, x, y, area in px).
"""
import argparse
import os

import numpy as np
from PIL import Image


def strip(rng, w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 2)
    period = rng.uniform(5.5, 6.5)
    weave = np.sin(2 * np.pi * x / period + phase[0]) * np.sin(2 * np.pi * y / period + phase[1])
    drift = 12 * np.sin(2 * np.pi * x / w * rng.uniform(0.5, 2) + rng.uniform(0, 6.28))  # lighting along the web
    streaks = np.repeat(rng.normal(0, 4, (h, 1)), w, axis=1)  # fibre streaks along the web
    img = 130 + 40 * weave + drift + streaks + rng.normal(0, 6, (h, w))
    return img


def add_defect(rng, img, area):
    h, w = img.shape
    kind = rng.choice(["dark spot", "bright spot", "scratch"])
    cx, cy = int(rng.integers(40, w - 40)), int(rng.integers(30, h - 30))
    y, x = np.mgrid[0:h, 0:w]
    if kind == "scratch":  # a thin line of the same area, at an angle
        length = area / 3.0
        a = rng.uniform(0, np.pi)
        d = np.abs((x - cx) * np.sin(a) - (y - cy) * np.cos(a))
        t = (x - cx) * np.cos(a) + (y - cy) * np.sin(a)
        mask = (d <= 1.5) & (np.abs(t) <= length / 2)
        img[mask] -= 70
    else:
        r = np.sqrt(area / np.pi)
        mask = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
        img[mask] += -80 if kind == "dark spot" else 70
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
        save(strip(rng, a.width, a.height), os.path.join(a.out, "train/good", f"{i:03d}.png"))
    with open(os.path.join(a.out, "defects.csv"), "w") as f:
        f.write("file,kind,x,y,area\n")
        for i in range(a.test):
            save(strip(rng, a.width, a.height), os.path.join(a.out, "test/good", f"{i:03d}.png"))
            img = strip(rng, a.width, a.height)
            kind, x, y, px = add_defect(rng, img, area)
            save(img, os.path.join(a.out, "test/defect", f"{i:03d}.png"))
            f.write(f"test/defect/{i:03d}.png,{kind},{x},{y},{px}\n")
    print(f"{a.out}: {a.train} training strips, {a.test} good and {a.test} defective test strips of "
          f"{a.width}x{a.height}, defects of about {area:.0f} px ({100 * area / (a.width * a.height):.3f} %)")


if __name__ == "__main__":
    main()
