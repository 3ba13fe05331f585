#!/usr/bin/env bash
# The demo server's footprint and MiniLM's rate, A/B across builds (docs/PERFORMANCE.md, "Session 25
# (lead): one ONNX Runtime session"): for each build in SERVERS, ROUNDS fresh starts interleaved
# (A B A B ...), each:
#   ready_s        process start -> GET /v2/health/ready 200 (every demo model loaded)
#   rss_ready      RSS then (MB, /proc)
#   rss_loaded     RSS after 2,000 fraud, 1,000 MiniLM (16 tokens) and 500 minilm_text requests (hey, c=8)
#   rss_idle       RSS 25 s later (serve trims the native heap once idle)
#   c16_rps        MiniLM at c=16 (wrk -t1, DUR s, after 8 s of warm-up), and the server's CPU per
#   cpu_us         request over it (utime+stime from /proc/PID/stat)
#   c1_p50/c1_p99  MiniLM at c=1 (wrk -t1 -c1 --latency, 10 s)
# Builds: fulcrum (./fulcrum of this checkout) and base (BASE_ROOT/fulcrum: a copy of another
# checkout's `fulcrum`, `bin/` and `fulcrum-tools/target/dist`, as bench/coldstart.sh's header makes
# it), serving this checkout's demo repository. Does not build.
#   ROUNDS=3 BASE_ROOT=/tmp/base SERVERS="base fulcrum" bash bench/footprint.sh
# Results: bench/results/<time>-footprint/rounds.txt and a median line per build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-fulcrum}
PORT=${PORT:-18750}
DUR=${DUR:-20}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-footprint"
mkdir -p "$OUT"
export FULCRUM_NO_BUILD=1
for tool in hey wrk curl; do
  command -v $tool >/dev/null || { echo "footprint.sh needs $tool" >&2; exit 1; }
done
cp "$BENCH_FRAUD_BODY" "$OUT/fraud.json"
cp "$BENCH_MINILM_BODY" "$OUT/minilm.json"
bench_wrk_lua "$OUT/minilm.json" "$OUT/minilm.lua"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
json.dump({"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES",
                       "data": ["the quick brown fox jumps over the lazy dog"]}]},
          open(f"{out}/text.json", "w"))
PY
hey_post() { hey -n "$1" -c 8 -m POST -T application/json -D "$2" "$3" >/dev/null; }
for round in $(seq "$ROUNDS"); do
  for server in $SERVERS; do
    case $server in
      fulcrum) launcher=./fulcrum ;;
      base) launcher="${BASE_ROOT:?base needs BASE_ROOT}/fulcrum" ;;
      *) echo "unknown server $server (fulcrum | base)" >&2; exit 1 ;;
    esac
    t0=$(date +%s.%N)
    FULCRUM_HOME="$ROOT" "$launcher" serve --http-port "$PORT" --grpc-port $((PORT + 1)) \
      --metrics-port $((PORT + 2)) >"$OUT/server-$server-$round.log" 2>&1 &
    pid=$!
    ready=
    for _ in $(seq 300); do
      if curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null; then
        ready=$(echo "$(date +%s.%N) - $t0" | bc); break
      fi
      sleep 0.1
    done
    [ -n "$ready" ] || { echo "$server did not become ready" >&2; kill "$pid"; exit 1; }
    r_ready=$(bench_rss_mb "$pid")
    url=http://127.0.0.1:$PORT/v2/models
    hey_post 2000 "$OUT/fraud.json" "$url/fraud_classifier/infer"
    hey_post 1000 "$OUT/minilm.json" "$url/all_minilm_l6_v2/infer"
    hey_post 500 "$OUT/text.json" "$url/minilm_text/infer"
    r_loaded=$(bench_rss_mb "$pid")
    sleep 25
    r_idle=$(bench_rss_mb "$pid")
    wrk -t1 -c16 -d8s -s "$OUT/minilm.lua" "$url/all_minilm_l6_v2/infer" >/dev/null
    c0=$(bench_ticks "$pid")
    w16=$(wrk -t1 -c16 -d"${DUR}s" -s "$OUT/minilm.lua" "$url/all_minilm_l6_v2/infer")
    c1=$(bench_ticks "$pid")
    w1=$(wrk -t1 -c1 -d10s --latency -s "$OUT/minilm.lua" "$url/all_minilm_l6_v2/infer")
    n=$(echo "$w16" | awk '/requests in/{print $1}')
    bad=$(echo "$w16$w1" | awk '/Non-2xx|Socket errors/{n++} END{print n+0}')
    echo "round $round $server ready_s=$(printf %.3f "$ready") rss_ready=$r_ready rss_loaded=$r_loaded" \
      "rss_idle=$r_idle c16_rps=$(echo "$w16" | awk '/Requests\/sec/{print $2}')" \
      "cpu_us=$(bench_cpu_us "$c0" "$c1" "$n") c1_p50=$(echo "$w1" | awk '/ 50%/{print $2}')" \
      "c1_p99=$(echo "$w1" | awk '/ 99%/{print $2}') errors=$bad" | tee -a "$OUT/rounds.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
python3 - "$OUT/rounds.txt" <<'PY'
import collections, statistics, sys
def number(v):  # wrk's latencies carry a unit: us, ms or s; read as ms
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    return float(v)
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    f = line.split()
    for kv in f[3:]:
        k, v = kv.split("=")
        rows[f[2]][k].append(number(v))
print("medians (c1 latencies in ms):")
for server, cols in rows.items():
    print(f"  {server}: " + " ".join(f"{k}={statistics.median(v):g}" for k, v in cols.items()))
PY
echo "results in $OUT"
