#!/usr/bin/env node
// ort-bench.js: times ONNX Runtime (onnxruntime-node, CPU) on one model, for
// bench/compare-runtimes.py.
//
//     node bench/ort-bench.js MODEL.onnx [--batch 16] [--size 224] [--threads 2]
//                             [--repeats 5] [--warmup 1]
//
// The session runs with intraOpNumThreads = --threads, one inter-op thread, sequential
// execution and every graph optimization (ORT's defaults otherwise). The input is
// random float32 (N, 3, size, size) in [-1, 1), or (N, size, size, 3) when the model
// takes NHWC. After the warm-up runs, --repeats runs are timed; prints one JSON line:
//   {"runtime":"onnxruntime-node","version":..,"model":..,"batch":..,"threads":..,
//    "repeats":..,"ms_per_batch":median,"images_per_second":..,"times_ms":[..],
//    "load_ms":..,"peak_rss_mib":..}
// onnxruntime-node comes from tests/ort/node_modules (install it with tests/ort/install.sh).
'use strict';

const path = require('path');

function fail(message, status = 1) {
  process.stderr.write(`ort-bench.js: ${message}\n`);
  process.exit(status);
}

function parseArgs(argv) {
  const args = { batch: 16, size: 224, threads: 2, repeats: 5, warmup: 1, model: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`, 2);
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) fail(`${a} ${argv[i]} is not a count`, 2);
      return v;
    };
    if (a === '--batch') args.batch = next();
    else if (a === '--size') args.size = next();
    else if (a === '--threads') args.threads = next();
    else if (a === '--repeats') args.repeats = next();
    else if (a === '--warmup') args.warmup = next();
    else if (a.startsWith('--')) fail(`unknown option ${a}`, 2);
    else if (args.model === null) args.model = a;
    else fail('one model at a time', 2);
  }
  if (args.model === null) fail('which model? (give MODEL.onnx)', 2);
  if (args.batch < 1 || args.repeats < 1 || args.size < 1) fail('batch, size and repeats must be at least 1', 2);
  return args;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require(path.join(__dirname, '..', 'tests', 'ort', 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    fail(`cannot load onnxruntime-node (${e.message}); run tests/ort/install.sh first`);
  }
  const version = require(path.join(__dirname, '..', 'tests', 'ort', 'node_modules', 'onnxruntime-node',
                                    'package.json')).version;

  const loadStart = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;

  const inputName = session.inputNames[0];
  let dims = [args.batch, 3, args.size, args.size];
  const meta = session.inputMetadata && session.inputMetadata[0];
  if (meta && Array.isArray(meta.shape) && meta.shape.length === 4 && meta.shape[3] === 3 && meta.shape[1] !== 3)
    dims = [args.batch, args.size, args.size, 3];
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  let seed = 12345;
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data[i] = (seed / 4294967296) * 2 - 1;
  }
  const feeds = { [inputName]: new ort.Tensor('float32', data, dims) };

  for (let i = 0; i < args.warmup; i++)
    await session.run(feeds);
  const times = [];
  for (let i = 0; i < args.repeats; i++) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const ms = median(times);
  const rss = process.resourceUsage().maxRSS / 1024; // KiB -> MiB
  process.stdout.write(JSON.stringify({
    runtime: 'onnxruntime-node', version, model: args.model, batch: args.batch, size: args.size,
    threads: args.threads, repeats: args.repeats, ms_per_batch: ms,
    images_per_second: args.batch / (ms / 1e3), times_ms: times, load_ms: loadMs, peak_rss_mib: rss,
  }) + '\n');
}

main().catch((e) => fail(e.message || String(e)));
