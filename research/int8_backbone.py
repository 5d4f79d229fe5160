#!/usr/bin/python3
"""How fast would an int8 backbone be? Static post-training quantization of the paper's backbone
(torchvision's AlexNet features, random weights: the same speed as trained ones) with PyTorch's FX
graph mode on the oneDNN engine (activations per tensor, weights per channel, calibrated on 8 random
448-px images), against fp32 in the NCHW and channels-last layouts, one thread, batch 8 (T = 8) and 1.
A measurement to decide whether to build it in C++, not part of the product.

usage: research/int8_backbone.py [--threads K] [--iterations N]
"""
import argparse
import statistics
import time

import torch
import torchvision
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx


def median_ms(f, iterations):
    f()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backend = "onednn" if "onednn" in torch.backends.quantized.supported_engines else "fbgemm"
    torch.backends.quantized.engine = backend
    fp32 = torchvision.models.alexnet(weights=None).features.eval()
    calib = torch.randn(8, 3, 448, 448)
    with torch.no_grad():
        prepared = prepare_fx(fp32, get_default_qconfig_mapping(backend), example_inputs=(calib[:1],))
        prepared(calib)
        int8 = convert_fx(prepared)
        cl = torchvision.models.alexnet(weights=None).features.eval().to(memory_format=torch.channels_last)
        print(f"PyTorch {torch.__version__}, quantized engine {backend}, {args.threads} thread(s), AlexNet features at 448 px")
        for batch in (1, 8):
            x = torch.randn(batch, 3, 448, 448)
            xc = x.contiguous(memory_format=torch.channels_last)
            a = median_ms(lambda: fp32(x), args.iterations)
            b = median_ms(lambda: cl(xc), args.iterations)
            c = median_ms(lambda: int8(x), args.iterations)
            err = (int8(x).mean((2, 3)) - fp32(x).mean((2, 3))).abs().max().item()
            scale = fp32(x).mean((2, 3)).abs().max().item()
            print(f"  batch {batch}: fp32 NCHW {a:.1f} ms, fp32 channels-last {b:.1f} ms, int8 {c:.1f} ms "
                  f"(pooled features differ by up to {err / scale:.1%} of their largest)")


if __name__ == "__main__":
    main()
