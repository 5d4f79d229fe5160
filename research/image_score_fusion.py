#!/usr/bin/env python3
"""Ways of joining the flow's and the pooled Gaussian's image scores, measured on a development half
of Magnetic Tile's test images and reported on the other half (choices are made on the first half
only).

Input: the report of `scripts/bench/benchmark-image-score.sh DATA OUTDIR PRESET SEED` (differnet-eval
--report of a model whose image score is "combined": each image's `score`, `flow_part` and
`gaussian_part`). A test image is in the development half when its index in its class's sorted file
list is even (good and defective classes alike); the statistics a rule needs from good images (the
mean and spread of each part, or of its logarithm) come from the development half's good images, as
they would come from held-out good training images in the product.

Rules:
  combined      the product's: flow / sd + gaussian / sd (sd: over the model's held-out good images),
                read from the report's `score`
  flow, gaussian  each part alone
  z-sum         (flow - mean) / sd + (gaussian - mean) / sd, over the development half's good images
  log-z-sum     the same on the logarithms of the parts (the flow's score has a far heavier tail)
  log-z-max     the larger of the two standardised logarithms

  /usr/bin/python3 research/image_score_fusion.py REPORT.json
"""
import json
import math
import sys
from collections import defaultdict


def roc_auc(scores, labels):
    pairs = sorted(zip(scores, labels))
    # Mann-Whitney U with ties counted half.
    pos = sum(labels)
    neg = len(labels) - pos
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mean_rank = (i + j + 1) / 2.0
        rank_sum += mean_rank * sum(l for _, l in pairs[i:j])
        i = j
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def stats(values):
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return m, sd


def main():
    report = json.load(open(sys.argv[1]))
    by_class = defaultdict(list)
    for im in report["images"]:
        by_class[im["class"]].append(im)
    halves = {"dev": [], "other": []}
    for cls, images in by_class.items():
        for k, im in enumerate(sorted(images, key=lambda x: x["path"])):
            halves["dev" if k % 2 == 0 else "other"].append(im)
    good_dev = [im for im in halves["dev"] if im["label"] == 0]
    f_m, f_sd = stats([im["flow_part"] for im in good_dev])
    g_m, g_sd = stats([im["gaussian_part"] for im in good_dev])
    lf_m, lf_sd = stats([math.log(im["flow_part"]) for im in good_dev])
    lg_m, lg_sd = stats([math.log(im["gaussian_part"]) for im in good_dev])
    rules = {
        "combined": lambda im: im["score"],
        "flow": lambda im: im["flow_part"],
        "gaussian": lambda im: im["gaussian_part"],
        "z-sum": lambda im: (im["flow_part"] - f_m) / f_sd + (im["gaussian_part"] - g_m) / g_sd,
        "log-z-sum": lambda im: (math.log(im["flow_part"]) - lf_m) / lf_sd + (math.log(im["gaussian_part"]) - lg_m) / lg_sd,
        "log-z-max": lambda im: max((math.log(im["flow_part"]) - lf_m) / lf_sd, (math.log(im["gaussian_part"]) - lg_m) / lg_sd),
    }
    print(f"{'rule':<12} {'dev half':>9} {'other half':>11} {'all':>7}   images: dev {len(halves['dev'])}, other {len(halves['other'])}")
    for name, rule in rules.items():
        row = []
        for half in (halves["dev"], halves["other"], halves["dev"] + halves["other"]):
            row.append(roc_auc([rule(im) for im in half], [1 if im["label"] else 0 for im in half]))
        print(f"{name:<12} {row[0]:>9.4f} {row[1]:>11.4f} {row[2]:>7.4f}")


if __name__ == "__main__":
    main()
