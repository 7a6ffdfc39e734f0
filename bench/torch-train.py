#!/usr/bin/python3
"""The PyTorch side of bench-train: torchvision MobileNetV2 at the same batch, threads
and size, timing inference forward, a head-only train step and a full train step.

    /usr/bin/python3 bench/torch-train.py [--batch 16] [--threads 2] [--repeats 5] [--size 224]
"""
import argparse
import statistics
import time

import torch
import torchvision


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(weights=None, num_classes=10)
    images = torch.rand(args.batch, 3, args.size, args.size) * 2 - 1
    labels = torch.arange(args.batch) % 10
    loss_fn = torch.nn.CrossEntropyLoss()

    model.eval()

    def forward():
        with torch.no_grad():
            model(images)

    forward_ms = timed(forward, args.repeats)

    for p in model.features.parameters():
        p.requires_grad_(False)
    head = torch.optim.AdamW(model.classifier.parameters(), lr=1e-3)
    model.train()
    model.features.eval()  # frozen BatchNorm in inference mode

    def head_step():
        head.zero_grad()
        loss_fn(model(images), labels).backward()
        head.step()

    head_ms = timed(head_step, args.repeats)

    for p in model.parameters():
        p.requires_grad_(True)
    full = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def full_step():
        full.zero_grad()
        loss_fn(model(images), labels).backward()
        full.step()

    full_ms = timed(full_step, args.repeats)
    print(f"torch {torch.__version__} MobileNetV2 {args.size}x{args.size}, batch {args.batch}, "
          f"{args.threads} threads, median of {args.repeats}")
    print(f"{'inference forward':28s} {forward_ms:10.1f} {1.0:14.2f}")
    print(f"{'train step, head only':28s} {head_ms:10.1f} {head_ms / forward_ms:14.2f}")
    print(f"{'train step, all layers':28s} {full_ms:10.1f} {full_ms / forward_ms:14.2f}")


if __name__ == "__main__":
    main()
