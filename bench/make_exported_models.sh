#!/usr/bin/env bash
# Makes a venv under /tmp from the local pip index (numpy, onnx, onnxruntime, onnxscript, torch,
# requests, grpcio, grpcio-tools), writes the exported models (bench/make_exported_models.py: PyTorch
# exports and scikit-learn graphs as skl2onnx writes them) into DIR, gitignored, with NO config
# files, and, with --check, serves them and compares every answer with onnxruntime in Python
# (bench/exported_check.py; needs a built tree: ./mvnw -o -DskipTests package).
#   bash bench/make_exported_models.sh [--check] [DIR]     (DIR: bench/models/exported)
#   PORT=24800 bash bench/make_exported_models.sh --check
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CHECK=0
if [ "${1:-}" = --check ]; then CHECK=1; shift; fi
DIR=${1:-bench/models/exported}
VENV=${VENV:-/tmp/fulcrum-exported-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy onnx onnxruntime onnxscript torch requests grpcio grpcio-tools
fi
rm -rf "$DIR"
mkdir -p "$DIR"
"$VENV/bin/python" bench/make_exported_models.py "$DIR"
if [ "$CHECK" = 1 ]; then
  [ -f fulcrum-tools/target/dist/.built ] || touch fulcrum-tools/target/dist/.built
  FULCRUM_NO_BUILD=1 FULCRUM_NO_AOT=1 "$VENV/bin/python" bench/exported_check.py \
    --models "$DIR" --port "${PORT:-24800}"
fi
