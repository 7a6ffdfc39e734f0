#!/usr/bin/python3
"""The recipe's PyTorch side against Graft's engine (graft-cli recipe, data/recipe/train.py).

  check-recipe.py GRAFT_CLI SOURCE_ROOT FIXTURES_DIR [--all]

1. The ONNX -> torch converter of train.py gives Graft's forward (graft-cli infer)
   within 1e-5 (relative to the output's largest magnitude) on parity fixtures and on a
   recipe's initial.onnx (the starter with its new head).
2. The first training step's loss of train.py equals Graft's (graft-cli train --json)
   within 1e-4: the same initial weights, the whole training set in one batch (so that
   the order of the images does not matter), no augmentation, the fine-tune preset (the
   top blocks train, their BatchNorms normalise with the batch). A run stopped after an
   epoch and resumed ends as one never stopped. And a whole run with nothing random
   (the same one-batch epochs, the fastai preset's two stages and spread rates, label
   smoothing, class weights) gives Graft's loss and accuracy at every epoch.
3. torchrun --standalone --nproc_per_node=2 (gloo, CPU) trains a project's recipe for
   2 epochs: the events are Graft's, the loss falls, model.onnx imports into Graft
   (inspect), and `graft-cli runs import` stores it with the accuracy Graft measures,
   which is the one train.py reported.
Without --all, part 1 runs on three fixtures (MobileNetV2, ResNet-18, EfficientNet-B0).
Skips when python3 lacks torch or onnx.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

try:
    import numpy as np
    import onnx
    import torch
except ImportError as e:
    tap.skip("python3 cannot import %s (Debian: python3-torch, python3-onnx)" % e.name)

cli, root, fixtures = sys.argv[1], sys.argv[2], sys.argv[3]
everything = "--all" in sys.argv[4:]
starter = os.path.join(root, "data", "models", "graft-starter.onnx")
samples = os.path.join(root, "data", "samples")
spec = importlib.util.spec_from_file_location("recipe_train", os.path.join(root, "data", "recipe", "train.py"))
train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train)
scratch = tempfile.mkdtemp(prefix="graft-check-recipe-")
env = dict(os.environ, GRAFT_DATA_DIR=os.path.join(root, "data"), OMP_WAIT_POLICY="passive")


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, **kwargs)


def events(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def converter_matches(name, path, x):
    """torch's output of path on x against graft-cli infer's."""
    xin, yout = os.path.join(scratch, "x.npy"), os.path.join(scratch, "y.npy")
    np.save(xin, x)
    r = run(cli, "infer", path, "--input", xin, "--output", yout)
    if r.returncode != 0:
        tap.check(False, "converter: %s" % name, "graft-cli infer failed: %s" % r.stderr)
        return
    expected = np.load(yout)
    module = train.OnnxModule(onnx.load(path)).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    scale = max(1.0, float(np.abs(expected).max()))
    error = float(np.abs(got.reshape(expected.shape) - expected).max()) / scale
    tap.check(error <= 1e-5, "converter: %s matches Graft's forward within 1e-5 (%.2g)" % (name, error),
              "largest difference %.3g relative to %.3g" % (error, scale))


# 1. The converter ------------------------------------------------------------------------
manifest_path = os.path.join(fixtures, "manifest.json")
if os.path.exists(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    wanted = {"mobilenet_v2-bn", "resnet18-bn", "efficientnet_b0-bn"}
    for fixture in manifest["fixtures"]:
        if not everything and fixture["name"] not in wanted:
            continue
        x = np.load(os.path.join(fixtures, fixture["input"])).astype(np.float32)
        converter_matches(fixture["name"], os.path.join(fixtures, fixture["file"]), x)
else:
    tap.skip_one("converter: parity fixtures", "no %s (the fixtures are not built)" % manifest_path)

# 2. The first step's loss ----------------------------------------------------------------
first_spec = os.path.join(scratch, "first-step.json")
with open(first_spec, "w") as f:
    json.dump({"strategy": "fine-tune", "epochs": 1, "augmentation": {"enabled": False}}, f)
train_dir, val_dir = os.path.join(samples, "train"), os.path.join(samples, "validation")
recipe = os.path.join(scratch, "first-step")
r = run(cli, "recipe", starter, train_dir, "-v", val_dir, "--spec", first_spec, "--batch", "200", "-o", recipe, "-q")
tap.check(r.returncode == 0, "recipe: written for MODEL DATA -v VALDATA", r.stderr)
if r.returncode == 0:
    x = np.random.RandomState(3).randn(2, 3, 32, 32).astype(np.float32)
    converter_matches("the recipe's initial.onnx (starter + new head)", os.path.join(recipe, "initial.onnx"), x)
    g = run(cli, "train", starter, train_dir, "-v", val_dir, "--spec", first_spec, "--batch", "200", "--json",
            "--cache-dir", "", "--output", os.path.join(scratch, "graft-first.onnx"))
    graft_steps = [e for e in events(g.stdout) if e["event"] == "step"]
    t = run(sys.executable, os.path.join(recipe, "train.py"), "--max-steps", "1", "--no-shuffle", "--quiet",
            "--workers", "0")
    with open(os.path.join(recipe, "events.jsonl")) as f:
        torch_steps = [e for e in events(f.read()) if e["event"] == "step"]
    ok = g.returncode == 0 and t.returncode == 0 and graft_steps and torch_steps
    detail = "graft-cli: %s\ntrain.py: %s" % (g.stderr, t.stderr)
    if ok:
        a, b = graft_steps[0]["loss"], torch_steps[0]["loss"]
        ok = abs(a - b) <= 1e-4
        detail = "Graft %.7f, PyTorch %.7f" % (a, b)
    tap.check(ok, "first step: the loss is Graft's within 1e-4 (same weights, same batch: %s)" % detail, detail)

    # A run stopped after its first epoch and resumed from its checkpoint ends where a
    # run never stopped does (no augmentation, one batch per epoch: nothing random).
    def last_epoch(*extra):
        for name in ("events.jsonl", "checkpoint.pt"):
            if os.path.exists(os.path.join(recipe, name)) and "--resume" not in extra:
                os.remove(os.path.join(recipe, name))
        r = run(sys.executable, os.path.join(recipe, "train.py"), "--epochs", "3", "--no-shuffle", "--quiet",
                "--workers", "0", *extra)
        with open(os.path.join(recipe, "events.jsonl")) as f:
            log = events(f.read())
        return r, [e for e in log if e["event"] == "epoch"]

    r1, whole = last_epoch()
    r2, _ = last_epoch("--max-steps", "2")
    r3, resumed = last_epoch("--resume")
    ok = all(r.returncode == 0 for r in (r1, r2, r3)) and len(whole) == 3
    detail = r1.stderr + r2.stderr + r3.stderr
    if ok:
        ok = [e["epoch"] for e in resumed] == [1, 2, 3] and abs(resumed[-1]["train_loss"] - whole[-1]["train_loss"]) < 1e-5
        detail = "resumed %s, whole %s" % ([(e["epoch"], e["train_loss"]) for e in resumed],
                                           [(e["epoch"], e["train_loss"]) for e in whole])
    tap.check(ok, "resume: a run stopped after epoch 1 and resumed ends as one never stopped", detail)

# 2b. A whole run without randomness: the fastai preset (two stages, one-cycle per
# stage, the second at half the rate with every block training at spread rates), label
# smoothing and class weights, one batch of every image per epoch, no augmentation:
# every epoch's training loss and validation accuracy are Graft's.
fastai_spec = os.path.join(scratch, "fastai.json")
with open(fastai_spec, "w") as f:
    json.dump({"strategy": "progressive-fastai", "augmentation": {"enabled": False}, "label_smoothing": 0.1,
               "balanced_class_weights": True}, f)
recipe = os.path.join(scratch, "fastai")
r = run(cli, "recipe", starter, train_dir, "-v", val_dir, "--spec", fastai_spec, "--batch", "200", "-o", recipe, "-q")
g = run(cli, "train", starter, train_dir, "-v", val_dir, "--spec", fastai_spec, "--batch", "200", "--json",
        "--cache-dir", "", "--output", os.path.join(scratch, "graft-fastai.onnx"))
t = run(sys.executable, os.path.join(recipe, "train.py"), "--no-shuffle", "--quiet", "--workers", "0")
graft_epochs = [e for e in events(g.stdout) if e["event"] == "epoch"]
torch_epochs = []
if os.path.exists(os.path.join(recipe, "events.jsonl")):
    with open(os.path.join(recipe, "events.jsonl")) as f:
        torch_epochs = [e for e in events(f.read()) if e["event"] == "epoch"]
pairs = [(a["train_loss"], b["train_loss"], a["validation_accuracy"], b["validation_accuracy"])
         for a, b in zip(graft_epochs, torch_epochs)]
tap.check(r.returncode == 0 and len(pairs) == 5 and all(abs(a - b) <= 1e-4 and va == vb for a, b, va, vb in pairs),
          "whole run: 5 epochs of the fastai preset give Graft's losses and accuracies (no randomness)",
          "%s\n%s%s" % (pairs, g.stderr, t.stderr))

# 3. torchrun, 2 processes, and back into Graft ------------------------------------------
project = os.path.join(scratch, "project.graft")
r = run(cli, "project", "create", project, "--import", train_dir)
folder = os.path.join(scratch, "recipe")
r2 = run(cli, "recipe", project, "--model", starter, "--preset", "fine-tune", "--epochs", "2", "-o", folder, "-q")
tap.check(r.returncode == 0 and r2.returncode == 0, "recipe: written for a project", r.stderr + r2.stderr)
written = sorted(os.listdir(folder)) if r2.returncode == 0 else []
tap.check(written == ["README.md", "dataset.csv", "graft-recipe.json", "initial.onnx", "spec.json", "train.py"],
          "recipe: the folder holds the model, manifest, spec, train.py and README", written)
torchrun = shutil.which("torchrun")
if torchrun is None or r2.returncode != 0:
    tap.skip_one("torchrun: 2 processes", "no torchrun" if torchrun is None else "no recipe")
else:
    args = [torchrun, "--standalone", "--nproc_per_node=2"]
    if sys.version_info >= (3, 11) and torch.__version__ < "2":
        # torch 1.13's torchrun on Python 3.11 cannot parse its default --redirects 0
        # (pytorch/pytorch#94382): name the streams.
        args += ["--redirects", "1", "--tee", "1", "--log_dir", os.path.join(scratch, "torchrun-logs")]
    t = run(*args, os.path.join(folder, "train.py"), timeout=600)
    log_events = []
    if os.path.exists(os.path.join(folder, "events.jsonl")):
        with open(os.path.join(folder, "events.jsonl")) as f:
            log_events = events(f.read())
    epochs = [e for e in log_events if e["event"] == "epoch"]
    steps = [e for e in log_events if e["event"] == "step"]
    done = [e for e in log_events if e["event"] == "done"]
    tap.check(t.returncode == 0 and len(epochs) == 2 and len(done) == 1 and done[0]["processes"] == 2,
              "torchrun: 2 processes trained 2 epochs and said so in Graft's events", t.stdout[-3000:] + t.stderr[-3000:])
    keys = {"epoch", "epochs", "step", "steps", "stage", "loss", "lr", "images_per_second", "eta_seconds"}
    tap.check(steps and all(keys <= set(e) for e in steps), "torchrun: step events have graft-cli train's members")
    tap.check(len(epochs) == 2 and epochs[1]["train_loss"] < epochs[0]["train_loss"],
              "torchrun: the training loss falls", [e.get("train_loss") for e in epochs])
    model = os.path.join(folder, "model.onnx")
    i = run(cli, "inspect", model, "--json")
    tap.check(i.returncode == 0, "model.onnx imports into Graft (graft-cli inspect)", i.stderr)
    meta = {p.key: p.value for p in onnx.load(model).metadata_props} if os.path.exists(model) else {}
    tap.check({"graft.labels", "graft.preprocessing", "graft.recipe", "graft.version"} <= set(meta),
              "model.onnx carries Graft's metadata", sorted(meta))
    imp = run(cli, "runs", "import", project, folder, "--json")
    stored = events(imp.stdout)
    ok = imp.returncode == 0 and stored and done
    detail = imp.stderr
    if ok:
        # The same model: at most one borderline image of the 40 may go the other way.
        ok = abs(stored[0]["validation_accuracy"] - done[0]["validation_accuracy"]) <= 1.5 / 40
        detail = "Graft measured %s, train.py reported %s" % (stored[0]["validation_accuracy"],
                                                              done[0]["validation_accuracy"])
    tap.check(ok, "runs import: stored, with Graft's accuracy equal to train.py's", detail)
    runs = run(cli, "runs", project, "--json")
    listed = json.loads(runs.stdout)["runs"] if runs.returncode == 0 else []
    tap.check(len(listed) == 1 and listed[0]["status"] == "finished", "runs import: the run is listed as finished",
              runs.stdout)

shutil.rmtree(scratch, ignore_errors=True)
tap.finish()
