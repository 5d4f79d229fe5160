#!/usr/bin/python3
"""Summary of a differnetfilter results file against a labels file (frame,label[,...] CSV):
frames, frames flagged, ROC AUC of the scores, and frames per second over the given wall time.
Where the labels give each defect's bounding box (x0,y0,x1,y1 in frame pixels, as synth-line-camera
writes them) and the results the heatmap's hottest point (peak_x, peak_y), also how often that point
lies on the planted defect: within its box grown by one feature-map cell (a 28th of the frame's
width: the stride-16 cells of a 448-px input).

usage: summarize_results.py RESULTS.jsonl LABELS.csv SECONDS [FRAME_WIDTH]   (FRAME_WIDTH default 640)
"""
import csv
import json
import sys


def roc_auc(scores, labels):
    """Mann-Whitney U with average ranks for ties (= scikit-learn's roc_auc_score)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    rank_sum = sum(r for r, lab in zip(ranks, labels) if lab)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def main():
    results_path, labels_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    frame_width = int(sys.argv[4]) if len(sys.argv) > 4 else 640
    results = [json.loads(line) for line in open(results_path)]
    labels = {int(row["frame"]): int(row["label"]) for row in csv.DictReader(open(labels_path))}
    scores = [r["score"] for r in results]
    truth = [labels[r["frame"]] for r in results]
    flagged = sum(1 for r in results if r["anomaly"])
    hits = sum(1 for r, t in zip(results, truth) if r["anomaly"] and t)
    print(f"frames            {len(results)} ({sum(truth)} with a planted defect)")
    print(f"frames flagged    {flagged} ({hits} of them defective, {flagged - hits} false alarms)")
    if 0 < sum(truth) < len(truth):
        print(f"ROC AUC           {roc_auc(scores, truth):.4f} (scores against the generator's labels)")
    boxes = {}
    for row in csv.DictReader(open(labels_path)):
        if int(row["label"]) and int(row.get("x0", -1) or -1) >= 0:
            boxes[int(row["frame"])] = tuple(int(row[k]) for k in ("x0", "y0", "x1", "y1"))
    located = [r for r in results if r["frame"] in boxes and r.get("peak_x", -1) >= 0]
    if located:
        on = 0
        for r in located:
            x0, y0, x1, y1 = boxes[r["frame"]]
            margin = frame_width / 28
            if x0 - margin <= r["peak_x"] <= x1 + margin and y0 - margin <= r["peak_y"] <= y1 + margin:
                on += 1
        print(f"hottest point     on the planted defect in {on} of {len(located)} defective frames "
              f"({100.0 * on / len(located):.1f} %; within one feature cell of its box)")
    print(f"frames per second {len(results) / seconds:.2f} (whole pipeline: decode, score, draw, encode)")


if __name__ == "__main__":
    main()
