#!/usr/bin/env python3
"""Graft's training run, on PyTorch's distributed data-parallel training.

Written into a recipe folder by `graft-cli recipe` (Graft's template, data/recipe/).
It trains the run that folder describes exactly as Graft's own engine would, on as many
processes and machines as torchrun gives it, and writes model.onnx beside itself:

    torchrun --standalone --nproc_per_node=N train.py      # one machine
    python3 train.py                                        # one process

The folder holds initial.onnx (the model with Graft's new head and initial weights),
spec.json (Graft's session spec), graft-recipe.json (classes, blocks, where the images
are) and dataset.csv (path, label, split, sha256). Needs Python 3, PyTorch 1.13 or
later, numpy, Pillow and onnx; nothing else. See README.md.

What it reproduces of Graft (src/train/spec.c, trainer.c, src/data/augment.c,
preprocess.c, src/engine/optimizer.c): the preprocessing (antialiased resize, centre
crop, normalisation), the augmentation (random resized crop, flip, rotation with the
border replicated, colour jitter in a random order), the freeze plan by blocks with
block and parameter overrides, progressive-unfreezing stages, per-block learning-rate
multipliers (backbone fraction, discriminative factor, block factors), the BatchNorm
policy (frozen blocks use their running statistics, or the batch's, or recalibrate
first), SGD/Adam/AdamW with PyTorch's semantics and global-norm clipping, the
schedules (constant, step, cosine, one-cycle, slanted triangular, warm-up, restart per
stage), label smoothing and class weights (the loss is the weighted mean over the whole
global batch, as one Graft batch), validation after every epoch, best weights kept
(accuracy, then loss), early stopping, a diverging loss stopping the run.
"""

import argparse
import csv
import datetime
import gc
import hashlib
import io
import json
import math
import os
import random
import re
import socket
import sys
import time

# OpenMP threads that spin while waiting slowed training several times over beside
# other work (Graft sets the same for itself); libgomp reads this when torch loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx.numpy_helper
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------
# ONNX -> torch: Graft's op set, initializers kept under their names


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(pads, rank=2):
    """ONNX pads (begin..., end...) -> F.pad order (last dim first)."""
    if not pads:
        return None
    begin, end = pads[:rank], pads[rank:]
    out = []
    for d in reversed(range(rank)):
        out += [begin[d], end[d]]
    return out


class OnnxModule(nn.Module):
    """A torch module that runs an ONNX graph node by node.

    Parameters (the float initializers that are not BatchNorm running statistics, or
    exactly `parameter_names` when given) are nn.Parameters; running statistics and
    other initializers are buffers. `onnx_parameters()` / `onnx_buffers()` give them
    under their ONNX names. In training mode a BatchNorm normalises with the batch (and
    updates its running statistics) only when its scale's name is in `batch_statistics`;
    Dropout drops in training mode.
    """

    def __init__(self, model, parameter_names=None):
        super().__init__()
        graph = model.graph
        self.nodes = list(graph.node)
        self.node_attrs = [_attrs(n) for n in self.nodes]
        init_names = {i.name for i in graph.initializer}
        self.input_name = [i.name for i in graph.input if i.name not in init_names][0]
        self.output_name = graph.output[0].name
        running = set()
        for n in self.nodes:
            if n.op_type == "BatchNormalization":
                running.update(n.input[3:5])
        self._keys = {}
        self.params = nn.ParameterDict()
        self.constants = {}
        self.parameter_order = []
        self.buffer_order = []
        for init in graph.initializer:
            array = onnx.numpy_helper.to_array(init).copy()
            key = re.sub(r"[^0-9A-Za-z_]", "_", init.name)
            while key in self._keys.values() or key == "":
                key += "_"
            is_float = array.dtype in (np.float32, np.float64, np.float16)
            if parameter_names is not None:
                is_param = init.name in parameter_names
            else:
                is_param = is_float and init.name not in running
            if is_param:
                self._keys[init.name] = key
                self.params[key] = nn.Parameter(torch.from_numpy(array.astype(np.float32)))
                self.parameter_order.append(init.name)
            elif is_float:
                self._keys[init.name] = key
                self.register_buffer("b_" + key, torch.from_numpy(array.astype(np.float32)))
                self.buffer_order.append(init.name)
            else:
                self.constants[init.name] = torch.from_numpy(array)
        self.batch_statistics = set()

    # Names as ONNX has them
    def onnx_parameters(self):
        return [(name, self.params[self._keys[name]]) for name in self.parameter_order]

    def onnx_buffers(self):
        return [(name, getattr(self, "b_" + self._keys[name])) for name in self.buffer_order]

    def onnx_state(self):
        state = {name: p.detach().cpu().clone() for name, p in self.onnx_parameters()}
        state.update({name: b.detach().cpu().clone() for name, b in self.onnx_buffers()})
        return state

    def load_onnx_state(self, state):
        with torch.no_grad():
            for name, p in self.onnx_parameters():
                p.copy_(state[name])
            for name, b in self.onnx_buffers():
                b.copy_(state[name])

    def _value(self, env, name):
        if name == "":
            return None
        if name in env:
            return env[name]
        key = self._keys.get(name)
        if key is not None:
            if key in self.params:
                return self.params[key]
            return getattr(self, "b_" + key)
        return self.constants[name]

    @staticmethod
    def _ints(t):
        return [int(v) for v in (t.tolist() if torch.is_tensor(t) else t)]

    def forward(self, x):
        env = {self.input_name: x}
        for node, a in zip(self.nodes, self.node_attrs):
            ins = [self._value(env, n) for n in node.input]
            outs = self._run(node, a, ins)
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for name, value in zip(node.output, outs):
                if name:
                    env[name] = value
        return env[self.output_name]

    def _run(self, node, a, ins):
        op = node.op_type
        if op == "Conv":
            x, w = ins[0], ins[1]
            b = ins[2] if len(ins) > 2 else None
            pads = a.get("pads", [0, 0, 0, 0])
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise ValueError("Conv %s: auto_pad is not supported" % node.name)
            strides = a.get("strides", [1, 1])
            dil = a.get("dilations", [1, 1])
            group = a.get("group", 1)
            if pads[0] == pads[2] and pads[1] == pads[3]:
                return F.conv2d(x, w, b, strides, (pads[0], pads[1]), dil, group)
            return F.conv2d(F.pad(x, _pads(pads)), w, b, strides, 0, dil, group)
        if op == "BatchNormalization":
            x, scale, bias, mean, var = ins[:5]
            eps = a.get("epsilon", 1e-5)
            momentum = 1.0 - a.get("momentum", 0.9)
            batch = self.training and node.input[1] in self.batch_statistics
            return F.batch_norm(x, mean, var, scale, bias, batch, momentum, eps)
        if op == "Relu":
            return F.relu(ins[0])
        if op == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min", None)
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max", None)
            lo = float(lo) if lo is not None else None
            hi = float(hi) if hi is not None else None
            return torch.clamp(ins[0], lo, hi)
        if op == "LeakyRelu":
            return F.leaky_relu(ins[0], a.get("alpha", 0.01))
        if op == "Sigmoid":
            return torch.sigmoid(ins[0])
        if op == "HardSigmoid":
            return torch.clamp(ins[0] * a.get("alpha", 0.2) + a.get("beta", 0.5), 0, 1)
        if op == "HardSwish":
            return F.hardswish(ins[0])
        if op == "Tanh":
            return torch.tanh(ins[0])
        if op == "Add":
            return ins[0] + ins[1]
        if op == "Sub":
            return ins[0] - ins[1]
        if op == "Mul":
            return ins[0] * ins[1]
        if op == "Div":
            return ins[0] / ins[1]
        if op == "Concat":
            return torch.cat(ins, dim=a["axis"])
        if op in ("MaxPool", "AveragePool"):
            x = ins[0]
            k = a["kernel_shape"]
            strides = a.get("strides", [1] * len(k))
            pads = a.get("pads", [0] * 2 * len(k))
            ceil = bool(a.get("ceil_mode", 0))
            if op == "MaxPool":
                if pads[0] == pads[2] and pads[1] == pads[3] and pads[0] * 2 <= k[0] and pads[1] * 2 <= k[1]:
                    return F.max_pool2d(x, k, strides, (pads[0], pads[1]), ceil_mode=ceil)
                return F.max_pool2d(F.pad(x, _pads(pads), value=-math.inf), k, strides, 0, ceil_mode=ceil)
            include = bool(a.get("count_include_pad", 0))
            if pads[0] == pads[2] and pads[1] == pads[3] and pads[0] * 2 <= k[0] and pads[1] * 2 <= k[1]:
                return F.avg_pool2d(x, k, strides, (pads[0], pads[1]), ceil_mode=ceil, count_include_pad=include)
            if include:
                return F.avg_pool2d(F.pad(x, _pads(pads)), k, strides, 0, ceil_mode=ceil)
            ones = torch.ones_like(x[:1, :1])
            s = F.avg_pool2d(F.pad(x, _pads(pads)), k, strides, 0, ceil_mode=ceil)
            c = F.avg_pool2d(F.pad(ones, _pads(pads)), k, strides, 0, ceil_mode=ceil)
            return s / c
        if op == "GlobalAveragePool":
            return ins[0].mean(dim=(2, 3), keepdim=True)
        if op == "ReduceMean":
            axes = a.get("axes")
            if axes is None and len(ins) > 1 and ins[1] is not None:
                axes = self._ints(ins[1])
            keep = bool(a.get("keepdims", 1))
            if axes is None:
                axes = list(range(ins[0].dim()))
            return ins[0].mean(dim=tuple(axes), keepdim=keep)
        if op == "Reshape":
            shape = self._ints(ins[1])
            x = ins[0]
            if not a.get("allowzero", 0):
                shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
            return x.reshape(shape)
        if op == "Flatten":
            axis = a.get("axis", 1)
            x = ins[0]
            if axis < 0:
                axis += x.dim()
            return x.reshape(int(np.prod(x.shape[:axis])) if axis > 0 else 1, -1)
        if op == "Transpose":
            perm = a.get("perm", list(reversed(range(ins[0].dim()))))
            return ins[0].permute(*perm)
        if op == "Gemm":
            A, B = ins[0], ins[1]
            C = ins[2] if len(ins) > 2 else None
            if a.get("transA", 0):
                A = A.t()
            if a.get("transB", 0):
                B = B.t()
            y = A.matmul(B) * a.get("alpha", 1.0)
            if C is not None:
                y = y + C * a.get("beta", 1.0)
            return y
        if op == "MatMul":
            return torch.matmul(ins[0], ins[1])
        if op == "Dropout":
            ratio = a.get("ratio", 0.5)
            if len(ins) > 1 and ins[1] is not None:
                ratio = float(ins[1])
            return F.dropout(ins[0], ratio, self.training)
        if op == "Softmax":
            return torch.softmax(ins[0], dim=a.get("axis", -1))
        if op == "Identity":
            return ins[0]
        if op == "Split":
            axis = a.get("axis", 0)
            split = a.get("split")
            if split is None and len(ins) > 1 and ins[1] is not None:
                split = self._ints(ins[1])
            n = len(node.output)
            if split is None:
                size = ins[0].shape[axis]
                split = [size // n] * n
            return list(torch.split(ins[0], list(split), dim=axis))
        if op == "Slice":
            x = ins[0]
            if len(ins) > 1:
                starts, ends = self._ints(ins[1]), self._ints(ins[2])
                axes = self._ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
                steps = self._ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
            else:
                starts, ends = a["starts"], a["ends"]
                axes = a.get("axes", list(range(len(starts))))
                steps = [1] * len(starts)
            index = [slice(None)] * x.dim()
            for s, e, ax, st in zip(starts, ends, axes, steps):
                if st != 1:
                    raise ValueError("Slice %s: steps other than 1 are not supported" % node.name)
                dim = x.shape[ax]
                e = min(e, dim) if e >= 0 else max(e + dim, 0)
                s = min(s, dim) if s >= 0 else max(s + dim, 0)
                index[ax] = slice(s, e)
            return x[tuple(index)]
        if op == "Constant":
            return torch.from_numpy(onnx.numpy_helper.to_array(a["value"]).copy())
        if op == "Shape":
            return torch.tensor(list(ins[0].shape), dtype=torch.int64)
        if op == "Gather":
            axis = a.get("axis", 0)
            idx = ins[1]
            if not torch.is_tensor(idx):
                idx = torch.tensor(idx)
            if idx.dim() == 0:
                return ins[0].select(axis, int(idx))
            return ins[0].index_select(axis, idx.long().flatten()).reshape(
                ins[0].shape[:axis] + idx.shape + ins[0].shape[axis + 1:])
        if op == "Unsqueeze":
            axes = a.get("axes")
            if axes is None:
                axes = self._ints(ins[1])
            y = ins[0]
            for ax in sorted(axes):
                y = y.unsqueeze(ax)
            return y
        if op == "Squeeze":
            axes = a.get("axes")
            if axes is None and len(ins) > 1:
                axes = self._ints(ins[1])
            y = ins[0]
            if axes is None:
                return y.squeeze()
            for ax in sorted(axes, reverse=True):
                y = y.squeeze(ax)
            return y
        if op == "Cast":
            return ins[0]
        raise ValueError("%s (%s): the operator %s is not one Graft trains" % (node.name, node.output[0], op))


# ---------------------------------------------------------------------------------------
# Graft's spec: stages, freeze plan, learning rates (src/train/spec.c)


class Spec:
    def __init__(self, spec, blocks):
        self.s = spec
        self.blocks = blocks                    # backbone blocks, then the head
        self.n_blocks = len(blocks) - 1
        self.stages = spec["stages"]
        self.epochs = spec["epochs"]

    def stage_index(self, epoch):
        s = 0
        while s + 1 < len(self.stages) and self.stages[s + 1]["epoch"] <= epoch:
            s += 1
        return s

    def block_trains(self, epoch, b):
        if b == self.n_blocks:
            return True
        override = self.s.get("block_overrides", {}).get(self.blocks[b]["name"])
        if override is not None:
            return override == "trainable"
        return b >= self.stages[self.stage_index(epoch)]["trainable_from"]

    def block_lr_multiplier(self, b):
        if b == self.n_blocks:
            return 1.0
        factor = self.s.get("block_lr_factors", {}).get(self.blocks[b]["name"])
        if factor is not None and factor > 0:
            return float(factor)
        return self.s["backbone_lr_fraction"] * self.s["discriminative_factor"] ** -(self.n_blocks - b)

    def block_batchnorm(self, b):
        return self.s.get("batchnorm_blocks", {}).get(self.blocks[b]["name"], self.s["batchnorm_policy"])

    def lr_at(self, epoch, step, steps_per_epoch):
        """graft_session_spec_lr_at."""
        stage = self.stages[self.stage_index(epoch)]
        sc = self.s["schedule"]
        base = stage["lr"] if stage["lr"] > 0 else self.s["optimizer"]["lr"]
        span_start, span_end = 0, self.epochs
        if sc["restart_each_stage"]:
            span_start = stage["epoch"]
            for st in self.stages:
                if st["epoch"] > stage["epoch"]:
                    span_end = min(st["epoch"], self.epochs)
                    break
        length = max(1, span_end - span_start)
        position = (epoch - span_start) + (step / steps_per_epoch if steps_per_epoch > 0 else 0.0)
        warm = sc["warmup_epochs"]
        if warm > 0 and position < warm:
            return base * (position + 1.0 / max(1, steps_per_epoch)) / warm
        t = min(max(position / length, 0.0), 1.0)
        kind, m = sc["kind"], 1.0
        if kind == "step":
            m = sc["gamma"] ** math.floor((epoch - span_start) / sc["step_epochs"])
        elif kind == "cosine":
            m = sc["final_fraction"] + (1 - sc["final_fraction"]) * 0.5 * (1 + math.cos(math.pi * t))
        elif kind == "one-cycle":
            low = 1.0 / sc["div_factor"]
            end = low / sc["final_div_factor"]
            if t < sc["pct_start"]:
                m = low + (1 - low) * 0.5 * (1 - math.cos(math.pi * t / sc["pct_start"]))
            else:
                m = end + (1 - end) * 0.5 * (1 + math.cos(math.pi * (t - sc["pct_start"]) / (1 - sc["pct_start"])))
        elif kind == "slanted-triangular":
            p = t / sc["pct_start"] if t < sc["pct_start"] else 1 - (t - sc["pct_start"]) / (1 - sc["pct_start"])
            m = (1 + p * (sc["div_factor"] - 1)) / sc["div_factor"]
        return base * m


# ---------------------------------------------------------------------------------------
# Images: Graft's preprocessing and augmentation (src/data/preprocess.c, augment.c)


def load_image(path, grey):
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        image = image.convert("L" if grey else "RGB")
        array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1)   # (C, H, W), 0..255


def resize(image, height, width):
    """PIL's antialiased bilinear filter, in float (as Graft does)."""
    if image.shape[1] == height and image.shape[2] == width:
        return image
    return F.interpolate(image[None], size=(height, width), mode="bilinear", align_corners=False,
                         antialias=True)[0]


def eval_transform(image, prep):
    size = prep["size"]
    side = prep.get("resize") or size
    h, w = image.shape[1], image.shape[2]
    if h <= w:
        nh, nw = side, int(side * w / h)
    else:
        nh, nw = int(side * h / w), side
    image = resize(image, nh, nw)
    top, left = round((nh - size) / 2), round((nw - size) / 2)
    return image[:, top:top + size, left:left + size]


def normalise(image, prep):
    if prep.get("channels", "RGB") == "BGR":
        image = image.flip(0)
    c = image.shape[0]
    mean = torch.tensor(prep["mean"][:c] if len(prep["mean"]) >= c else prep["mean"] * c).view(-1, 1, 1)
    std = torch.tensor(prep["std"][:c] if len(prep["std"]) >= c else prep["std"] * c).view(-1, 1, 1)
    image = (image * prep.get("scale", 1 / 255) - mean) / std
    if prep.get("layout", "NCHW") == "NHWC":
        image = image.permute(1, 2, 0)
    return image.contiguous()


def luma(image):
    if image.shape[0] == 1:
        return image
    return (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None]


def augment_transform(image, prep, aug, rng):
    """torchvision's order: RandomResizedCrop, flip, rotation, colour jitter."""
    size = prep["size"]
    h, w = image.shape[1], image.shape[2]
    scale_min = aug.get("crop_scale_min", 0.08)
    if 0 < scale_min < 1:
        area = h * w
        crop = None
        for _ in range(10):
            target = area * rng.uniform(scale_min, 1.0)
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw = int(round(math.sqrt(target * ratio)))
            ch = int(round(math.sqrt(target / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                crop = (rng.randint(0, h - ch), rng.randint(0, w - cw), ch, cw)
                break
        if crop is None:                       # torchvision's fallback: the centre, ratio clamped
            in_ratio = w / h
            if in_ratio < 3 / 4:
                cw, ch = w, int(round(w / (3 / 4)))
            elif in_ratio > 4 / 3:
                ch, cw = h, int(round(h * (4 / 3)))
            else:
                cw, ch = w, h
            crop = ((h - ch) // 2, (w - cw) // 2, ch, cw)
        y, x, ch, cw = crop
        image = resize(image[:, y:y + ch, x:x + cw], size, size)
    else:
        image = eval_transform(image, prep)
    if aug.get("flip", False) and rng.random() < 0.5:
        image = image.flip(2)
    degrees = aug.get("rotation_degrees", 0)
    if degrees > 0:
        angle = math.radians(rng.uniform(-degrees, degrees))
        # Counter-clockwise on screen: sample the source through the inverse map.
        cos, sin = math.cos(angle), math.sin(angle)
        theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=torch.float32)[None]
        grid = F.affine_grid(theta, (1,) + tuple(image.shape), align_corners=False)
        image = F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    factors = []
    for key in ("brightness", "contrast", "saturation"):
        s = aug.get(key, 0)
        factors.append(rng.uniform(max(0.0, 1 - s), 1 + s) if s > 0 else None)
    order = [0, 1, 2]
    rng.shuffle(order)
    for k in order:
        f = factors[k]
        if f is None:
            continue
        if k == 0:
            image = image * f
        elif k == 1:
            m = luma(image).mean()
            image = (image - m) * f + m
        else:
            g = luma(image)
            image = (image - g) * f + g
        image = image.clamp(0, 255)
    return image


class ManifestDataset(torch.utils.data.Dataset):
    def __init__(self, rows, classes, prep, aug, seed):
        self.rows = rows
        self.index = {c: i for i, c in enumerate(classes)}
        self.prep = prep
        self.aug = aug if aug and aug.get("enabled") else None
        self.seed = seed
        self.epoch = 0
        self.grey = prep.get("channels", "RGB") == "L"

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        path, label = self.rows[i]
        image = load_image(path, self.grey)
        if self.aug is not None:
            # A function of (seed, epoch, image): the same on any worker, in any order.
            rng = random.Random((self.seed * 1000003 + self.epoch) * 1000003 + i)
            image = augment_transform(image, self.prep, self.aug, rng)
        else:
            image = eval_transform(image, self.prep)
        return normalise(image, self.prep), self.index[label]


def read_manifest(folder, recipe, data_root, verify):
    root = data_root or recipe["data_root"]
    if not os.path.isabs(root):
        root = os.path.join(folder, root)
    rows = {"train": [], "validation": []}
    with open(os.path.join(folder, recipe["manifest"]), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            path = row["path"] if os.path.isabs(row["path"]) else os.path.join(root, row["path"])
            if verify:
                with open(path, "rb") as image:
                    digest = hashlib.sha256(image.read()).hexdigest()
                if digest != row["sha256"]:
                    raise SystemExit("%s: its content is not the one the recipe was made with (SHA-256 %s, "
                                     "expected %s)" % (path, digest, row["sha256"]))
            rows.setdefault(row["split"], []).append((path, row["label"]))
    return rows


# ---------------------------------------------------------------------------------------
# Events: graft-cli train --json's, on stdout (rank 0) and in events.jsonl


class Events:
    def __init__(self, path, enabled, keep_lines=None):
        self.enabled = enabled
        self.echo = True
        self.file = None
        if enabled:
            kept = ""
            if keep_lines is not None and os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    kept = "".join(f.readlines()[:keep_lines])
            self.file = open(path, "w", encoding="utf-8")
            self.file.write(kept)
            self.file.flush()

    def emit(self, name, **members):
        if not self.enabled:
            return
        clean = {}
        for k, v in members.items():
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            clean[k] = v
        line = json.dumps(dict(event=name, **clean), ensure_ascii=False)
        if self.echo:
            print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()

    def lines(self):
        if self.file is None:
            return 0
        self.file.flush()
        with open(self.file.name, encoding="utf-8") as f:
            return sum(1 for _ in f)


# ---------------------------------------------------------------------------------------
# The run


def parse_args(argv):
    p = argparse.ArgumentParser(description="Train a Graft recipe with PyTorch (DDP under torchrun).")
    p.add_argument("--recipe", default=HERE, help="the recipe folder (default: this script's)")
    p.add_argument("--data-root", help="where the manifest's relative paths start (default: the recipe's)")
    p.add_argument("--output", help="the trained model (default: RECIPE/model.onnx)")
    p.add_argument("--resume", action="store_true", help="continue from RECIPE/checkpoint.pt")
    p.add_argument("--epochs", type=int, help="override the spec's epochs")
    p.add_argument("--workers", type=int, help="data-loading processes per rank")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--verify", action="store_true", help="check every image's SHA-256 against the manifest")
    p.add_argument("--no-augmentation", action="store_true", help="train on the eval transform")
    p.add_argument("--no-shuffle", action="store_true", help="keep the manifest's order (for checks)")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (for checks)")
    p.add_argument("--quiet", action="store_true", help="no events on stdout (events.jsonl is still written)")
    return p.parse_args(argv)


def setup_distributed(device_choice):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device_choice == "auto" else device_choice == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        if "OMP_NUM_THREADS" not in os.environ or local_world == 1:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    if world > 1:
        if int(os.environ.get("LOCAL_WORLD_SIZE", "1")) == world:
            # One machine: the processes meet on the loopback. torchrun names the host for
            # them, and where that name resolves to no address (containers, chroots without
            # it in /etc/hosts) they would wait for each other forever.
            try:
                socket.getaddrinfo(os.environ.get("MASTER_ADDR", "localhost"), None)
            except socket.gaierror:
                os.environ["MASTER_ADDR"] = "127.0.0.1"
                if not use_cuda and "GLOO_SOCKET_IFNAME" not in os.environ \
                        and any(name == "lo" for _, name in socket.if_nameindex()):
                    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30))
    return world, rank, device


def all_sum(values, device, world):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(t)
    return t.tolist()


def loader_for(dataset, batch, shuffle, seed, world, rank, workers, drop_last=False):
    if world > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(dataset, world, rank, shuffle=shuffle, seed=seed,
                                                                  drop_last=drop_last)
    elif shuffle:
        generator = torch.Generator()
        generator.manual_seed(seed)
        sampler = torch.utils.data.RandomSampler(dataset, generator=generator)
    else:
        sampler = torch.utils.data.SequentialSampler(dataset)
    return torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers,
                                       persistent_workers=workers > 0, pin_memory=False)


def set_epoch(loader, dataset, epoch, seed):
    dataset.epoch = epoch
    if isinstance(loader.sampler, torch.utils.data.distributed.DistributedSampler):
        loader.sampler.set_epoch(epoch)
    elif isinstance(loader.sampler, torch.utils.data.RandomSampler):
        loader.sampler.generator.manual_seed(seed * 7919 + epoch)


def evaluate(model, loader, device, world):
    """Loss (mean cross-entropy) and accuracy over the whole validation split."""
    model.eval()
    loss_sum = correct = count = 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += float((logits.argmax(1) == y).sum())
            count += len(y)
    loss_sum, correct, count = all_sum([loss_sum, correct, count], device, world)
    return (loss_sum / count, correct / count) if count > 0 else (math.nan, math.nan)


class ShardSampler(torch.utils.data.Sampler):
    """Every rank a disjoint part of the validation images, none twice (DistributedSampler pads)."""

    def __init__(self, n, world, rank):
        self.indices = list(range(rank, n, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def make_optimizer(params, opt, lrs):
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    kind = opt["kind"]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=opt["lr"], momentum=opt["momentum"], nesterov=opt["nesterov"],
                               weight_decay=opt["weight_decay"])
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(groups, lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["epsilon"],
               weight_decay=opt["weight_decay"])


def recipe_digest(folder, recipe):
    h = hashlib.sha256()
    for name in ("spec.json", recipe["manifest"], recipe["model"]):
        with open(os.path.join(folder, name), "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def export(folder, recipe, spec_text, spec, state, output, accuracy, world, device):
    model = onnx.load(os.path.join(folder, recipe["model"]))
    for init in model.graph.initializer:
        if init.name in state:
            array = state[init.name].numpy().astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[init.data_type])
            init.CopyFrom(onnx.numpy_helper.from_array(array, init.name))
    meta = {p.key: p.value for p in model.metadata_props}
    meta["graft.labels"] = json.dumps(recipe["classes"], ensure_ascii=False)
    meta["graft.preprocessing"] = json.dumps(spec["preprocessing"])
    meta["graft.recipe"] = spec_text
    meta["graft.version"] = recipe.get("graft_version", "")
    meta["graft.trained_with"] = "PyTorch %s, %d %s process%s (recipe/train.py)" % (
        torch.__version__, world, device.type, "" if world == 1 else "es")
    if accuracy is not None and math.isfinite(accuracy):
        meta["graft.validation_accuracy"] = "%.4f" % accuracy
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    model.producer_name = "graft-recipe"
    tmp = "%s.tmp.%d" % (output, os.getpid())
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, output)


def main(argv=None):
    args = parse_args(argv)
    folder = os.path.abspath(args.recipe)
    with open(os.path.join(folder, "graft-recipe.json"), encoding="utf-8") as f:
        recipe = json.load(f)
    with open(os.path.join(folder, "spec.json"), encoding="utf-8") as f:
        spec_text = f.read()
    spec_json = json.loads(spec_text)
    if args.epochs:
        spec_json["epochs"] = args.epochs
        spec_text = json.dumps(spec_json, indent=2)
    blocks = recipe["blocks"]
    spec = Spec(spec_json, blocks)
    world, rank, device = setup_distributed(args.device)
    output = args.output or os.path.join(folder, recipe.get("output", "model.onnx"))
    checkpoint_path = os.path.join(folder, "checkpoint.pt")
    seed = int(spec_json["seed"])
    torch.manual_seed(seed)

    # The model, with Graft's trainable parameters as nn.Parameters.
    onnx_model = onnx.load(os.path.join(folder, recipe["model"]))
    parameter_names = {name for b in blocks for name in b["parameters"]}
    net = OnnxModule(onnx_model, parameter_names).to(device)
    params = dict(net.onnx_parameters())
    block_of = {}
    for b, block in enumerate(blocks):
        for name in block["parameters"]:
            block_of.setdefault(name, b)
    bn_block = {name: b for b, block in enumerate(blocks) for name in block["batchnorm"]}
    overrides = spec_json.get("parameter_overrides", {})
    classes = recipe["classes"]
    prep = spec_json["preprocessing"]
    aug = None if args.no_augmentation else spec_json["augmentation"]

    rows = read_manifest(folder, recipe, args.data_root, args.verify)
    train_set = ManifestDataset(rows["train"], classes, prep, aug, seed)
    val_set = ManifestDataset(rows.get("validation", []), classes, prep, None, seed)
    batch = spec_json["batch_size"]
    per_rank = max(1, -(-batch // world))
    workers = args.workers if args.workers is not None else (
        min(4, max(0, (os.cpu_count() or 1) // world - 1)) if device.type == "cpu" else 4)
    train_loader = loader_for(train_set, per_rank, not args.no_shuffle, seed, world, rank, workers)
    val_loader = None
    if len(val_set) > 0:
        val_loader = torch.utils.data.DataLoader(val_set, batch_size=per_rank,
                                                 sampler=ShardSampler(len(val_set), world, rank),
                                                 num_workers=workers, persistent_workers=workers > 0)
    steps = len(train_loader)

    # Class weights: inverse frequency over the training images (the trainer's).
    weights = None
    if spec_json.get("balanced_class_weights"):
        counts = [0] * len(classes)
        for _, label in rows["train"]:
            counts[classes.index(label)] += 1
        n = len(rows["train"])
        weights = torch.tensor([n / (len(classes) * c) if c > 0 else 0.0 for c in counts], device=device)
    smoothing = spec_json.get("label_smoothing", 0.0)

    ordered = [p for _, p in net.onnx_parameters()]
    names = [n for n, _ in net.onnx_parameters()]
    multipliers = [spec.block_lr_multiplier(block_of.get(n, spec.n_blocks)) for n in names]
    optimizer = make_optimizer(ordered, spec_json["optimizer"], [spec_json["optimizer"]["lr"] * m for m in multipliers])
    max_norm = spec_json["optimizer"].get("max_grad_norm", 0.0)

    start_epoch, global_step = 0, 0
    best_state, best_accuracy, best_loss, without_improvement = None, -1.0, math.inf, 0
    best_epoch = None
    keep_lines = None
    digest = recipe_digest(folder, recipe)
    if args.resume and os.path.exists(checkpoint_path):
        ck = torch.load(checkpoint_path, map_location="cpu")
        if ck.get("digest") != digest or ck.get("world") != world:
            raise SystemExit("%s was made for another recipe or another number of processes (%s); "
                             "remove it to start again" % (checkpoint_path, ck.get("world")))
        net.load_onnx_state(ck["state"])
        optimizer.load_state_dict(ck["optimizer"])
        start_epoch, global_step = ck["epoch"] + 1, ck["global_step"]
        best_state, best_accuracy, best_loss = ck["best_state"], ck["best_accuracy"], ck["best_loss"]
        without_improvement, keep_lines = ck["without_improvement"], ck["event_lines"]
        best_epoch = ck.get("best_epoch")
        spec_json["epochs"] = args.epochs or ck["epochs"]
        spec.epochs = spec_json["epochs"]
    events = Events(os.path.join(folder, "events.jsonl"), rank == 0, keep_lines)
    events.echo = not args.quiet
    def log(message):
        events.emit("log", message=message)

    if start_epoch > 0:
        log("Resumed after epoch %d of %d from %s" % (start_epoch, spec.epochs, checkpoint_path))
    log("PyTorch %s, %d process%s on %s (%s), %d training and %d validation images, %d steps per epoch" % (
        torch.__version__, world, "" if world == 1 else "es", device.type, dist.get_backend() if world > 1 else "no backend",
        len(train_set), len(val_set), steps))

    def apply_stage(epoch):
        trainable = set()
        for name in names:
            b = block_of.get(name, spec.n_blocks)
            t = spec.block_trains(epoch, b)
            o = overrides.get(name)
            if o is not None:
                t = o == "trainable"
            params[name].requires_grad_(t)
            if t:
                trainable.add(name)
        net.batch_statistics = {
            name for name, b in bn_block.items()
            if spec.block_trains(epoch, b) or (b < spec.n_blocks and spec.block_batchnorm(b) == "batch-statistics")}
        return trainable

    # BatchNorm recalibration: one pass over the training images, the blocks that ask
    # for it (and the head) normalising with the batch; nothing trains.
    if start_epoch == 0 and any(spec.block_batchnorm(b) == "recalibrate" for b in range(spec.n_blocks)):
        log("Recalibrating BatchNorm statistics on the training images")
        net.train()
        net.batch_statistics = {name for name, b in bn_block.items()
                                if b == spec.n_blocks or spec.block_batchnorm(b) == "recalibrate"}
        set_epoch(train_loader, train_set, 0, seed)
        with torch.no_grad():
            for x, _ in train_loader:
                net(x.to(device))
        if world > 1:
            for _, buf in net.onnx_buffers():
                dist.all_reduce(buf)
                buf /= world

    last_good = net.onnx_state()
    started = time.time()
    total_steps = steps * (spec.epochs - start_epoch)
    done_steps = 0
    stage_now = -1
    ddp = None
    epochs_completed = start_epoch
    status = 0
    interrupted = False
    for epoch in range(start_epoch, spec.epochs):
        s = spec.stage_index(epoch)
        if s != stage_now:
            stage_now = s
            apply_stage(epoch)
            # DDP's reducer is made for one trainable set: a new stage, a new wrapper
            # (the old one's gradient hooks go with it).
            if ddp is not net:
                ddp = None
                gc.collect()
            if world > 1 and any(p.requires_grad for p in ordered):
                ddp = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                                          broadcast_buffers=False)
            else:
                ddp = net
            events.emit("stage", stage=s + 1, epoch=epoch + 1, trainable_from=spec.stages[s]["trainable_from"],
                        blocks=spec.n_blocks)
        net.train()
        set_epoch(train_loader, train_set, epoch, seed)
        epoch_start = time.time()
        loss_total = correct_total = count_total = 0.0
        images = 0
        for step, (x, y) in enumerate(train_loader):
            x, y = x.to(device), y.to(device)
            lr = spec.lr_at(epoch, step, steps)
            for group, m in zip(optimizer.param_groups, multipliers):
                group["lr"] = lr * m
            logits = ddp(x)
            per_item = F.cross_entropy(logits, y, weight=weights, label_smoothing=smoothing, reduction="none")
            item_weights = weights[y] if weights is not None else torch.ones_like(per_item)
            local = [float(per_item.detach().sum()), float(item_weights.sum()),
                     float((logits.detach().argmax(1) == y).sum()), float(len(y))]
            loss_sum, weight_sum, correct, count = all_sum(local, device, world)
            # The weighted mean over the global batch, as one Graft batch: DDP averages
            # the ranks' gradients, so each rank's share is scaled by the world size.
            loss = per_item.sum() * (world / weight_sum)
            step_loss = loss_sum / weight_sum
            optimizer.zero_grad(set_to_none=True)
            if not math.isfinite(step_loss) or step_loss > 1000 * math.log(len(classes)):
                net.load_onnx_state(last_good)
                message = ("Training diverged at epoch %d, step %d: the loss exploded. The learning rate (%g) is "
                           "probably too high. The weights of the last good epoch were restored." %
                           (epoch + 1, step + 1, lr))
                print("train.py: " + message, file=sys.stderr)
                events.emit("error", message=message, exit_status=3)
                status = 3
                break
            loss.backward()
            if max_norm > 0:
                torch.nn.utils.clip_grad_norm_([p for p in ordered if p.grad is not None], max_norm)
            optimizer.step()
            global_step += 1
            done_steps += 1
            loss_total += step_loss * count
            correct_total += correct
            count_total += count
            images += int(count)
            elapsed = time.time() - epoch_start
            run_elapsed = time.time() - started
            events.emit("step", epoch=epoch + 1, epochs=spec.epochs, step=step + 1, steps=steps, stage=s + 1,
                        loss=step_loss, lr=lr, images_per_second=images / elapsed if elapsed > 0 else 0.0,
                        eta_seconds=run_elapsed / done_steps * (total_steps - done_steps))
            if args.max_steps is not None and global_step >= args.max_steps:
                interrupted = True
                break
        if status != 0 or interrupted:
            break
        # Each rank's BatchNorms updated their running statistics with its own images:
        # the average of the ranks' is the model every rank validates and rank 0 saves.
        if world > 1:
            with torch.no_grad():
                for _, buf in net.onnx_buffers():
                    dist.all_reduce(buf)
                    buf /= world
        last_good = net.onnx_state()
        seconds = time.time() - epoch_start
        val_loss = val_acc = math.nan
        best = True
        if val_loader is not None:
            val_loss, val_acc = evaluate(net, val_loader, device, world)
            best = val_acc > best_accuracy or (val_acc == best_accuracy and val_loss < best_loss)
            if best:
                best_accuracy, best_loss = val_acc, val_loss
                best_state = net.onnx_state()
                best_epoch = epoch + 1
                without_improvement = 0
            else:
                without_improvement += 1
        epochs_completed = epoch + 1
        events.emit("epoch", epoch=epoch + 1, epochs=spec.epochs, stage=s + 1,
                    train_loss=loss_total / count_total if count_total else math.nan,
                    train_accuracy=correct_total / count_total if count_total else math.nan,
                    validation_loss=val_loss, validation_accuracy=val_acc, seconds=seconds,
                    images_per_second=images / seconds if seconds > 0 else 0.0, best=best)
        if rank == 0:
            ck = {"digest": digest, "world": world, "epoch": epoch, "epochs": spec.epochs, "global_step": global_step,
                  "state": last_good, "optimizer": optimizer.state_dict(), "best_state": best_state,
                  "best_accuracy": best_accuracy, "best_loss": best_loss, "best_epoch": best_epoch,
                  "without_improvement": without_improvement, "event_lines": events.lines()}
            tmp = checkpoint_path + ".tmp"
            torch.save(ck, tmp)
            os.replace(tmp, checkpoint_path)
        if spec_json.get("early_stopping_patience", 0) > 0 and without_improvement >= spec_json["early_stopping_patience"]:
            log("Stopped early: no improvement on the validation images for %d epoch%s" %
                (without_improvement, "" if without_improvement == 1 else "s"))
            break

    if status == 0:
        final = best_state if best_state is not None else net.onnx_state()
        if rank == 0:
            export(folder, recipe, spec_text, spec_json, final, output, best_accuracy if best_state else None,
                   world, device)
        events.emit("done", output=output,
                    validation_accuracy=best_accuracy if best_state is not None else math.nan,
                    validation_loss=best_loss if best_state is not None else math.nan,
                    best_epoch=best_epoch if best_state is not None else (epochs_completed or None),
                    epochs_completed=epochs_completed, interrupted=interrupted,
                    seconds=time.time() - started, processes=world)
    if world > 1:
        # Every rank is done with the others; tearing gloo down after a peer has gone
        # can hang (seen once in about twenty 2-process runs here), so leave at once:
        # rank 0 has written and synced what it writes.
        sys.stdout.flush()
        sys.stderr.flush()
        dist.barrier()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
