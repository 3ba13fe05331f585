#!/usr/bin/env bash
# Fulcrum against the Java peer on the unseen models (bench/make_unseen_models.sh), each served with
# NO config.yaml: bench/peers.sh with EXTRA_MODEL / EXTRA_BODY / EXTRA_ONLY=1 once per model, servers
# interleaved within each round (fulcrum, java-peer, fulcrum, ...). Per model: CPU per request at a
# fixed rate, req/s at c=64, p50/p99 at c=1 (medians over N rounds, ratios fulcrum/java-peer).
#   N=3 DUR=5 PORT=25100 MODELS="cnn_image mixed_tabular fixed_window" bash bench/unseen_peers.sh
# Rates (req/s offered for the CPU window): RATE_cnn_image=200 RATE_mixed_tabular=1000 RATE_fixed_window=1000.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODELS=(${MODELS:-cnn_image mixed_tabular fixed_window})
[ -f bench/models/unseen/fixed_window/1/model.onnx ] || bash bench/make_unseen_models.sh
BODIES=$(mktemp -d)
python3 bench/unseen_bodies.py "$BODIES"
declare -A RATE=([cnn_image]=${RATE_cnn_image:-200} [mixed_tabular]=${RATE_mixed_tabular:-1000} [fixed_window]=${RATE_fixed_window:-1000})
for m in "${MODELS[@]}"; do
  echo "=== $m (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  EXTRA_MODEL="bench/models/unseen/$m" EXTRA_BODY="$BODIES/$m.json" EXTRA_ONLY=1 \
    EXTRA_RATE="${RATE[$m]:-200}" EXTRA_WARM="${EXTRA_WARM:-10}" SERVERS="${SERVERS:-fulcrum java-peer}" bash bench/peers.sh
done
