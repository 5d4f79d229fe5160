#!/usr/bin/python3
"""Times gst-differnet's per-frame path against a PyTorch implementation of DifferNet (the paper's
configuration), in the same run, interleaved round by round, with the same thread count, and prints
the ratio of their medians.

The PyTorch side is written here from the method (torchvision's AlexNet features with random weights
at 448, 224 and 112 px, average-pooled, D = 768; 8 coupling blocks whose subnets have 3 hidden layers
of width 2048; score = mean z^2 over the T rotated copies), as the authors' code runs it at test time:
fp32, torch.no_grad(). The C++ side is `differnet-bench --path-only` on the same configuration, in
its default arithmetic (precision auto) and in fp32. Both start from a random 640x480 RGB frame.

usage: scripts/bench/compare-pytorch.py [--rounds R] [--iterations N] [--threads K] [--transforms 1,8]
                                        [--bin build/tools]
Needs Debian's python3-torch and python3-torchvision, and a build (meson setup build && ninja -C build).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
S, BLOCKS, WIDTH, HIDDEN, ALPHA = 448, 8, 2048, 3, 3.0


class Subnet(torch.nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        dims = [cin] + [WIDTH] * HIDDEN + [cout]
        self.fc = torch.nn.ModuleList([torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, x):
        for i, layer in enumerate(self.fc):
            x = layer(x)
            if i + 1 < len(self.fc):
                x = F.relu(x)
        return x


class Flow(torch.nn.Module):
    """Glow coupling blocks with fixed random permutations (FrEIA's semantics, as DifferNet uses them)."""

    def __init__(self, dim):
        super().__init__()
        self.l1, self.l2 = dim // 2, dim - dim // 2
        gen = torch.Generator().manual_seed(0)
        self.perms = [torch.randperm(dim, generator=gen) for _ in range(BLOCKS)]
        self.s1 = torch.nn.ModuleList([Subnet(self.l1, 2 * self.l2) for _ in range(BLOCKS)])
        self.s2 = torch.nn.ModuleList([Subnet(self.l2, 2 * self.l1) for _ in range(BLOCKS)])

    @staticmethod
    def clamp(a):
        return ALPHA * 0.636 * torch.atan(a / ALPHA)

    def forward(self, x):
        for k, perm in enumerate(self.perms):
            x = x[:, perm]
            x1, x2 = x[:, :self.l1], x[:, self.l1:]
            r2 = self.s2[k](x2)
            y1 = torch.exp(self.clamp(r2[:, :self.l1])) * x1 + r2[:, self.l1:]
            r1 = self.s1[k](y1)
            y2 = torch.exp(self.clamp(r1[:, :self.l2])) * x2 + r1[:, self.l2:]
            x = torch.cat([y1, y2], 1)
        return x


def make_reference():
    torch.manual_seed(0)
    trunk = torchvision.models.alexnet(weights=None).features.eval()
    flow = Flow(3 * 256).eval()

    def score(frame, transforms):
        img = frame.permute(2, 0, 1)[None].float()
        img = F.interpolate(img, size=(S, S), mode="bilinear", align_corners=False, antialias=True).round().clamp(0, 255)
        copies = torch.cat([TF.rotate(img, 360.0 * i / transforms) for i in range(transforms)])
        x = TF.normalize(copies / 255.0, MEAN, STD)
        feats = torch.cat([trunk(F.interpolate(x, size=(S // f, S // f)) if f > 1 else x).mean((2, 3))
                           for f in (1, 2, 4)], 1)
        return flow(feats).pow(2).mean().item()

    return score


def time_reference(score, frame, transforms, iterations):
    with torch.no_grad():
        score(frame, transforms)  # warm-up
        times = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            score(frame, transforms)
            times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def time_project(tools, threads, transforms, iterations, precision):
    cmd = [os.path.join(tools, "differnet-bench"), "--path-only", "--backbones", "alexnet", "--flow-widths", "2048",
           "--transforms", ",".join(map(str, transforms)), "--localize-transforms", "", "--local", "no",
           "--batch", "0", "--threads", str(threads), "--iterations", str(iterations),
           "--precision", precision, "--flow-precision", precision]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    found, arithmetic = {}, None
    for line in out.splitlines():
        m = re.match(r"\s*backbone (\w+), flow (\w+)", line.replace(" per-frame path, 640x480 RGB frame,", ""))
        if m:
            arithmetic = f"{m.group(1)}/{m.group(2)}"
        m = re.match(r"\s*T=(\d+), batch 1 .*=\s*([\d.]+) ms", line)
        if m:
            found[int(m.group(1))] = float(m.group(2))
    if set(found) != set(transforms):
        sys.exit("differnet-bench printed no per-frame rows:\n" + out)
    return found, arithmetic


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--transforms", default="1,8")
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "tools"))
    args = ap.parse_args()
    transforms = [int(t) for t in args.transforms.split(",")]
    torch.set_num_threads(args.threads)
    score = make_reference()
    frame = torch.randint(0, 256, (480, 640, 3), dtype=torch.uint8)
    rows = {T: {"pytorch": [], "auto": [], "fp32": []} for T in transforms}
    arithmetic = "?"
    print(f"compare-pytorch: {args.rounds} rounds x {args.iterations} iterations, {args.threads} thread(s), "
          f"PyTorch {torch.__version__}, paper configuration (AlexNet, flow width 2048)")
    for r in range(args.rounds):
        for T in transforms:
            rows[T]["pytorch"].append(time_reference(score, frame, T, args.iterations))
        auto, arithmetic = time_project(args.bin, args.threads, transforms, args.iterations, "auto")
        fp32, _ = time_project(args.bin, args.threads, transforms, args.iterations, "fp32")
        for T in transforms:
            rows[T]["auto"].append(auto[T])
            rows[T]["fp32"].append(fp32[T])
        print(f"  round {r + 1}: " + "; ".join(
            f"T={T} PyTorch {rows[T]['pytorch'][-1]:.1f} ms, gst-differnet {auto[T]:.1f} ms ({arithmetic}), "
            f"{fp32[T]:.1f} ms (fp32)" for T in transforms))
    print("median over rounds (ms per frame) and speed-up over PyTorch:")
    for T in transforms:
        p, a, f = (statistics.median(rows[T][k]) for k in ("pytorch", "auto", "fp32"))
        print(f"  T={T}: PyTorch {p:.1f}, gst-differnet default ({arithmetic}) {a:.1f} = x{p / a:.2f}, "
              f"gst-differnet fp32 {f:.1f} = x{p / f:.2f}")


if __name__ == "__main__":
    main()
