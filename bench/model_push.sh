#!/usr/bin/env bash
# A deployment pipeline's push under live traffic: hey sends the demo fraud request (c=CONC, QPS
# per connection) for SECS seconds twice, once quiet and once while bench/model_push.py pushes the
# demo's MiniLM file (23 MB, 30 MB of base64 JSON) PUSHES times as a new version of a model over
# POST /v2/repository/models/minilm_pushed/load (the version policy unloads the previous one).
# Prints the fraud latency (p50/p99/slowest) quiet vs during pushes, each push's time and the
# server's RSS before, at its peak (sampled every 20 ms) and after.
#   PORT=24210 bash bench/model_push.sh     # results: bench/results/model-push-<time>/
# FULCRUM_LAUNCHER=/other/checkout/fulcrum serves another build (e.g. main's, for a before/after).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bench/lib.sh
PORT=${PORT:-18720}
SECS=${SECS:-25}
CONC=${CONC:-8}
QPS=${QPS:-50}
PUSHES=${PUSHES:-5}
GAP=${GAP:-2}
OUT="bench/results/model-push-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT/repo"
bench_need_minilm model_push.sh
cp -r demo/models/fraud_classifier "$OUT/repo/"
FULCRUM_HOME="$ROOT" "${FULCRUM_LAUNCHER:-./fulcrum}" serve --model-repository "$OUT/repo" --model-control-mode explicit \
  --load-model fraud_classifier --http-port "$PORT" --grpc-port $((PORT + 1)) \
  --metrics-port $((PORT + 2)) > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
bench_wait_ready "$PORT" 180 "$SERVER"
# the launcher execs java: $SERVER is the JVM
URL="http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer"
fraud() { # name
  hey -z "${SECS}s" -c "$CONC" -q "$QPS" -m POST -T application/json -D "$BENCH_FRAUD_BODY" "$URL" \
    > "$OUT/$1.txt"
}
fraud warmup
fraud quiet
fraud pushing & HEY=$!
sleep 3
python3 bench/model_push.py "$PORT" "$SERVER" "$BENCH_MINILM_MODEL" "$PUSHES" "$GAP" > "$OUT/push.json"
wait $HEY
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
def lat(name):
    t = open(f"{out}/{name}.txt").read()
    pct = {m[0]: float(m[1]) * 1000 for m in re.findall(r"(\d+)%+ in ([\d.]+) secs", t)}
    slow = float(re.search(r"Slowest:\s+([\d.]+)", t)[1]) * 1000
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", t)
    return f"p50 {pct['50']:.1f} ms, p99 {pct['99']:.1f} ms, slowest {slow:.0f} ms, answers {codes}"
print(f"results in {out}")
print("fraud quiet:        ", lat("quiet"))
print("fraud during pushes:", lat("pushing"))
print("pushes:", open(f"{out}/push.json").read().strip())
PY
