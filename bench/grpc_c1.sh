#!/usr/bin/env bash
# gRPC vs REST binary at c=1 on the fraud model (issue 12), A/B between two builds of the server,
# interleaved: rounds of A, B (B, A in even rounds), each a fresh server; per server the same
# measurement as bench/peers.sh's "gRPC vs REST binary at c=1" line (`fulcrum bench`, c=1,
# PROTO_WARM warm-up, DUR s window, which protocol goes first alternating by round).
#   A=/path/to/launcherA B=./fulcrum N=4 DUR=8 bash bench/grpc_c1.sh
# A and B are launchers (./fulcrum of a tree, or a wrapper around a built dist; the launcher's
# staleness check is skipped: FULCRUM_NO_BUILD=1). The client is always CLIENT (default: B's
# launcher), so only the server differs. Extra server options: SERVE_OPTS (both builds).
# Prints per build the median over rounds of gRPC req/s, REST binary req/s and their ratio.
# Results: bench/results/<time>-grpc-c1/ (one JSON line per build and round; summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
A=${A:?A=launcher of the previous build}
B=${B:-./fulcrum}
CLIENT=${CLIENT:-$B}
N=${N:-4}
DUR=${DUR:-8}
PROTO_WARM=${PROTO_WARM:-40s}
PORT=${PORT:-$((20000 + RANDOM % 12000))}
SERVE_OPTS=(${SERVE_OPTS:-})
export FULCRUM_NO_BUILD=1 FULCRUM_HOME="${FULCRUM_HOME:-$ROOT}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-grpc-c1"
mkdir -p "$OUT"
FRAUD="$OUT/fraud.json"
cp "$BENCH_FRAUD_BODY" "$FRAUD"

pid=""
cleanup() { [ -z "$pid" ] || { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; }
trap cleanup EXIT

wait_ready() { # port
  for _ in $(seq 600); do
    curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$FRAUD" \
      "http://127.0.0.1:$1/v2/models/fraud_classifier/infer" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
bench_c1() { # port protocol tag -> fraud req/s at c=1 (as bench/peers.sh's bench_c1)
  local f="$OUT/bench-$3-$2.json"
  "$CLIENT" bench -m fraud_classifier --protocol "$2" --url "http://127.0.0.1:$1" \
    --grpc-url "127.0.0.1:$(($1 + 1))" --concurrency 1 --warmup "$PROTO_WARM" --window "${DUR}s" \
    --max-windows 1 --output "$f" >>"$OUT/bench.log" 2>&1 || { echo null; return; }
  python3 -c "import json; print(json.load(open('$f'))[0]['requests_per_second'])"
}
one() { # round build-name launcher
  local port=$PORT grpc rest
  setsid "$3" serve --http-port "$port" --grpc-port $((port + 1)) --metrics-port $((port + 2)) \
    "${SERVE_OPTS[@]}" >"$OUT/server-$2-$1.log" 2>&1 &
  pid=$!
  if ! wait_ready "$port"; then echo "round $1 $2: not ready; see $OUT/server-$2-$1.log" >&2; cleanup; pid=""; return; fi
  if [ $(($1 % 2)) = 1 ]; then
    grpc=$(bench_c1 "$port" grpc "$2-$1"); rest=$(bench_c1 "$port" rest-binary "$2-$1")
  else
    rest=$(bench_c1 "$port" rest-binary "$2-$1"); grpc=$(bench_c1 "$port" grpc "$2-$1")
  fi
  cleanup; pid=""
  local line
  line=$(printf '{"round":%d,"build":"%s","grpc_c1":%s,"rest_binary_c1":%s}' "$1" "$2" "${grpc:-null}" "${rest:-null}")
  echo "$line" >>"$OUT/rounds.jsonl"
  echo "$line" >&2
}
echo "grpc_c1: $N rounds of A=$A, B=$B, ${DUR}s windows; results in $OUT" >&2
for round in $(seq "$N"); do
  if [ $((round % 2)) = 1 ]; then one "$round" A "$A"; one "$round" B "$B"
  else one "$round" B "$B"; one "$round" A "$A"; fi
done
python3 - "$OUT/rounds.jsonl" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
res = {}
for b in ("A", "B"):
    r = [x for x in rows if x["build"] == b]
    g = med([x["grpc_c1"] for x in r]); s = med([x["rest_binary_c1"] for x in r])
    q = med([x["grpc_c1"] / x["rest_binary_c1"] for x in r if x["grpc_c1"] and x["rest_binary_c1"]])
    res[b] = (g, s, q)
    print(f"{b}: gRPC {g:.0f} req/s, REST binary {s:.0f} req/s; gRPC / REST binary {q:.3f} "
          f"(median of {len(r)} round ratios)" if q else f"{b}: no complete round")
ga, gb = res["A"][0], res["B"][0]
if ga and gb:
    pairs = {}
    for x in rows:
        pairs.setdefault(x["round"], {})[x["build"]] = x["grpc_c1"]
    gr = med([p["B"] / p["A"] for p in pairs.values() if p.get("A") and p.get("B")])
    print(f"B / A gRPC req/s: {gr:.3f} (median of round ratios)")
PY
