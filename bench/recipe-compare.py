#!/usr/bin/python3
"""Graft's engine against its recipe on PyTorch DDP: validation accuracy per preset and seed.

  bench/recipe-compare.py GRAFT_CLI [--presets a,b] [--seeds 1,2,3] [--procs 2] [--epochs N]

For each preset and seed, on the sample images (data/samples/train, validation) and the
starter model: `graft-cli train` (Graft's engine) and `graft-cli recipe` + `torchrun
--standalone --nproc_per_node=PROCS train.py` (PyTorch), the same spec and seed. Prints
the best validation accuracy of each (PyTorch's model measured again by `graft-cli eval`),
their difference, the means over the seeds, and each side's images per second.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = {"feature-extraction": 10, "replace-top": 10, "fine-tune": 10, "progressive-ulmfit": 6,
          "progressive-fastai": 5}


def events(text):
    return [json.loads(line.split(":", 1)[1] if line.startswith("[default") else line)
            for line in text.splitlines() if "{" in line and '"event"' in line]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cli")
    p.add_argument("--presets", default=",".join(EPOCHS))
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--epochs", type=int)
    a = p.parse_args()
    starter = os.path.join(ROOT, "data", "models", "graft-starter.onnx")
    train_dir = os.path.join(ROOT, "data", "samples", "train")
    val_dir = os.path.join(ROOT, "data", "samples", "validation")
    env = dict(os.environ, GRAFT_DATA_DIR=os.path.join(ROOT, "data"))
    scratch = tempfile.mkdtemp(prefix="graft-recipe-compare-")
    run_args = ["torchrun", "--standalone", "--nproc_per_node=%d" % a.procs]
    if sys.version_info >= (3, 11) and torch.__version__ < "2":
        run_args += ["--redirects", "1", "--tee", "1", "--log_dir", os.path.join(scratch, "logs")]
    print("preset               seed  graft   torch   diff   graft img/s  torch img/s", flush=True)
    for preset in a.presets.split(","):
        epochs = a.epochs or EPOCHS[preset]
        diffs = []
        for seed in a.seeds.split(","):
            common = ["--preset", preset, "--epochs", str(epochs), "--seed", seed]
            g = subprocess.run([a.cli, "train", starter, train_dir, "-v", val_dir, "--json", "--cache-dir", "",
                                "--output", os.path.join(scratch, "graft.onnx")] + common,
                               capture_output=True, text=True, env=env)
            ge = events(g.stdout)
            graft_acc = [e for e in ge if e["event"] == "done"][0]["validation_accuracy"]
            graft_ips = sum(e["images_per_second"] for e in ge if e["event"] == "epoch") / max(
                1, len([e for e in ge if e["event"] == "epoch"]))
            folder = os.path.join(scratch, "%s-%s" % (preset, seed))
            subprocess.run([a.cli, "recipe", starter, train_dir, "-v", val_dir, "-o", folder, "-q"] + common,
                           check=True, env=env)
            t = subprocess.run(run_args + [os.path.join(folder, "train.py")], capture_output=True, text=True,
                               env=env)
            with open(os.path.join(folder, "events.jsonl")) as f:
                te = events(f.read())
            torch_ips = sum(e["images_per_second"] for e in te if e["event"] == "epoch") / max(
                1, len([e for e in te if e["event"] == "epoch"]))
            ev = subprocess.run([a.cli, "eval", os.path.join(folder, "model.onnx"), val_dir, "--json"],
                                capture_output=True, text=True, env=env)
            torch_acc = json.loads(ev.stdout)["accuracy"] if ev.returncode == 0 else float("nan")
            if t.returncode != 0:
                print(t.stderr[-2000:], file=sys.stderr)
            diffs.append((graft_acc, torch_acc))
            print("%-20s %4s  %5.1f%%  %5.1f%%  %+5.1f  %11.0f  %11.0f" % (
                preset, seed, 100 * graft_acc, 100 * torch_acc, 100 * (torch_acc - graft_acc), graft_ips, torch_ips),
                flush=True)
        mg = sum(d[0] for d in diffs) / len(diffs)
        mt = sum(d[1] for d in diffs) / len(diffs)
        print("%-20s mean  %5.1f%%  %5.1f%%  %+5.1f" % (preset, 100 * mg, 100 * mt, 100 * (mt - mg)), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
