#!/bin/sh
# Every preset on the sample task (Fashion-MNIST classes 5-9 from the starter model):
# validation accuracy, wall time and training images/s, from graft-cli train --json.
#   bench/presets.sh [build/src/cli/graft-cli]
set -eu
cli=${1:-build/src/cli/graft-cli}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
printf '%-20s %10s %8s %10s\n' preset accuracy seconds images/s
for preset in feature-extraction replace-top fine-tune progressive-ulmfit progressive-fastai; do
  start=$(date +%s.%N)
  "$cli" train data/models/graft-starter.onnx data/samples/train --validation data/samples/validation \
    --preset "$preset" --cache-dir "" --threads 2 --output "$out/$preset.onnx" --json > "$out/$preset.json"
  end=$(date +%s.%N)
  /usr/bin/python3 - "$out/$preset.json" "$preset" "$start" "$end" <<'PY'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
done = [e for e in events if e.get("event") == "done"][-1]
epochs = [e for e in events if e.get("event") == "epoch"]
ips = [e.get("images_per_second") or 0 for e in epochs]
print("%-20s %9.1f%% %8.1f %10.0f" % (sys.argv[2], 100 * done["validation_accuracy"],
      float(sys.argv[4]) - float(sys.argv[3]), sum(ips) / max(1, len(ips))))
PY
done
rm -rf "$out"
