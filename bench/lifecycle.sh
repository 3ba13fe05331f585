#!/usr/bin/env bash
# The lifecycle benchmarks of docs/PERFORMANCE.md (issue: model lifecycle), in one run:
#   1. hot swap under load: open loop at half of the measured capacity of fraud_classifier for
#      SWAP_SECS, once without swaps (baseline) and once while a new version is loaded through
#      the repository API (and the old one unloaded by the version policy) every SWAP_EVERY s;
#      prints failed requests and the p99 ratio swap / baseline.
#   2. load/unload cycles: CYCLES unload+load cycles of MiniLM through the repository API;
#      prints the server's resident memory before and after.
# The server runs in explicit model-control mode on a copy of the demo repository.
# Results: bench/results/lifecycle-<time>/ and a summary on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18700}
SWAP_SECS=${SWAP_SECS:-60}   # 0: only the load/unload cycles
SWAP_EVERY=${SWAP_EVERY:-5}
CYCLES=${CYCLES:-20}
OUT="bench/results/lifecycle-$(date +%Y%m%d-%H%M%S)"
REPO="$OUT/repo"
mkdir -p "$REPO"
./fulcrum --version >/dev/null   # builds if needed (and copies MiniLM into the demo repository)
cp -r demo/models/fraud_classifier demo/models/all_minilm_l6_v2 "$REPO/"
URL="http://127.0.0.1:$PORT"

./fulcrum serve --model-repository "$REPO" --model-control-mode explicit \
  --load-model fraud_classifier --load-model all_minilm_l6_v2 \
  --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 240); do
  curl -sf "$URL/v2/health/ready" >/dev/null && break
  sleep 0.5
done

bench() { # name args...
  local name=$1; shift
  ./fulcrum bench -m fraud_classifier --url "$URL" --output "$OUT/$name.json" "$@" \
    > "$OUT/$name.txt" 2>&1 || { echo "bench $name failed:"; cat "$OUT/$name.txt"; exit 1; }
}
num() { python3 -c "import json;print(json.load(open('$OUT/$1.json'))[0]['$2'])"; }

if [ "$SWAP_SECS" -gt 0 ]; then
bench capacity --concurrency 16 --warmup 3s --window 3s --max-windows 3
CAP=$(num capacity requests_per_second)
HALF=$(python3 -c "print(max(1, int($CAP / 2)))")
echo "fraud_classifier capacity ${CAP} req/s; swapping at ${HALF} req/s (Poisson)"

bench baseline --rate "$HALF" --distribution poisson --warmup 3s --window "${SWAP_SECS}s" --max-windows 1

# The swapper: every SWAP_EVERY s a new version folder appears and is loaded; the version
# policy (latest 1) then unloads the previous one, which first finishes what it has.
swapper() {
  local v=1 n=0
  sleep 3   # the bench's warm-up
  local end=$((SECONDS + SWAP_SECS))
  while [ $SECONDS -lt $end ]; do
    sleep "$SWAP_EVERY"
    cp -r "$REPO/fraud_classifier/$v" "$REPO/fraud_classifier/$((v + 1))"
    local code
    code=$(curl -s -o "$OUT/load-$((v + 1)).json" -w '%{http_code} %{time_total}' \
      -X POST "$URL/v2/repository/models/fraud_classifier/load")
    echo "v$((v + 1)) $code" >> "$OUT/swaps.txt"
    rm -rf "${REPO:?}/fraud_classifier/$v"
    v=$((v + 1)); n=$((n + 1))
  done
}
: > "$OUT/swaps.txt"
swapper & SWAPPER=$!
bench swapping --rate "$HALF" --distribution poisson --warmup 3s --window "${SWAP_SECS}s" --max-windows 1
wait $SWAPPER || true
curl -s -X POST "$URL/v2/repository/index" > "$OUT/index-after-swaps.json"
fi

rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
minilm() {
  curl -sf "$URL/v2/models/all_minilm_l6_v2/infer" -d '{"inputs":[
    {"name":"input_ids","shape":[1,4],"datatype":"INT64","data":[101,7592,2088,102]},
    {"name":"attention_mask","shape":[1,4],"datatype":"INT64","data":[1,1,1,1]},
    {"name":"token_type_ids","shape":[1,4],"datatype":"INT64","data":[0,0,0,0]}]}' > /dev/null
}
for _ in $(seq 20); do minilm; done
RSS0=$(rss)
: > "$OUT/cycles.txt"
for i in $(seq "$CYCLES"); do
  curl -sf -X POST "$URL/v2/repository/models/all_minilm_l6_v2/unload" > /dev/null
  curl -sf -X POST "$URL/v2/repository/models/all_minilm_l6_v2/load" > /dev/null
  for _ in $(seq 5); do minilm; done
  echo "$i $(rss)" >> "$OUT/cycles.txt"
done
RSS1=$(rss)

python3 - "$OUT" "$RSS0" "$RSS1" "$CYCLES" <<'PY'
import json, sys
out, rss0, rss1, cycles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def row(n): return json.load(open(f"{out}/{n}.json"))[0]
import os
if os.path.exists(f"{out}/swapping.json"):
  b, s = row("baseline"), row("swapping")
  swaps = [l.split() for l in open(f"{out}/swaps.txt") if l.strip()]
  ok_swaps = sum(1 for l in swaps if l[1] == "200")
  def failed(r): return r["errors_total"] + r["sent_total"] - r["completed_total"]
  print(f"results in {out}")
  print(f"hot swap: {ok_swaps}/{len(swaps)} loads answered 200 "
        f"(load call p50 {sorted(float(l[2]) for l in swaps)[len(swaps)//2] if swaps else 0:.3f} s)")
  print(f"  baseline: sent {b['sent_total']}, failed {failed(b)}, p99 {b['latency_p99_ms']} ms")
  print(f"  swapping: sent {s['sent_total']}, failed {failed(s)}, p99 {s['latency_p99_ms']} ms"
        f" = {s['latency_p99_ms'] / b['latency_p99_ms']:.2f}x baseline")
curve = [int(l.split()[1]) for l in open(f"{out}/cycles.txt") if l.strip()]
print(f"{cycles} unload/load cycles of MiniLM: RSS {rss0/1024:.0f} MiB -> {rss1/1024:.0f} MiB"
      f" = {rss1/rss0:.3f}x; after cycle 2 {curve[min(1, len(curve) - 1)]/1024:.0f} MiB,"
      f" so {rss1/curve[min(1, len(curve) - 1)]:.3f}x over the cycles after it")
PY
