#!/usr/bin/env node
// run.js: runs an ONNX file with ONNX Runtime (onnxruntime-node, CPU) on one float32
// input, for Graft's tests (the exporter checks that ORT runs what Graft writes and
// agrees with Graft; the parity fixtures check ORT against torch).
//
// Install once (offline from everything but the npm registry; never a plain
// `npm install`, whose postinstall tries to download a CUDA provider and fails):
//     tests/ort/install.sh
//
// Usage:
//     node tests/ort/run.js [OPTIONS] MODEL.onnx IN.npy OUT.npy
//     node tests/ort/run.js --info MODEL.onnx
//     node tests/ort/run.js --version
//
//   IN.npy    float32 (or float64, converted) .npy, C order, little-endian; its shape
//             is the input's shape (batch included). With --raw IN is raw float32
//             little-endian and --shape gives its shape.
//   OUT.npy   written as float32 .npy ('<f4', C order) with the output's shape.
//             "-" writes nothing (useful with --compare).
//
// Options:
//   --input NAME       the model input to feed (default: the first one)
//   --output NAME      the model output to write (default: the first one)
//   --raw              IN is raw float32 little-endian; needs --shape
//   --shape 1,3,224,224  the shape of a raw input
//   --threads N        intra-op threads (default: ORT's default)
//   --compare REF.npy  compare the output with REF: prints max_abs_diff, max_abs_ref and
//                      relative = max|out - ref| / max|ref|, and exits 3 when relative
//                      exceeds --tolerance
//   --tolerance T      for --compare (default 1e-4)
//   --info             print the model's inputs and outputs (names, types, shapes) as JSON
//   --version          print onnxruntime-node's version
//
// Output on stdout: one JSON line, e.g.
//   {"output":"logits","shape":[2,1000],"ms":12.3,"max_abs_diff":3.1e-7,"max_abs_ref":1.56,"relative":2e-7}
// Exit status: 0 success, 1 error (message on stderr), 2 usage, 3 --compare over tolerance.
'use strict';

const fs = require('fs');
const path = require('path');

function fail(message, status = 1) {
  process.stderr.write(`run.js: ${message}\n`);
  process.exit(status);
}

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (${e.message}); run ${path.join(__dirname, 'install.sh')} first`);
  }
}

// ---- .npy reading and writing

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC))
    fail(`${file}: not a .npy file (bad magic)`);
  const major = buf[6];
  let headerLength, offset;
  if (major === 1) {
    headerLength = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(`${file}: truncated .npy header`);
    headerLength = buf.readUInt32LE(8);
    offset = 12;
  } else {
    fail(`${file}: unsupported .npy version ${major}`);
  }
  if (offset + headerLength > buf.length) fail(`${file}: truncated .npy header`);
  const header = buf.toString('latin1', offset, offset + headerLength);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) fail(`${file}: cannot parse the .npy header ${JSON.stringify(header)}`);
  if (fortran[1] === 'True') fail(`${file}: Fortran-order arrays are not supported`);
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) fail(`${file}: bad dimension '${s}' in the .npy header`);
    return Number(s);
  });
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) fail(`${file}: shape ${shape} is too large`);
  const dataOffset = offset + headerLength;
  let itemSize;
  if (descr[1] === '<f4' || descr[1] === '=f4') itemSize = 4;
  else if (descr[1] === '<f8' || descr[1] === '=f8') itemSize = 8;
  else fail(`${file}: dtype '${descr[1]}' is not supported (float32 or float64, little-endian)`);
  if (buf.length - dataOffset < count * itemSize)
    fail(`${file}: data is shorter than its shape [${shape}] says (${buf.length - dataOffset} bytes)`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++)
    data[i] = itemSize === 4 ? buf.readFloatLE(dataOffset + 4 * i) : buf.readDoubleLE(dataOffset + 8 * i);
  return { data, shape };
}

function readRaw(file, shape) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== count * 4)
    fail(`${file}: ${buf.length} bytes, but shape [${shape}] needs ${count * 4} (float32)`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(4 * i);
  return { data, shape };
}

function writeNpy(file, data, shape) {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  const out = Buffer.alloc(total + data.length * 4);
  NPY_MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], total + 4 * i);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, out);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch (_) { /* nothing to remove */ }
    fail(`${file}: ${e.message}`);
  }
}

// ---- arguments

function parseArgs(argv) {
  const opts = { tolerance: 1e-4, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`, 2);
      return argv[++i];
    };
    if (a === '--input') opts.input = value();
    else if (a === '--output') opts.output = value();
    else if (a === '--raw') opts.raw = true;
    else if (a === '--shape') {
      opts.shape = value().split(',').map((s) => {
        if (!/^\d+$/.test(s.trim())) fail(`--shape: bad dimension '${s}'`, 2);
        return Number(s);
      });
    } else if (a === '--threads') opts.threads = Number(value());
    else if (a === '--compare') opts.compare = value();
    else if (a === '--tolerance') opts.tolerance = Number(value());
    else if (a === '--info') opts.info = true;
    else if (a === '--version') opts.version = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n')
        .filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
      process.exit(0);
    } else if (a.startsWith('--')) fail(`unknown option ${a}`, 2);
    else opts.positional.push(a);
  }
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads > 0))
    fail('--threads needs a positive integer', 2);
  if (!(opts.tolerance >= 0)) fail('--tolerance needs a number >= 0', 2);
  return opts;
}

function typeOf(meta) {
  if (!meta) return {};
  const out = { isTensor: meta.isTensor };
  if (meta.isTensor) {
    out.type = meta.type;
    out.shape = meta.shape;
  }
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  if (opts.version) {
    const pkg = require('onnxruntime-node/package.json');
    process.stdout.write(`onnxruntime-node ${pkg.version}\n`);
    return;
  }
  const expected = opts.info ? 1 : 3;
  if (opts.positional.length !== expected)
    fail('usage: run.js [OPTIONS] MODEL.onnx IN.npy OUT.npy | run.js --info MODEL.onnx (see --help)', 2);
  const [model, inFile, outFile] = opts.positional;

  const sessionOptions = { graphOptimizationLevel: 'all' };
  if (opts.threads) {
    sessionOptions.intraOpNumThreads = opts.threads;
    sessionOptions.interOpNumThreads = 1;
  }
  let session;
  try {
    session = await ort.InferenceSession.create(model, sessionOptions);
  } catch (e) {
    fail(`${model}: ONNX Runtime cannot load it: ${e.message}`);
  }

  if (opts.info) {
    const info = { inputs: [], outputs: [] };
    session.inputNames.forEach((n, i) => info.inputs.push({ name: n, ...typeOf(session.inputMetadata && session.inputMetadata[i]) }));
    session.outputNames.forEach((n, i) => info.outputs.push({ name: n, ...typeOf(session.outputMetadata && session.outputMetadata[i]) }));
    process.stdout.write(JSON.stringify(info) + '\n');
    return;
  }

  const inputName = opts.input || session.inputNames[0];
  const outputName = opts.output || session.outputNames[0];
  if (!session.inputNames.includes(inputName))
    fail(`${model}: no input '${inputName}' (inputs: ${session.inputNames.join(', ')})`);
  if (!session.outputNames.includes(outputName))
    fail(`${model}: no output '${outputName}' (outputs: ${session.outputNames.join(', ')})`);
  if (session.inputNames.length > 1 && !opts.input)
    process.stderr.write(`run.js: ${model} has ${session.inputNames.length} inputs; feeding '${inputName}' only\n`);

  let input;
  if (opts.raw) {
    if (!opts.shape) fail('--raw needs --shape', 2);
    input = readRaw(inFile, opts.shape);
  } else {
    input = readNpy(inFile);
  }

  let results;
  const t0 = process.hrtime.bigint();
  try {
    const feeds = { [inputName]: new ort.Tensor('float32', input.data, input.shape) };
    results = await session.run(feeds, [outputName]);
  } catch (e) {
    fail(`${model}: ONNX Runtime failed to run it on ${inFile} (shape [${input.shape}]): ${e.message}`);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const out = results[outputName];
  if (out.type !== 'float32') fail(`${model}: output '${outputName}' is ${out.type}, not float32`);
  const shape = out.dims.map(Number);
  const report = { output: outputName, shape, ms: Math.round(ms * 10) / 10 };
  for (let i = 0; i < out.data.length; i++) {
    if (!Number.isFinite(out.data[i])) {
      report.non_finite = true;
      break;
    }
  }
  if (outFile !== '-') writeNpy(outFile, out.data, shape);

  let status = 0;
  if (opts.compare) {
    const ref = readNpy(opts.compare);
    if (ref.data.length !== out.data.length || ref.shape.join(',') !== shape.join(','))
      fail(`${opts.compare}: shape [${ref.shape}] differs from the output's [${shape}]`, 3);
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < ref.data.length; i++) {
      const d = Math.abs(out.data[i] - ref.data[i]);
      maxDiff = d > maxDiff || Number.isNaN(d) ? d : maxDiff;
      maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
    }
    report.max_abs_diff = maxDiff;
    report.max_abs_ref = maxRef;
    report.relative = maxRef > 0 ? maxDiff / maxRef : maxDiff;
    if (!(report.relative <= opts.tolerance)) status = 3;
  }
  process.stdout.write(JSON.stringify(report) + '\n');
  if (status === 3)
    process.stderr.write(`run.js: ${model}: output differs from ${opts.compare}: relative ${report.relative} > ${opts.tolerance}\n`);
  process.exitCode = status;
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
