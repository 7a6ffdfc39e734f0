#!/bin/sh
# Installs onnxruntime-node (pinned in package.json / package-lock.json) into
# tests/ort/node_modules for run.js. Needs node and npm and the npm registry only:
# onnxruntime-node bundles libonnxruntime.so for linux x64, and its postinstall, which
# would download a CUDA provider from elsewhere and fail offline, is skipped.
# Idempotent: does nothing when the pinned version is already installed.
set -eu
cd "$(dirname "$0")"
want=$(node -p "require('./package.json').dependencies['onnxruntime-node']")
have=$(node -p "try { require('./node_modules/onnxruntime-node/package.json').version } catch (e) { '' }")
if [ "$have" = "$want" ]; then
  echo "tests/ort: onnxruntime-node $have already installed"
  exit 0
fi
export ONNXRUNTIME_NODE_INSTALL=skip
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts
else
  npm install --no-audit --no-fund --ignore-scripts
fi
node run.js --version
