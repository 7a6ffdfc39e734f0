#!/usr/bin/python3
"""Makes the starter model and the sample project that ship with Graft, from Debian's
dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz).

    /usr/bin/python3 tools/make-starter.py [--graft-cli build/src/cli/graft-cli] [--samples-only | --model-only]

The starter model, data/models/graft-starter.onnx, is trained by Graft itself:
  1. tools/starter-model.py writes the untrained architecture (random init) as ONNX;
  2. Fashion-MNIST classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat) are written
     as PNG ImageFolders into a temporary folder: 1,500 images per class from the train
     set, and for validation 300 per class from the test set;
  3. graft-cli train trains every layer from scratch with the spec below (the
     preprocessing's mean and std are those of the training images) and writes the model
     with its labels, preprocessing and recipe in its metadata;
  4. the result is checked with onnx.checker and its metadata read back.

The sample project, data/samples/, holds Fashion-MNIST classes 5-9 (Sandal, Shirt,
Sneaker, Bag, Ankle boot), which the starter model never saw, as 28x28 greyscale PNGs,
all from the test set: train/<Class>/ 40 per class, validation/<Class>/ 100 per class,
unlabelled/ 300 (60 per class, shuffled, named by number only). Every choice comes from a
fixed seed, so running the script again writes the same files.

Needs numpy and PIL; step 1 needs python3-torch and python3-onnx. Use /usr/bin/python3.
"""
import argparse
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

DATASET = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folder names (a class name cannot hold a slash).
NAMES = ["T-shirt top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
STARTER_CLASSES = range(0, 5)
SAMPLE_CLASSES = range(5, 10)
SEED = 20240611


def read_idx(name):
    with gzip.open(os.path.join(DATASET, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    return read_idx(f"{prefix}-images-idx3-ubyte.gz"), read_idx(f"{prefix}-labels-idx1-ubyte.gz")


def choose(labels, classes, counts, seed):
    """Per class, disjoint lists of indices (one per entry of counts), in a fixed random order."""
    rng = np.random.RandomState(seed)
    chosen = {}
    for c in classes:
        indices = np.flatnonzero(labels == c)
        rng.shuffle(indices)
        lists, start = [], 0
        for n in counts:
            if start + n > len(indices):
                raise SystemExit(f"class {c} has {len(indices)} images, {start + n} needed")
            lists.append(sorted(indices[start:start + n].tolist()))
            start += n
        chosen[c] = lists
    return chosen


def write_png(path, pixels):
    Image.fromarray(pixels, mode="L").save(path, optimize=True)


def write_folder(root, images, chosen):
    """chosen: class -> indices. Writes root/<Class>/<index>.png."""
    for c, indices in chosen.items():
        folder = os.path.join(root, NAMES[c])
        os.makedirs(folder, exist_ok=True)
        for i in indices:
            write_png(os.path.join(folder, f"{i:05d}.png"), images[i])


# ---------------------------------------------------------------- the sample project

def make_samples(out):
    images, labels = load("test")
    chosen = choose(labels, SAMPLE_CLASSES, [40, 100, 60], SEED + 1)
    if os.path.isdir(out):
        for sub in ("train", "validation", "unlabelled"):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    write_folder(os.path.join(out, "train"), images, {c: lists[0] for c, lists in chosen.items()})
    write_folder(os.path.join(out, "validation"), images, {c: lists[1] for c, lists in chosen.items()})
    unlabelled = [i for c in SAMPLE_CLASSES for i in chosen[c][2]]
    np.random.RandomState(SEED + 2).shuffle(unlabelled)
    folder = os.path.join(out, "unlabelled")
    os.makedirs(folder, exist_ok=True)
    for k, i in enumerate(unlabelled):
        write_png(os.path.join(folder, f"{k:04d}.png"), images[i])
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"samples: {sum(len(l) for ls in chosen.values() for l in ls)} images in {out}, "
          f"{size / 1024:.0f} KiB", file=sys.stderr)


# ---------------------------------------------------------------- the starter model

def spec_for(mean, std, epochs):
    return {
        "strategy": "custom",
        "stages": [{"epoch": 0, "trainable_from": 0}],
        "batchnorm_policy": "batch-statistics",
        "optimizer": {"kind": "adamw", "lr": 3e-3, "weight_decay": 5e-4},
        "schedule": {"kind": "one-cycle", "pct_start": 0.25, "div_factor": 25, "final_div_factor": 1e4},
        "epochs": epochs,
        "batch_size": 64,
        "preprocessing": {
            "size": 32, "resize": 32, "crop": "center",
            "mean": [mean] * 3, "std": [std] * 3, "scale": 1 / 255,
            "channels": "RGB", "layout": "NCHW",
        },
        "augmentation": {
            "enabled": True, "crop_scale_min": 0.8, "flip": True, "rotation_degrees": 0,
            "brightness": 0, "contrast": 0, "saturation": 0,
        },
        "seed": 1,
    }


def check_model(path):
    import onnx

    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    metadata = {p.key: p.value for p in proto.metadata_props}
    for key in ("graft.labels", "graft.preprocessing", "graft.recipe"):
        if key not in metadata:
            raise SystemExit(f"{path}: no {key} in its metadata")
    labels = json.loads(metadata["graft.labels"])
    if sorted(labels) != sorted(NAMES[c] for c in STARTER_CLASSES):
        raise SystemExit(f"{path}: labels {labels}")
    json.loads(metadata["graft.preprocessing"])
    json.loads(metadata["graft.recipe"])
    ops = [n.op_type for n in proto.graph.node]
    print(f"checked {path}: {os.path.getsize(path)} bytes, {len(proto.graph.initializer)} initializers, "
          f"{ops.count('BatchNormalization')} BatchNormalization, labels {labels}", file=sys.stderr)
    return metadata


def make_model(graft_cli, out, epochs, per_class, validation_per_class, threads, keep):
    spec_module = importlib.util.spec_from_file_location("starter_model", os.path.join(ROOT, "tools", "starter-model.py"))
    starter_model = importlib.util.module_from_spec(spec_module)
    spec_module.loader.exec_module(starter_model)

    work = tempfile.mkdtemp(prefix="graft-starter-")
    try:
        untrained = os.path.join(work, "untrained.onnx")
        starter_model.export(untrained, seed=0)

        images, labels = load("train")
        chosen = choose(labels, STARTER_CLASSES, [per_class], SEED)
        write_folder(os.path.join(work, "train"), images, {c: lists[0] for c, lists in chosen.items()})
        pixels = images[[i for lists in chosen.values() for i in lists[0]]].astype(np.float64) / 255
        mean, std = round(float(pixels.mean()), 4), round(float(pixels.std()), 4)

        test_images, test_labels = load("test")
        chosen = choose(test_labels, STARTER_CLASSES, [validation_per_class], SEED)
        write_folder(os.path.join(work, "validation"), test_images, {c: lists[0] for c, lists in chosen.items()})

        spec_path = os.path.join(work, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec_for(mean, std, epochs), f, indent=2)

        # Run in the temporary folder with relative paths: the recipe in the model's
        # metadata records the model's path, and a random temporary name says nothing.
        command = [os.path.abspath(graft_cli), "train", "untrained.onnx", "train",
                   "--validation", "validation", "--spec", "spec.json", "--output", os.path.abspath(out)]
        if threads:
            command += ["--threads", str(threads)]
        print(f"running in {work}: " + " ".join(command), file=sys.stderr)
        start = time.monotonic()
        subprocess.run(command, check=True, cwd=work)
        print(f"graft-cli train took {time.monotonic() - start:.0f} s", file=sys.stderr)
        check_model(out)
    finally:
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graft-cli", default=os.path.join(ROOT, "build", "src", "cli", "graft-cli"))
    parser.add_argument("--output", default=os.path.join(ROOT, "data", "models", "graft-starter.onnx"))
    parser.add_argument("--samples", default=os.path.join(ROOT, "data", "samples"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=1500)
    parser.add_argument("--validation-per-class", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--samples-only", action="store_true")
    which.add_argument("--model-only", action="store_true")
    args = parser.parse_args()

    if not args.model_only:
        make_samples(args.samples)
    if not args.samples_only:
        make_model(args.graft_cli, args.output, args.epochs, args.per_class, args.validation_per_class,
                   args.threads, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
