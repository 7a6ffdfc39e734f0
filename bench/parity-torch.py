#!/usr/bin/python3
"""The same recipe trained by Graft and by PyTorch on the same ONNX model.

Feature extraction on the sample task (Fashion-MNIST classes 5-9: 40 training images
per class, 100 for validation) from the bundled starter model: the backbone frozen
(BatchNorm in inference mode), a new linear head on the pooled features, AdamW
(lr 1e-2, weight decay 1e-4), cosine schedule down to 1 %, 20 epochs, batches of 32,
no augmentation, the model's own preprocessing. PyTorch builds the starter network
(tools/starter-model.py), loads the ONNX file's weights by name, and trains; Graft
runs `graft-cli train` with the feature-extraction preset. Several seeds each.

    /usr/bin/python3 bench/parity-torch.py [--graft-cli build/src/cli/graft-cli] [--seeds 3]
"""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_starter_module():
    spec = importlib.util.spec_from_file_location("starter", os.path.join(ROOT, "tools", "starter-model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def image_folder(root, classes=None):
    if classes is None:
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    items = []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith((".png", ".jpg", ".jpeg")):
                items.append((os.path.join(folder, file), label))
    return classes, items


def preprocess(path, prep):
    """torchvision's eval transform: Resize(resize) (antialiased), CenterCrop(size), Normalize."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    resize = prep.get("resize") or prep["size"]
    if w <= h:
        new = (resize, int(resize * h / w))
    else:
        new = (int(resize * w / h), resize)
    image = image.resize(new, Image.BILINEAR)
    size = prep["size"]
    left = int(round((new[0] - size) / 2.0))
    top = int(round((new[1] - size) / 2.0))
    image = image.crop((left, top, left + size, top + size))
    x = np.asarray(image, dtype=np.float32) * prep.get("scale", 1 / 255)
    x = (x - np.array(prep["mean"], dtype=np.float32)) / np.array(prep["std"], dtype=np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def torch_run(model_path, train_items, val_items, prep, seed, epochs=20, batch=32, lr=1e-3, wd=1e-4):
    starter = load_starter_module()
    torch.manual_seed(seed)
    net = starter.StarterNet()
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(model_path).graph.initializer}
    state = net.state_dict()
    for name in state:
        if name in weights and state[name].shape == weights[name].shape:
            state[name] = weights[name]
    net.load_state_dict(state)
    net.eval()  # frozen backbone, BatchNorm in inference mode
    backbone = torch.nn.Sequential(net.conv1, net.bn1, net.relu, net.layer1, net.layer2, net.layer3, net.layer4,
                                   net.avgpool, torch.nn.Flatten())
    with torch.no_grad():
        xt = torch.stack([preprocess(p, prep) for p, _ in train_items])
        xv = torch.stack([preprocess(p, prep) for p, _ in val_items])
        ft, fv = backbone(xt), backbone(xv)
    yt = torch.tensor([l for _, l in train_items])
    yv = torch.tensor([l for _, l in val_items])
    head = torch.nn.Linear(ft.shape[1], len(set(yt.tolist())))
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=wd)
    steps_per_epoch = math.ceil(len(ft) / batch)
    total = epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(ft))
        for i in range(0, len(ft), batch):
            idx = order[i:i + batch]
            optimizer.zero_grad()
            loss_fn(head(ft[idx]), yt[idx]).backward()
            optimizer.step()
            scheduler.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        accuracy = (head(fv).argmax(1) == yv).float().mean().item()
    return accuracy, seconds


def graft_run(graft_cli, model_path, train_dir, val_dir, seed, lr=None):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.onnx")
        start = time.perf_counter()
        result = subprocess.run([graft_cli, "train", model_path, train_dir, "--validation", val_dir,
                                 "--preset", "feature-extraction", "--seed", str(seed), "--cache-dir", "",
                                 "--output", out, "--json"] + (["--lr", str(lr)] if lr else []),
                                capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit("graft-cli failed: " + result.stderr)
        done = [json.loads(line) for line in result.stdout.splitlines() if '"done"' in line][-1]
        return done["validation_accuracy"], seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--graft-cli", default=os.path.join(ROOT, "build", "src", "cli", "graft-cli"))
    parser.add_argument("--model", default=os.path.join(ROOT, "data", "models", "graft-starter.onnx"))
    parser.add_argument("--samples", default=os.path.join(ROOT, "data", "samples"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lr", type=float, default=None, help="override the preset's learning rate in both")
    args = parser.parse_args()
    torch.set_num_threads(2)
    train_dir = os.path.join(args.samples, "train")
    val_dir = os.path.join(args.samples, "validation")
    classes, train_items = image_folder(train_dir)
    _, val_items = image_folder(val_dir, classes)
    meta = {p.key: p.value for p in onnx.load(args.model).metadata_props}
    prep = json.loads(meta["graft.preprocessing"])
    print(f"feature extraction, starter model, sample task: {len(train_items)} training and {len(val_items)} "
          f"validation images, {len(classes)} classes, 20 epochs")
    print(f"{'seed':>4} {'Graft acc':>10} {'PyTorch acc':>12} {'Graft s':>8} {'PyTorch s (head only)':>22}")
    graft_accs, torch_accs = [], []
    for seed in range(1, args.seeds + 1):
        ga, gs = graft_run(args.graft_cli, args.model, train_dir, val_dir, seed, args.lr)
        ta, ts = torch_run(args.model, train_items, val_items, prep, seed, lr=args.lr or 1e-2)
        graft_accs.append(ga)
        torch_accs.append(ta)
        print(f"{seed:>4} {ga * 100:>9.1f}% {ta * 100:>11.1f}% {gs:>8.2f} {ts:>22.2f}")
    g, t = np.mean(graft_accs) * 100, np.mean(torch_accs) * 100
    print(f"mean  Graft {g:.1f}%  PyTorch {t:.1f}%  difference {g - t:+.1f} points "
          f"({'within' if abs(g - t) <= 2 else 'NOT within'} 2 points)")


if __name__ == "__main__":
    main()
