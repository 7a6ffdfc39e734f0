#!/bin/sh
# train-transformers.sh: issue 17's training check on full-size exports. torchvision's
# ConvNeXt-Tiny and ViT-B/16 (random weights, the files compare-runtimes.py exports)
# train a head (feature extraction) and their top blocks (fine-tune) for 3 epochs on
# the sample project's images; each export is then run by ONNX Runtime on a random
# batch of 2 and compared with graft-cli infer. Prints each epoch's training loss and
# validation accuracy, and ORT's relative difference.
#
#   bench/train-transformers.sh [GRAFT_CLI [EXPORTS_DIR [OUT_DIR]]]
#
# EXPORTS_DIR (default /tmp/graft-compare-runtimes) needs convnext_tiny-folded.onnx and
# vit_b_16-folded.onnx: run `bench/compare-runtimes.py --models convnext_tiny,vit_b_16`
# once. Needs tests/ort/install.sh's onnxruntime-node and /usr/bin/python3 (numpy).
# One thread each; about an hour on a 2-core machine, most of it ViT's fine-tuning.
# EPOCHS (default 3) and MODELS (default "convnext_tiny vit_b_16") change what runs.
set -eu

source_dir=$(cd "$(dirname "$0")/.." && pwd)
cli=${1:-$source_dir/build/src/cli/graft-cli}
exports=${2:-/tmp/graft-compare-runtimes}
out=${3:-$(mktemp -d /tmp/graft-train-transformers-XXXXXX)}
samples=$source_dir/data/samples
mkdir -p "$out"

for model in ${MODELS:-convnext_tiny vit_b_16}; do
  # A random batch of 2 at the model's own input size.
  /usr/bin/python3 - "$exports/$model-folded.onnx" "$out/$model-in.npy" <<'PY'
import sys
import numpy as np
import onnx
dims = onnx.load(sys.argv[1], load_external_data=False).graph.input[0].type.tensor_type.shape.dim
shape = (2,) + tuple(d.dim_value for d in dims[1:])
np.save(sys.argv[2], np.random.default_rng(1).standard_normal(shape).astype(np.float32))
PY
  for preset in feature-extraction fine-tune; do
    echo "== $model, $preset"
    "$cli" train "$exports/$model-folded.onnx" "$samples/train" -v "$samples/validation" -p "$preset" -e "${EPOCHS:-3}" -t 1 \
      --decode-threads 1 --seed 1 --cache-dir "" --json -o "$out/$model-$preset.onnx" > "$out/$model-$preset.jsonl"
    /usr/bin/python3 - "$out/$model-$preset.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "epoch":
        print("  epoch %d: training loss %.3f, validation accuracy %.3f" % (e["epoch"], e["train_loss"], e["validation_accuracy"]))
PY
    "$cli" infer "$out/$model-$preset.onnx" -i "$out/$model-in.npy" -o "$out/$model-$preset-graft.npy" -t 1
    node "$source_dir/tests/ort/run.js" --threads 1 --compare "$out/$model-$preset-graft.npy" \
      "$out/$model-$preset.onnx" "$out/$model-in.npy" -
  done
done
