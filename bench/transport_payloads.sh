#!/usr/bin/env bash
# The REST port's transport (or any serve flags) A/B on larger payloads than bench/transport.sh's
# fraud request (docs/PERFORMANCE.md, "Session 24 (lead): io_uring"): two servers of one build up
# at once, `fulcrum serve $A_ARGS` and `fulcrum serve $B_ARGS`, each serving the demo models and
# bench/models/unseen (bash bench/make_unseen_models.sh first), measured in alternating windows:
#   minilm_c1   MiniLM (16 tokens in, 6,144 floats of JSON out) at c=1, wrk -t1 -c1 --latency:
#               p50 and p99, and the server's CPU per request (/proc, utime+stime)
#   minilm_cpu  MiniLM at RATES req/s offered (hey -c 16 -q rate/16): CPU per request
#   cnn64       cnn_image (FP32 [1,3,32,32]: 21 KB of JSON in) at c=64, wrk -t1 -c64: req/s, p50, p99
#   A_ARGS="--transport io_uring" B_ARGS="--transport epoll" ROUNDS=4 bash bench/transport_payloads.sh
# Medians per arm and B / A at the end. Results: bench/results/<time>-payloads/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
A_ARGS=${A_ARGS:---transport io_uring}
B_ARGS=${B_ARGS:---transport epoll}
ROUNDS=${ROUNDS:-4}
DUR=${DUR:-6}
RATES=${RATES:-150 600}
PORT=${PORT:-28400}
CASES=${CASES:-minilm_c1 minilm_cpu cnn64}
for tool in wrk hey python3 curl; do
  command -v "$tool" >/dev/null || { echo "transport_payloads.sh needs $tool" >&2; exit 1; }
done
[ -f bench/models/unseen/cnn_image/1/model.onnx ] || { echo "run bash bench/make_unseen_models.sh first" >&2; exit 1; }
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-payloads"
mkdir -p "$OUT"
python3 bench/unseen_bodies.py "$OUT" >/dev/null
cp "$BENCH_MINILM_BODY" "$OUT/minilm.json"
for name in minilm cnn_image; do bench_wrk_lua "$OUT/$name.json" "$OUT/$name.lua"; done
export FULCRUM_NO_BUILD=${FULCRUM_NO_BUILD:-1}
PIDS=()
stop() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT
start() { # arm port args... -> pid
  local arm=$1 port=$2; shift 2
  # shellcheck disable=SC2068 # the arm's serve flags, split as words
  ./fulcrum serve --model-repository demo/models --model-repository bench/models/unseen \
    --http-port "$port" --grpc-port $((port + 1)) --metrics-port $((port + 2)) $@ >"$OUT/server-$arm.log" 2>&1 &
  echo $!
}
# shellcheck disable=SC2086
A=$(start A "$PORT" $A_ARGS); PIDS+=("$A")
# shellcheck disable=SC2086
B=$(start B $((PORT + 10)) $B_ARGS); PIDS+=("$B")
for p in "$PORT" $((PORT + 10)); do
  bench_wait_ready "$p" 120
done
grep -h "listening on" "$OUT"/server-*.log | sed 's/^/  /' >&2
url() { echo "http://127.0.0.1:$1/v2/models/$2/infer"; }
echo "warming both servers (20 s each path)" >&2
for p in "$PORT" $((PORT + 10)); do
  wrk -t1 -c8 -d10s -s "$OUT/minilm.lua" "$(url "$p" all_minilm_l6_v2)" >/dev/null
  wrk -t1 -c64 -d10s -s "$OUT/cnn_image.lua" "$(url "$p" cnn_image)" >/dev/null
done
: >"$OUT/rounds.jsonl"
for r in $(seq "$ROUNDS"); do
  arms="A B"; [ $((r % 2)) = 0 ] && arms="B A"   # the order alternates by round
  for arm in $arms; do
    if [ "$arm" = A ]; then p=$PORT pid=$A; else p=$((PORT + 10)) pid=$B; fi
    for c in $CASES; do
      case $c in
        minilm_c1)
          t0=$(bench_ticks "$pid")
          wrk -t1 -c1 -d"${DUR}s" --latency -s "$OUT/minilm.lua" "$(url "$p" all_minilm_l6_v2)" >"$OUT/last.txt"
          t1=$(bench_ticks "$pid")
          read -r p50 p99 _ n < <(bench_wrk_figures "$OUT/last.txt")
          printf '{"round":%d,"arm":"%s","case":"minilm_c1","p50_ms":%s,"p99_ms":%s,"cpu_us":%s}\n' \
            "$r" "$arm" "$p50" "$p99" "$(bench_cpu_us "$t0" "$t1" "$n")" >>"$OUT/rounds.jsonl"
          ;;
        minilm_cpu)
          for rate in $RATES; do
            t0=$(bench_ticks "$pid")
            o=$(hey -z "${DUR}s" -c 16 -q $(((rate + 8) / 16)) -m POST -T application/json -D "$OUT/minilm.json" "$(url "$p" all_minilm_l6_v2)")
            t1=$(bench_ticks "$pid")
            n=$(grep -o '\[200\][[:space:]]*[0-9]*' <<<"$o" | grep -o '[0-9]*$' | head -1)
            printf '{"round":%d,"arm":"%s","case":"minilm_cpu_%s","cpu_us":%s}\n' "$r" "$arm" "$rate" \
              "$(bench_cpu_us "$t0" "$t1" "$n")" >>"$OUT/rounds.jsonl"
          done
          ;;
        cnn64)
          wrk -t1 -c64 -d"${DUR}s" --latency -s "$OUT/cnn_image.lua" "$(url "$p" cnn_image)" >"$OUT/last.txt"
          read -r p50 p99 rps _ < <(bench_wrk_figures "$OUT/last.txt")
          printf '{"round":%d,"arm":"%s","case":"cnn64","req_s":%s,"p50_ms":%s,"p99_ms":%s}\n' \
            "$r" "$arm" "$rps" "$p50" "$p99" >>"$OUT/rounds.jsonl"
          ;;
      esac
    done
    echo "round $r $arm done" >&2
  done
done
python3 - "$OUT" "$A_ARGS" "$B_ARGS" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, a_args, b_args = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{out}/rounds.jsonl") if l.strip()]
print(f"A = serve {a_args}; B = serve {b_args}; medians over rounds")
keys = sorted({(r["case"], k) for r in rows for k in r if k not in ("round", "arm", "case")})
print(f"{'case':18}{'figure':10}{'A':>12}{'B':>12}{'B / A':>9}")
for case, k in keys:
    med = {arm: statistics.median([r[k] for r in rows if r["case"] == case and r["arm"] == arm])
           for arm in ("A", "B")}
    print(f"{case:18}{k:10}{med['A']:>12.2f}{med['B']:>12.2f}{med['B'] / med['A']:>9.2f}")
PY
echo "results in $OUT" >&2
