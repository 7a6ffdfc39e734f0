#!/usr/bin/python3
"""Graft against PyTorch and ONNX Runtime, side by side on this machine, in one run.

    /usr/bin/python3 bench/compare-runtimes.py [--batch 16] [--size 224] [--threads 2]
        [--repeats 5] [--rounds 3] [--models mobilenet_v2,resnet18,efficientnet_b0]
        [--graft-cli build/src/cli/graft-cli] [--variant NAME=PATH[@LIBDIR]]...
        [--workdir DIR] [--json OUT.json]

Needs Debian's python3-torch and python3-torchvision (run it with /usr/bin/python3),
node with onnxruntime-node under tests/ort/ (tests/ort/install.sh), and a built
graft-cli.

What it does:
 1. Exports each torchvision model with random weights (seeded) to ONNX at opset 14,
    batch dynamic ('N'), twice: "-bn.onnx" with BatchNormalization kept
    (training=PRESERVE, do_constant_folding=False; what Graft trains) and
    "-folded.onnx", torch's default eval export with BN folded into Conv (what
    ONNX Runtime would run for inference). The weights are also saved for torch.
 2. Times, in rounds, interleaving the runtimes (the order rotates every round, so
    the noise of a shared machine falls on all of them):
      forward  Graft `graft-cli bench --mode forward` on the folded file (and on the
               -bn file, for the head-only goal), PyTorch eval() under no_grad,
               ONNX Runtime (bench/ort-bench.js) on the folded file;
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
    runs, median), so each process's peak resident set (ru_maxrss) is its peak
    memory (the script itself never imports torch and stays near 10 MiB: on Linux a
    child's ru_maxrss starts from its parent's peak). A figure in the table is the
    median over the rounds.
 3. Prints the table with ratios, and the goals of issue 12 with pass/fail.

--variant adds other builds of graft-cli to the same rounds (forward and train only),
interleaved with the rest, so that a change is measured side by side with what it
changes: NAME=PATH, or NAME=PATH@LIBDIR to run it with LD_LIBRARY_PATH=LIBDIR (which
overrides the run path: e.g. an OpenBLAS build other than the one it was linked to).
The table then has a row per variant, with its ratio to the first variant.
The header says which CPU (model and vector flags), OpenBLAS (configuration, core,
threading) and engine kernels ran, and the thread settings.
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
MODELS = ("mobilenet_v2", "resnet18", "efficientnet_b0")
MODES = ("forward", "train", "head")
# Training step goals of issue 12 (BatchNorm kept): Graft images/s >= factor x PyTorch's.
TRAIN_GOALS = {"mobilenet_v2": 2.0, "efficientnet_b0": 2.0, "resnet18": 1.4}
HEAD_GOAL = 1.2  # head-only step time within 1.2x of Graft's own forward time


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
        paths = [os.path.join(args.workdir, name + s) for s in (".pt", "-bn.onnx", "-folded.onnx")]
        if all(os.path.exists(p) for p in paths) and not args.reexport:
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


def thread_env(args):
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = str(args.threads)
    env["OMP_WAIT_POLICY"] = "passive"
    return env


def run_graft(args, model_file, mode, variant=None):
    cli, libdir = variant[1:] if variant else (args.graft_cli, None)
    env = thread_env(args)
    if libdir:
        env["LD_LIBRARY_PATH"] = libdir
    return run_json([cli, "bench", model_file, "--batch", str(args.batch), "--size", str(args.size),
                     "--threads", str(args.threads), "--mode", mode, "--repeats", str(args.repeats), "--json"],
                    env=env)


def parse_variant(text):
    name, _, rest = text.partition("=")
    path, _, libdir = rest.partition("@")
    if not name or not path or name in ("graft", "graft-bn", "torch", "ort"):
        raise argparse.ArgumentTypeError(f"{text}: give NAME=PATH or NAME=PATH@LIBDIR (NAME not graft, torch, ort)")
    return (name, path, libdir or None)


def cpu_summary():
    """The CPU's model name and the vector flags that matter here."""
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() in ("flags", "Features"):
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
              "amx_tile", "amx_bf16", "asimd", "sve")
    return model, " ".join(f for f in wanted if f in flags)


def run_torch(args, name, mode):
    return run_json([sys.executable, os.path.abspath(__file__), "--torch-worker", name, mode,
                     "--batch", str(args.batch), "--size", str(args.size), "--threads", str(args.threads),
                     "--repeats", str(args.repeats), "--workdir", args.workdir], env=thread_env(args))


def run_ort(args, model_file):
    return run_json(["node", os.path.join(ROOT, "bench", "ort-bench.js"), model_file, "--batch", str(args.batch),
                     "--size", str(args.size), "--threads", str(args.threads), "--repeats", str(args.repeats)],
                    env=thread_env(args))


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


def fmt(value, spec="8.1f", missing="       -"):
    return missing if value is None else format(value, spec)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per process, after one warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table shows their median")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--graft-cli", default=os.path.join(ROOT, "build", "src", "cli", "graft-cli"))
    parser.add_argument("--variant", action="append", type=parse_variant, default=[],
                        help="another graft-cli, NAME=PATH[@LIBDIR], timed in the same rounds (forward, train)")
    parser.add_argument("--workdir", default="/tmp/graft-compare-runtimes")
    parser.add_argument("--reexport", action="store_true", help="export the models again even if present")
    parser.add_argument("--json", help="also write every measurement to this file")
    parser.add_argument("--torch-worker", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--export-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.export_worker:
        import torch
        os.makedirs(args.workdir, exist_ok=True)
        args.models = [m for m in args.models.split(",") if m]
        export_models(args)
        print(json.dumps({"torch": torch.__version__}))
        return

    if args.torch_worker:
        args.worker_model, args.worker_mode = args.torch_worker
        torch_worker(args)
        return
    args.models = [m for m in args.models.split(",") if m]
    for m in args.models:
        if m not in MODELS:
            parser.error(f"--models: {m} is not one of {', '.join(MODELS)}")
    if not os.access(args.graft_cli, os.X_OK):
        parser.error(f"{args.graft_cli} is not an executable: build Graft first (or give --graft-cli)")
    os.makedirs(args.workdir, exist_ok=True)

    # The parent never imports torch: on Linux a child's ru_maxrss starts from its
    # parent's peak at fork/exec, so the parent must stay small (about 10 MiB).
    load_start = loadavg()
    started = time.time()
    print(f"compare-runtimes: batch {args.batch}, {args.size}x{args.size}, {args.threads} threads, "
          f"{args.repeats} timed runs per process after 1 warm-up, {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs; load average at start {load_start}", flush=True)
    model, flags = cpu_summary()
    print(f"CPU: {model}; flags: {flags}", flush=True)
    print("threads: OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS="
          f"{args.threads}, OMP_WAIT_POLICY=passive", flush=True)
    print("exporting (random weights, opset 14, dynamic batch):", flush=True)
    exported = run_json([sys.executable, os.path.abspath(__file__), "--export-worker", "--models",
                         ",".join(args.models), "--size", str(args.size), "--threads", str(args.threads),
                         "--workdir", args.workdir] + (["--reexport"] if args.reexport else []),
                        env=thread_env(args), echo=True)
    if "error" in exported:
        sys.exit("compare-runtimes: the export failed: " + exported["error"])
    torch_version = exported["torch"]

    # (model, mode, runtime) -> list of results. "graft-bn" is Graft's forward on the -bn file.
    results = {}
    seen_setups = {}
    for r in range(args.rounds):
        for name in args.models:
            bn = os.path.join(args.workdir, name + "-bn.onnx")
            folded = os.path.join(args.workdir, name + "-folded.onnx")
            jobs = [
                (("forward", "graft"), lambda: run_graft(args, folded, "forward")),
                (("forward", "graft-bn"), lambda: run_graft(args, bn, "forward")),
                (("forward", "torch"), lambda: run_torch(args, name, "forward")),
                (("forward", "ort"), lambda: run_ort(args, folded)),
                (("train", "graft"), lambda: run_graft(args, bn, "train")),
                (("train", "torch"), lambda: run_torch(args, name, "train")),
                (("head", "graft"), lambda: run_graft(args, bn, "head")),
                (("head", "torch"), lambda: run_torch(args, name, "head")),
            ]
            for v in args.variant:
                jobs += [(("forward", v[0]), lambda v=v: run_graft(args, folded, "forward", v)),
                         (("train", v[0]), lambda v=v: run_graft(args, bn, "train", v))]
            # Within a mode the runtimes alternate; the order rotates with the round.
            by_mode = {}
            for key, job in jobs:
                by_mode.setdefault(key[0], []).append((key, job))
            for mode, mode_jobs in by_mode.items():
                shift = r % len(mode_jobs)
                for key, job in mode_jobs[shift:] + mode_jobs[:shift]:
                    result = job()
                    results.setdefault((name, key[0], key[1]), []).append(result)
                    what = result.get("error") or f"{result['images_per_second']:.1f} images/s, " \
                                                  f"{result['peak_rss_mib']:.0f} MiB"
                    if "openblas" in result and result["openblas"] not in seen_setups.setdefault(key[1], set()):
                        seen_setups[key[1]].add(result["openblas"])
                        what += f"  [{result['openblas']}; kernels {result.get('simd', '?')}]"
                    print(f"  round {r + 1} {name:16s} {key[0]:8s} {key[1]:9s} {what}", flush=True)
    load_end = loadavg()
    minutes = (time.time() - started) / 60

    print()
    print(f"Graft vs PyTorch {torch_version} vs onnxruntime-node, {args.size}x{args.size}, batch {args.batch}, "
          f"{args.threads} threads; images/s and peak RSS (MiB) are medians of {args.rounds} rounds, each the "
          f"median of {args.repeats} runs")
    print(f"load average: start {load_start}, end {load_end}; {minutes:.1f} minutes")
    header = (f"{'model':16s} {'mode':8s} {'Graft/s':>8s} {'Torch/s':>8s} {'ORT/s':>8s} "
              f"{'G/Torch':>7s} {'G/ORT':>6s} {'G MiB':>7s} {'T MiB':>7s} {'ORT MiB':>7s}")
    print(header)
    print("-" * len(header))
    goals = []
    errors = []
    for name in args.models:
        fig = {}
        for mode in MODES:
            for runtime in ("graft", "graft-bn", "torch", "ort"):
                ips, mib, errs = summarise(results.get((name, mode, runtime), []))
                fig[(mode, runtime)] = (ips, mib)
                errors += [f"{name} {mode} {runtime}: {e}" for e in errs]
        for mode in MODES:
            g, t, o = fig[(mode, "graft")], fig[(mode, "torch")], fig[(mode, "ort")]
            rt = g[0] / t[0] if g[0] and t[0] else None
            ro = g[0] / o[0] if g[0] and o[0] else None
            print(f"{name:16s} {mode:8s} {fmt(g[0])} {fmt(t[0])} {fmt(o[0])} {fmt(rt, '7.2f', '      -')} "
                  f"{fmt(ro, '6.2f', '     -')} {fmt(g[1], '7.0f', '      -')} {fmt(t[1], '7.0f', '      -')} "
                  f"{fmt(o[1], '7.0f', '      -')}")
        for mode in ("forward", "train") if args.variant else ():
            first = None
            for v in args.variant + [("graft", args.graft_cli, None)]:
                ips, mib, errs = summarise(results.get((name, mode, v[0]), []))
                if v[0] != "graft":
                    errors += [f"{name} {mode} {v[0]}: {e}" for e in errs]
                first = first or ips
                t, o = fig[(mode, "torch")][0], fig[(mode, "ort")][0]
                print(f"{'':16s} {mode + ' ' + v[0]:>22s} {fmt(ips)}  x{fmt(ips / first if ips and first else None, '.2f', '-')}"
                      f" of {args.variant[0][0] if args.variant else 'graft'}, {fmt(ips / t if ips and t else None, '.2f', '-')}"
                      f" of Torch, {fmt(ips / o if ips and o else None, '.2f', '-')} of ORT, {fmt(mib, '.0f', '-')} MiB")
        gb = fig[("forward", "graft-bn")]
        print(f"{name:16s} {'fwd(bn)':8s} {fmt(gb[0])} {'':8s} {'':8s} {'':7s} {'':6s} {fmt(gb[1], '7.0f', '      -')}"
              f"   (Graft forward on the file with BN unfolded)")

        def goal(text, ok, detail):
            goals.append(f"{'PASS' if ok else 'FAIL' if ok is not None else 'n/a '}  {name:16s} {text:44s} {detail}")

        g, o = fig[("forward", "graft")][0], fig[("forward", "ort")][0]
        goal("forward >= ONNX Runtime", None if not (g and o) else g >= o,
             f"{fmt(g, '.1f')} vs {fmt(o, '.1f')} images/s ({fmt(g / o if g and o else None, '.2f')}x)")
        g, t = fig[("train", "graft")][0], fig[("train", "torch")][0]
        need = TRAIN_GOALS[name]
        goal(f"train step >= {need}x PyTorch", None if not (g and t) else g >= need * t,
             f"{fmt(g, '.1f')} vs {fmt(t, '.1f')} images/s ({fmt(g / t if g and t else None, '.2f')}x)")
        h, f_bn, f_folded = fig[("head", "graft")][0], fig[("forward", "graft-bn")][0], fig[("forward", "graft")][0]
        goal(f"head step time <= {HEAD_GOAL}x Graft forward", None if not (h and f_bn) else f_bn / h <= HEAD_GOAL,
             f"{fmt(f_bn / h if h and f_bn else None, '.2f')}x forward on the same (-bn) file; "
             f"{fmt(f_folded / h if h and f_folded else None, '.2f')}x forward on the folded file")
        gm, tm = fig[("train", "graft")][1], fig[("train", "torch")][1]
        goal("train step peak memory <= PyTorch", None if not (gm and tm) else gm <= tm,
             f"{fmt(gm, '.0f')} vs {fmt(tm, '.0f')} MiB peak RSS")
    print()
    print("goals (issue 12):")
    for line in goals:
        print("  " + line)
    if errors:
        print()
        print("errors:")
        for e in errors:
            print("  " + e)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_start": load_start, "load_end": load_end, "args": {k: v for k, v in vars(args).items()},
                       "results": [{"model": k[0], "mode": k[1], "runtime": k[2], "runs": v}
                                   for k, v in results.items()]}, f, indent=1)


if __name__ == "__main__":
    main()
