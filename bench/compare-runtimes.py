#!/usr/bin/python3
"""Graft (per engine backend) against ONNX Runtime and PyTorch, side by side on this machine, in one run.

    /usr/bin/python3 bench/compare-runtimes.py [--quick] [--batch 16] [--size 224] [--threads 2]
        [--repeats 5] [--rounds 3]
        [--models mobilenet_v2,resnet18,efficientnet_b0,convnext_tiny,vit_b_16]
        [--backends portable,onednn] [--graft-cli build/src/cli/graft-cli]
        [--variant NAME=PATH[@LIBDIR][+PRECISION]]... [--workdir DIR] [--json OUT.json]

Needs Debian's python3-torch and python3-torchvision (run it with /usr/bin/python3),
node with onnxruntime-node under tests/ort/ (tests/ort/install.sh), and a built
graft-cli. bench/README.md shows the command and how to read its table.

What it does:
 1. Exports each torchvision model with random weights (seeded) to ONNX at opset 14,
    batch dynamic ('N'), twice: "-bn.onnx" with BatchNormalization kept
    (training=PRESERVE, do_constant_folding=False; what Graft trains) and
    "-folded.onnx", torch's default eval export with BN folded into Conv (what
    ONNX Runtime would run for inference). The weights are also saved for torch.
    The transformers (convnext_tiny, vit_b_16: issue 17) have no BatchNorm and are
    timed forward only, so they get only the "-folded.onnx" (torch's eval export,
    LayerNorm as the ReduceMean chain that opset 14 has).
 2. Asks graft-cli which engine backends it has: each of --backends is probed with
    GRAFT_ENGINE_BACKEND=NAME (`graft-cli bench --json` names the backend that ran;
    a build without oneDNN, or one older than the backends, says so and its column
    reads "no build"). OPENBLAS_VERBOSE=2 on the probe names OpenBLAS's core.
 3. Times, in rounds, interleaving the runtimes (the order rotates every round, so
    the noise of a shared machine falls on all of them):
      forward  Graft `graft-cli bench --mode forward` on the folded file per backend,
               PyTorch eval() under no_grad, ONNX Runtime (bench/ort-bench.js) on the
               folded file; and Graft's forward on the -bn file (fwd-bn), the
               reference of the head-only goal;
      train    Graft `--mode train` on the -bn file; PyTorch the same step as Graft's
               bench: every parameter trainable, BatchNorm with batch statistics,
               cross-entropy on random labels, AdamW (lr 1e-4, betas 0.9/0.999,
               eps 1e-8, weight decay 1e-2), dropout and stochastic depth off (the
               exported graph has none);
      head     Graft `--mode head` on the -bn file (only the last layer with
               parameters trains, BN in inference mode); PyTorch the same: every
               parameter frozen but the classifier's last Linear, eval() mode,
               forward + backward + AdamW step.
    Every measurement runs in a fresh process (a warm-up run, then --repeats timed
    runs, median), so each process's peak resident set (ru_maxrss, the RSS high-water
    mark) is its peak memory (the script itself never imports torch and stays near
    10 MiB: on Linux a child's ru_maxrss starts from its parent's peak). A figure in
    the table is the median over the rounds.
 4. Prints the table (images/s per runtime, ratios to ONNX Runtime and PyTorch, peak
    memory), the portable backend against the issue's starting figures and against
    the variants, and the goals of issues 12 and 17 with pass/fail.

--quick is a short check: one round, two timed runs per process, MobileNetV2 only
(unless --models, --rounds or --repeats say otherwise).

--variant adds other builds of graft-cli to the same rounds (forward and train only, with
the portable backend), interleaved with the rest, so that a change is measured side by
side with what it changes: NAME=PATH, or NAME=PATH@LIBDIR to run it with
LD_LIBRARY_PATH=LIBDIR (which overrides the run path: e.g. an OpenBLAS build other than
the one it was linked to). A +PRECISION suffix (+bf16, +fp32) runs that variant with
graft-cli bench --precision PRECISION, e.g. --variant bf16=build/src/cli/graft-cli+bf16
--variant-backend onednn times bf16 mixed precision against the same build's fp32. The table
then has a row per variant, with the ratio of graft-cli (the build under test) to it.
The header says which CPU (model and vector flags), OpenBLAS (configuration, core,
threading), engine kernels and backends ran, and the thread settings.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("mobilenet_v2", "resnet18", "efficientnet_b0", "convnext_tiny", "vit_b_16")
# Issue 17's transformers: forward only (Graft per backend, ONNX Runtime, PyTorch), goal >= 1.0x ORT.
FORWARD_ONLY = ("convnext_tiny", "vit_b_16")
MODES = ("forward", "train", "head")
BACKENDS = ("portable", "onednn")
BACKEND_TITLES = {"portable": "portable", "onednn": "oneDNN"}
# Training step goals of issue 12 (BatchNorm kept): Graft images/s >= factor x PyTorch's.
TRAIN_GOALS = {"mobilenet_v2": 2.0, "efficientnet_b0": 2.0, "resnet18": 1.4}
HEAD_GOAL = 1.2  # head-only step time within 1.2x of Graft's own forward time
# Issue 12's starting figures (images/s; another machine: an idle 2-core AVX-512 Xeon),
# and the goal for the portable backend against them.
ISSUE_START = {("mobilenet_v2", "forward"): 66, ("resnet18", "forward"): 43, ("efficientnet_b0", "forward"): 50,
               ("mobilenet_v2", "train"): 16.4, ("resnet18", "train"): 11.2, ("efficientnet_b0", "train"): 10.1}
PORTABLE_GOAL = 1.5


# ---------------------------------------------------------------------------------------
# The PyTorch worker: one measurement per process.


def torch_model(name, workdir):
    import torch
    import torchvision
    model = getattr(torchvision.models, name)(weights=None)
    model.load_state_dict(torch.load(os.path.join(workdir, name + ".pt")))
    return model


def last_linear(model):
    import torch
    linear = None
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            linear = module
    return linear


def torch_worker(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torch_model(args.worker_model, args.workdir)
    images = torch.rand(args.batch, 3, args.size, args.size) * 2 - 1
    labels = torch.randint(0, 1000, (args.batch,))
    loss_fn = torch.nn.CrossEntropyLoss()
    mode = args.worker_mode

    if mode == "forward":
        model.eval()

        def step():
            with torch.no_grad():
                model(images)
    elif mode == "train":
        model.train()
        for module in model.modules():  # no dropout, no stochastic depth: Graft's graph has none
            if isinstance(module, torch.nn.Dropout) or type(module).__name__ == "StochasticDepth":
                module.eval()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                                      weight_decay=1e-2)

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(images), labels).backward()
            optimizer.step()
    else:  # head
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        head = last_linear(model)
        for p in head.parameters():
            p.requires_grad_(True)
        optimizer = torch.optim.AdamW(head.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                                      weight_decay=1e-2)

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(images), labels).backward()
            optimizer.step()

    step()  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    ms = statistics.median(times)
    print(json.dumps({
        "runtime": "torch " + torch.__version__, "model": args.worker_model, "mode": mode,
        "ms_per_batch": ms, "images_per_second": args.batch / (ms / 1e3), "times_ms": times,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": torch.get_num_threads(),
    }))


# ---------------------------------------------------------------------------------------
# Export


def export_models(args):
    import torch
    import torchvision
    torch.set_num_threads(args.threads)
    dynamic = {"input": {0: "N"}, "logits": {0: "N"}}
    for index, name in enumerate(args.models):
        forward_only = name in FORWARD_ONLY
        paths = [os.path.join(args.workdir, name + s) for s in (".pt", "-bn.onnx", "-folded.onnx")]
        if forward_only:
            paths[1] = None
        paths_present = [p for p in paths if p is not None]
        if all(os.path.exists(p) for p in paths_present) and not args.reexport:
            print(f"  {name}: using the files in {args.workdir}", flush=True)
            continue
        torch.manual_seed(1000 + index)
        model = getattr(torchvision.models, name)(weights=None).eval()
        # Non-trivial BN statistics, so that folded and unfolded graphs really differ.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        torch.save(model.state_dict(), paths[0])
        x = torch.rand(1, 3, args.size, args.size)
        if not forward_only:
            torch.onnx.export(model, x, paths[1], opset_version=14, input_names=["input"],
                              output_names=["logits"], dynamic_axes=dynamic,
                              training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        torch.onnx.export(model, x, paths[2], opset_version=14, input_names=["input"],
                          output_names=["logits"], dynamic_axes=dynamic)
        print(f"  {name}: exported", flush=True)


# ---------------------------------------------------------------------------------------
# Runners: each returns the parsed JSON of one process, or {"error": ...}.


def run_json(command, env=None, echo=False):
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    except subprocess.TimeoutExpired:
        return {"error": "timed out: " + " ".join(command)}
    if echo:
        print("".join(line + "\n" for line in done.stdout.splitlines() if not line.startswith("{")), end="",
              flush=True)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-400:]}"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": "no JSON in the output: " + done.stdout[-400:]}
    return json.loads(lines[-1])


def thread_env(args, backend=None):
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = str(args.threads)
    env["OMP_WAIT_POLICY"] = "passive"
    if backend is not None:
        env["GRAFT_ENGINE_BACKEND"] = backend
    return env


def run_graft(args, model_file, mode, backend="portable", variant=None, batch=None, repeats=None, extra_env=None):
    cli, libdir, precision = variant[1:] if variant else (args.graft_cli, None, None)
    env = thread_env(args, backend)
    if libdir:
        env["LD_LIBRARY_PATH"] = libdir
    env.update(extra_env or {})
    return run_json([cli, "bench", model_file, "--batch", str(batch or args.batch), "--size", str(args.size),
                     "--threads", str(args.threads), "--mode", mode, "--repeats", str(repeats or args.repeats),
                     "--json"] + (["--precision", precision] if precision else []), env=env)


def reported_backend(result):
    """The backend a graft-cli bench --json result says it ran, or None when it does not say."""
    for key in ("backend", "engine_backend"):
        if isinstance(result.get(key), str):
            return result[key]
    return None


def probe_backend(args, model_file, backend):
    """Runs graft-cli once (batch 1) under GRAFT_ENGINE_BACKEND=backend: (available, what, result)."""
    result = run_graft(args, model_file, "forward", backend, batch=1, repeats=1, extra_env={"OPENBLAS_VERBOSE": "2"})
    if "error" in result:
        if "not available" in result["error"]:   # graft-cli: "the oneDNN backend is not available (...)"
            return False, f"no build: {result['error'].split(': ', 1)[-1]}", result
        return False, f"graft-cli failed under GRAFT_ENGINE_BACKEND={backend}: {result['error']}", result
    ran = reported_backend(result)
    if ran is None:
        if backend == "portable":
            return True, "portable (this graft-cli names no backend: it has only its own kernels)", result
        return False, "no build: this graft-cli has no backend selection ('graft-cli bench --json' names none)", result
    if ran.lower().replace("-", "").startswith(backend):
        return True, ran, result
    return False, f"no build: GRAFT_ENGINE_BACKEND={backend} ran '{ran}' (graft-cli built without it)", result


def openblas_core(output):
    """The 'Core: NAME' line that OPENBLAS_VERBOSE=2 prints, or None."""
    for line in output.splitlines():
        if line.startswith("Core:"):
            return line.split(":", 1)[1].strip()
    return None


def parse_variant(text):
    name, _, rest = text.partition("=")
    precision = None
    head, plus, tail = rest.rpartition("+")
    if plus and tail in PRECISIONS:
        rest, precision = head, tail
    path, _, libdir = rest.partition("@")
    if not name or not path or name in ("graft", "graft-bn", "torch", "ort") + BACKENDS:
        raise argparse.ArgumentTypeError(f"{text}: give NAME=PATH, NAME=PATH@LIBDIR, and +bf16 or +fp32 after either "
                                         f"(NAME not graft, torch, ort or a backend)")
    return (name, path, libdir or None, precision)


PRECISIONS = ("fp32", "bf16")   # graft-cli bench --precision


def cpu_summary():
    """The CPU's model name, the vector flags that matter here, and yes/no for the issue's four."""
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "?":
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
              "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve")
    summary = ", ".join(f"{label} {'yes' if ok else 'no'}" for label, ok in (
        ("AVX2", "avx2" in flags), ("AVX-512", "avx512f" in flags), ("AVX512_BF16", "avx512_bf16" in flags),
        ("AMX", "amx_tile" in flags)))
    return model, " ".join(f for f in wanted if f in flags), summary


def run_torch(args, name, mode):
    return run_json([sys.executable, os.path.abspath(__file__), "--torch-worker", name, mode,
                     "--batch", str(args.batch), "--size", str(args.size), "--threads", str(args.threads),
                     "--repeats", str(args.repeats), "--workdir", args.workdir], env=thread_env(args))


def run_ort(args, model_file):
    return run_json(["node", os.path.join(ROOT, "bench", "ort-bench.js"), model_file, "--batch", str(args.batch),
                     "--size", str(args.size), "--threads", str(args.threads), "--repeats", str(args.repeats)],
                    env=thread_env(args))


def torch_setup():
    """What PyTorch runs with: version, threads, its oneDNN, BLAS and CPU capability."""
    import torch
    config = torch.__config__.show()
    parts = [f"threads {torch.get_num_threads()}"]
    for line in config.splitlines():
        line = line.strip(" -")
        if line.startswith(("Intel(R) MKL-DNN", "Intel(R) oneDNN", "CPU capability usage")):
            parts.append(line)
        for key in ("BLAS_INFO=",):
            if key in line:
                parts.append(key + line.split(key, 1)[1].split(",", 1)[0])
    return {"torch": torch.__version__, "setup": "; ".join(parts)}


# ---------------------------------------------------------------------------------------
# The table


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def summarise(results):
    """results: list of dicts -> (median images/s, median peak MiB, errors)."""
    ok = [r for r in results if "error" not in r]
    errors = [r["error"] for r in results if "error" in r]
    if not ok:
        return None, None, errors
    return (statistics.median(r["images_per_second"] for r in ok),
            statistics.median(r["peak_rss_mib"] for r in ok), errors)


def fmt(value, spec="8.1f", missing="-"):
    width = spec.split(".")[0].rstrip("f") or "0"
    return format(missing, f">{width}") if value is None else format(value, spec)


def ratio(a, b):
    return a / b if a and b else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short check: 1 round, 2 timed runs, MobileNetV2 (unless given otherwise)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, help="timed runs per process, after one warm-up (default 5)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds; the table shows their median (default 3)")
    parser.add_argument("--models", help="default: " + ",".join(MODELS))
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="Graft's engine backends to time, through GRAFT_ENGINE_BACKEND")
    parser.add_argument("--graft-cli", default=os.path.join(ROOT, "build", "src", "cli", "graft-cli"))
    parser.add_argument("--variant", action="append", type=parse_variant, default=[],
                        help="another graft-cli, NAME=PATH[@LIBDIR][+PRECISION], timed in the same rounds "
                             "(forward, train)")
    parser.add_argument("--variant-backend", choices=BACKENDS, default="portable",
                        help="the backend the variants run, compared with graft-cli's same backend (default portable)")
    parser.add_argument("--workdir", default="/tmp/graft-compare-runtimes")
    parser.add_argument("--reexport", action="store_true", help="export the models again even if present")
    parser.add_argument("--json", help="also write every measurement to this file")
    parser.add_argument("--torch-worker", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--export-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.models is None:
        args.models = "mobilenet_v2" if args.quick else ",".join(MODELS)

    if args.export_worker:
        os.makedirs(args.workdir, exist_ok=True)
        args.models = [m for m in args.models.split(",") if m]
        export_models(args)
        print(json.dumps(torch_setup()))
        return

    if args.torch_worker:
        args.worker_model, args.worker_mode = args.torch_worker
        torch_worker(args)
        return
    args.models = [m for m in args.models.split(",") if m]
    for m in args.models:
        if m not in MODELS:
            parser.error(f"--models: {m} is not one of {', '.join(MODELS)}")
    args.backends = [b for b in args.backends.split(",") if b]
    for b in args.backends:
        if b not in BACKENDS:
            parser.error(f"--backends: {b} is not one of {', '.join(BACKENDS)}")
    if args.repeats < 1 or args.rounds < 1:
        parser.error("--repeats and --rounds must be at least 1")
    for path in [args.graft_cli] + [v[1] for v in args.variant]:
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not an executable: build Graft first (or give --graft-cli)")
    os.makedirs(args.workdir, exist_ok=True)

    # The parent never imports torch: on Linux a child's ru_maxrss starts from its
    # parent's peak at fork/exec, so the parent must stay small (about 10 MiB).
    load_start = loadavg()
    started = time.time()
    print(f"compare-runtimes: batch {args.batch}, {args.size}x{args.size}, {args.threads} threads, "
          f"{args.repeats} timed runs per process after 1 warm-up, {args.rounds} round(s); "
          f"{os.cpu_count()} CPUs; load average at start {load_start}", flush=True)
    cpu_model, flags, flag_summary = cpu_summary()
    print(f"CPU: {cpu_model}; {flag_summary}; flags: {flags}", flush=True)
    print("threads: OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS="
          f"{args.threads}, OMP_WAIT_POLICY=passive; torch.set_num_threads({args.threads}); "
          f"ONNX Runtime intraOpNumThreads={args.threads}, interOpNumThreads=1, sequential", flush=True)
    print("exporting (random weights, opset 14, dynamic batch):", flush=True)
    exported = run_json([sys.executable, os.path.abspath(__file__), "--export-worker", "--models",
                         ",".join(args.models), "--size", str(args.size), "--threads", str(args.threads),
                         "--workdir", args.workdir] + (["--reexport"] if args.reexport else []),
                        env=thread_env(args), echo=True)
    if "error" in exported:
        sys.exit("compare-runtimes: the export failed: " + exported["error"])
    torch_version = exported["torch"]
    print(f"PyTorch {torch_version}: {exported.get('setup', '?')}", flush=True)

    # Which backends this graft-cli has, and what each runs with.
    probe_file = os.path.join(args.workdir, args.models[0] + "-folded.onnx")
    available, backend_notes = [], {}
    for b in args.backends:
        ok, what, probe = probe_backend(args, probe_file, b)
        backend_notes[b] = what
        if ok:
            available.append(b)
        details = ""
        if ok and "error" not in probe:
            details = (f"; {probe.get('threads', '?')} threads, OMP_WAIT_POLICY={probe.get('omp_wait_policy', '?')}; "
                       f"kernels {probe.get('simd', '?')}; OpenBLAS {probe.get('openblas', '?')}")
        print(f"Graft backend {BACKEND_TITLES[b]}: {what}{details}", flush=True)
    for v in [("graft", args.graft_cli, None, None)] + args.variant:
        core = openblas_core(subprocess.run(
            [v[1], "bench", probe_file, "--batch", "1", "--repeats", "1", "--threads", str(args.threads)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(thread_env(args, "portable"), OPENBLAS_VERBOSE="2",
                     **({"LD_LIBRARY_PATH": v[2]} if v[2] else {}))).stdout)
        print(f"OpenBLAS core (OPENBLAS_VERBOSE=2) of {v[0]} ({v[1]}): {core or '?'}", flush=True)
    if not available:
        sys.exit("compare-runtimes: graft-cli runs none of the backends asked for")

    # (model, mode, runtime) -> list of results. Runtimes: each backend; "bn:" + backend is
    # Graft's forward on the -bn file; "torch", "ort"; each variant's name.
    results = {}
    ort_version = None
    variant_backend = args.variant_backend
    if args.variant and variant_backend not in available:
        sys.exit(f"compare-runtimes: --variant-backend {variant_backend}: graft-cli has no such backend here")
    for r in range(args.rounds):
        for name in args.models:
            bn = os.path.join(args.workdir, name + "-bn.onnx")
            folded = os.path.join(args.workdir, name + "-folded.onnx")
            jobs = []
            for b in available:
                jobs += [(("forward", b), lambda b=b: run_graft(args, folded, "forward", b))]
                if name not in FORWARD_ONLY:
                    jobs += [(("forward", "bn:" + b), lambda b=b: run_graft(args, bn, "forward", b)),
                             (("train", b), lambda b=b: run_graft(args, bn, "train", b)),
                             (("head", b), lambda b=b: run_graft(args, bn, "head", b))]
            jobs += [(("forward", "torch"), lambda: run_torch(args, name, "forward")),
                     (("forward", "ort"), lambda: run_ort(args, folded))]
            if name not in FORWARD_ONLY:
                jobs += [(("train", "torch"), lambda: run_torch(args, name, "train")),
                         (("head", "torch"), lambda: run_torch(args, name, "head"))]
            for v in args.variant:
                # A variant runs the backend under test, so that its rows compare like with like
                # (the portable backend unless only oneDNN is asked for).
                jobs += [(("forward", v[0]), lambda v=v: run_graft(args, folded, "forward", variant_backend, v))]
                if name not in FORWARD_ONLY:
                    jobs += [(("train", v[0]), lambda v=v: run_graft(args, bn, "train", variant_backend, v))]
            # Within a mode the runtimes alternate; the order rotates with the round.
            by_mode = {}
            for key, job in jobs:
                by_mode.setdefault(key[0], []).append((key, job))
            for mode, mode_jobs in by_mode.items():
                shift = r % len(mode_jobs)
                for key, job in mode_jobs[shift:] + mode_jobs[:shift]:
                    result = job()
                    results.setdefault((name, key[0], key[1]), []).append(result)
                    if key[1] == "ort" and "version" in result:
                        ort_version = result["version"]
                    what = result.get("error") or f"{result['images_per_second']:.1f} images/s, " \
                                                  f"{result['peak_rss_mib']:.0f} MiB"
                    print(f"  round {r + 1} {name:16s} {key[0]:8s} {key[1]:12s} {what}", flush=True)
    load_end = loadavg()
    minutes = (time.time() - started) / 60

    def fig(name, mode, runtime):
        return summarise(results.get((name, mode, runtime), []))[:2]

    errors = [f"{k[0]} {k[1]} {k[2]}: {e}" for k, v in results.items() for e in summarise(v)[2]]
    print()
    print(f"Graft ({', '.join(BACKEND_TITLES[b] for b in args.backends)}) vs ONNX Runtime "
          f"(onnxruntime-node {ort_version or '?'}) vs PyTorch {torch_version}, {args.size}x{args.size}, "
          f"batch {args.batch}, {args.threads} threads")
    print(f"CPU: {cpu_model}; {flag_summary}")
    print(f"images/s and peak RSS (MiB, each process's high-water mark) are medians of {args.rounds} round(s), "
          f"each the median of {args.repeats} runs; load average: start {load_start}, end {load_end}; "
          f"{minutes:.1f} minutes")
    for b in args.backends:
        if b not in available:
            print(f"Graft {BACKEND_TITLES[b]}: {backend_notes[b]}")
    cols = [b for b in args.backends]
    rows = [(mode, name) for mode in MODES for name in args.models if mode == "forward" or name not in FORWARD_ONLY]
    head = f"{'images/s':34s}" + "".join(f"{BACKEND_TITLES[b]:>9s}" for b in cols) + f"{'ORT':>9s}{'PyTorch':>9s}"
    head += "".join(f"{BACKEND_TITLES[b][:4] + '/ORT':>10s}{BACKEND_TITLES[b][:4] + '/Tch':>10s}" for b in cols)
    head += "   peak MiB: " + " ".join(f"{BACKEND_TITLES[b][:8]:>8s}" for b in cols) + f"{'ORT':>8s}{'PyTorch':>8s}"
    print(head)
    print("-" * len(head))
    titles = {"forward": "forward", "train": "train step (BN kept)", "head": "head-only step"}
    for mode, name in rows + [("fwd-bn", name) for name in args.models if name not in FORWARD_ONLY]:
        runtime_mode = "forward" if mode == "fwd-bn" else mode
        prefix = "bn:" if mode == "fwd-bn" else ""
        g = {b: fig(name, runtime_mode, prefix + b) if b in available else (None, None) for b in cols}
        o = fig(name, mode, "ort") if mode == "forward" else (None, None)
        t = fig(name, mode, "torch") if mode != "fwd-bn" else (None, None)
        line = f"{name + ' ' + titles.get(mode, 'forward, BN file'):34s}"
        line += "".join(fmt(g[b][0], "9.1f", "no build" if b not in available else "-") for b in cols)
        line += fmt(o[0], "9.1f") + fmt(t[0], "9.1f")
        line += "".join(fmt(ratio(g[b][0], o[0]), "10.2f") + fmt(ratio(g[b][0], t[0]), "10.2f") for b in cols)
        line += "             " + " ".join(fmt(g[b][1], "8.0f") for b in cols) + fmt(o[1], "8.0f") + fmt(t[1], "8.0f")
        print(line)

    if "portable" in available and any(name not in FORWARD_ONLY for name in args.models):
        print()
        print(f"portable backend against issue 12's starting figures (another machine; goal >= {PORTABLE_GOAL}x)"
              + (" and against the variants, side by side in these rounds:"
                 if args.variant and variant_backend == "portable" else ":"))
        for mode in ("forward", "train"):
            for name in args.models:
                if name in FORWARD_ONLY:
                    continue
                now = fig(name, mode, "portable")[0]
                start = ISSUE_START.get((name, mode))
                line = f"  {name + ' ' + titles[mode]:34s} {fmt(now, '7.1f')} images/s: " \
                       f"{fmt(ratio(now, start), '.2f')}x the issue's {start}"
                if variant_backend == "portable":
                    for v in args.variant:
                        then = fig(name, mode, v[0])[0]
                        line += f"; {fmt(ratio(now, then), '.2f')}x {v[0]} ({fmt(then, '.1f')})"
                print(line)
    if args.variant and (variant_backend != "portable" or any(name in FORWARD_ONLY for name in args.models)):
        print()
        print(f"{BACKEND_TITLES[variant_backend]} backend against the variants (run with the same backend), "
              "side by side in these rounds:")
        for mode in ("forward", "train"):
            for name in args.models:
                if (name in FORWARD_ONLY and mode != "forward") or \
                        (variant_backend == "portable" and name not in FORWARD_ONLY):
                    continue
                now = fig(name, mode, variant_backend)[0]
                line = f"  {name + ' ' + titles[mode]:34s} {fmt(now, '7.1f')} images/s"
                for v in args.variant:
                    then = fig(name, mode, v[0])[0]
                    line += f"; {fmt(ratio(now, then), '.2f')}x {v[0]} ({fmt(then, '.1f')})"
                print(line)

    goals = []
    for b in available:
        for name in args.models:
            def goal(text, ok, detail):
                goals.append(f"{'PASS' if ok else 'FAIL' if ok is not None else 'n/a '}  {BACKEND_TITLES[b]:8s} "
                             f"{name:16s} {text:40s} {detail}")

            g, o = fig(name, "forward", b)[0], fig(name, "forward", "ort")[0]
            goal("forward >= ONNX Runtime", None if not (g and o) else g >= o,
                 f"{fmt(g, '.1f')} vs {fmt(o, '.1f')} images/s ({fmt(ratio(g, o), '.2f')}x)")
            if name in FORWARD_ONLY:
                continue
            g, t = fig(name, "train", b)[0], fig(name, "train", "torch")[0]
            need = TRAIN_GOALS[name]
            goal(f"train step >= {need}x PyTorch", None if not (g and t) else g >= need * t,
                 f"{fmt(g, '.1f')} vs {fmt(t, '.1f')} images/s ({fmt(ratio(g, t), '.2f')}x)")
            h, f_bn, f_folded = fig(name, "head", b)[0], fig(name, "forward", "bn:" + b)[0], fig(name, "forward", b)[0]
            goal(f"head step time <= {HEAD_GOAL}x Graft forward", None if not (h and f_bn) else f_bn / h <= HEAD_GOAL,
                 f"{fmt(ratio(f_bn, h), '.2f')}x forward on the same (-bn) file; "
                 f"{fmt(ratio(f_folded, h), '.2f')}x forward on the folded file")
            gm, tm = fig(name, "train", b)[1], fig(name, "train", "torch")[1]
            goal("train step peak memory <= PyTorch", None if not (gm and tm) else gm <= tm,
                 f"{fmt(gm, '.0f')} vs {fmt(tm, '.0f')} MiB peak RSS")
            if b == "portable":
                for mode in ("forward", "train"):
                    now, start = fig(name, mode, b)[0], ISSUE_START[(name, mode)]
                    goal(f"{mode} >= {PORTABLE_GOAL}x the issue's {start}",
                         None if not now else now >= PORTABLE_GOAL * start,
                         f"{fmt(now, '.1f')} images/s ({fmt(ratio(now, start), '.2f')}x; figures from another machine)")
    print()
    print("goals (issue 12; issue 17 for " + ", ".join(FORWARD_ONLY) + "):")
    for line in goals:
        print("  " + line)
    if errors:
        print()
        print("errors:")
        for e in errors:
            print("  " + e)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_start": load_start, "load_end": load_end, "cpu": cpu_model, "cpu_flags": flags,
                       "backends": backend_notes, "args": {k: v for k, v in vars(args).items()},
                       "results": [{"model": k[0], "mode": k[1], "runtime": k[2], "runs": v}
                                   for k, v in results.items()]}, f, indent=1)


if __name__ == "__main__":
    main()
