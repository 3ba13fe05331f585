#!/usr/bin/env bash
# The scheduler benchmarks of docs/PERFORMANCE.md, in one run on this machine:
#   1. dynamic batching on vs off at concurrency 64 (throughput)
#   2. batching on vs off at concurrency 1 (p50), alternating C1_ROUNDS times (median ratio)
#   3. saturation throughput vs the in-process ONNX Runtime ceiling at the formed batch size
#   4. 3x overload for OVERLOAD_SECS: accounting, rejection p99, heap
# for the demo fraud classifier, the generated wide tabular model (bench/make_models.sh) and
# MiniLM (sequence length 16). The overload runs on MiniLM: its capacity is the model's, so an
# open-loop client on the same machine can really send three times it.
# Results: bench/results/<time>/ (JSON per run) and a summary on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18600}
WINDOW=${WINDOW:-5s}
WINDOWS=${WINDOWS:-5}
OVERLOAD_SECS=${OVERLOAD_SECS:-60}
C1_ROUNDS=${C1_ROUNDS:-3}
PROTOCOL=${PROTOCOL:-rest-binary}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

[ -f bench/models/tabular_wide_batching/1/model.onnx ] || bash bench/make_models.sh
./fulcrum --version >/dev/null   # builds if needed

./fulcrum serve --model-repository bench/models --http-port "$PORT" \
  --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
  sleep 1
done
URL="http://127.0.0.1:$PORT"

shapes() { # model -> extra bench flags
  case "$1" in
    minilm_*) echo "--shape input_ids:16 --shape attention_mask:16 --shape token_type_ids:16" ;;
  esac
}
bench() { # name model args...
  local name=$1 model=$2; shift 2
  # shellcheck disable=SC2046
  set -- $(shapes "$model") "$@"
  ./fulcrum bench -m "$model" --url "$URL" --protocol "$PROTOCOL" --warmup 3s \
    --window "$WINDOW" --max-windows "$WINDOWS" --output "$OUT/$name.json" "$@" \
    > "$OUT/$name.txt" 2>&1 || { echo "bench $name failed:"; cat "$OUT/$name.txt"; exit 1; }
}
stats() { curl -sf "$URL/v2/models/$1/stats" > "$OUT/$2.stats.json"; }

for family in fraud tabular_wide minilm; do
  for mode in batching no_batching; do
    bench "${family}_${mode}_c64" "${family}_${mode}" --concurrency 64
  done
  # c=1 latency: on and off alternate C1_ROUNDS times, so that the machine's drift falls on both
  for round in $(seq "$C1_ROUNDS"); do
    for mode in batching no_batching; do
      WINDOW=3s WINDOWS=3 bench "${family}_${mode}_c1_r${round}" "${family}_${mode}" --concurrency 1
    done
  done
  stats "${family}_batching" "${family}_before_sat"
  bench "${family}_batching_sat" "${family}_batching" --concurrency 64
  stats "${family}_batching" "${family}_after_sat"
  BATCH=$(python3 - "$OUT" "$family" <<'PY'
import json, sys
out, fam = sys.argv[1:]
a = json.load(open(f"{out}/{fam}_before_sat.stats.json"))["model_stats"][0]
b = json.load(open(f"{out}/{fam}_after_sat.stats.json"))["model_stats"][0]
inf = b["inference_count"] - a["inference_count"]; ex = b["execution_count"] - a["execution_count"]
print(max(1, round(inf / max(ex, 1))))
PY
)
  echo "$BATCH" > "$OUT/${family}_formed_batch.txt"
  # shellcheck disable=SC2046
  ./fulcrum bench -m "${family}_batching" --model-repository bench/models --in-process $(shapes "${family}_batching") \
    --batch-size "$BATCH" --concurrency 1 --warmup 3s --window "$WINDOW" --max-windows "$WINDOWS" \
    --output "$OUT/${family}_ceiling.json" > "$OUT/${family}_ceiling.txt" 2>&1
  # ONNX Runtime's own batching gain (formed batch vs batch 1, per row), to read the server's against
  # shellcheck disable=SC2046
  ./fulcrum bench -m "${family}_batching" --model-repository bench/models --in-process $(shapes "${family}_batching") \
    --batch-size 1 --concurrency 1 --warmup 3s --window "$WINDOW" --max-windows "$WINDOWS" \
    --output "$OUT/${family}_ceiling_b1.json" > "$OUT/${family}_ceiling_b1.txt" 2>&1
done

# 3x overload of MiniLM, whose capacity is the model's (the client can really send 3x); one ORT
# thread, so a core stays for the transport (bench/models/minilm_overload/config.yaml)
bench minilm_overload_sat minilm_overload --concurrency 64
SAT=$(python3 -c "import json;print(json.load(open('$OUT/minilm_overload_sat.json'))[0]['requests_per_second'])")
RATE=$(python3 -c "print(max(1, int(3*$SAT)))")
( for _ in $(seq $((OVERLOAD_SECS / 5 + 2))); do
    curl -sf "http://127.0.0.1:$((PORT + 2))/metrics" | awk '/^jvm_memory_used_bytes\{area="heap"\}/ {print $2}'
    sleep 5
  done ) > "$OUT/overload_heap_bytes.txt" &
SAMPLER=$!
stats minilm_overload overload_before
# shellcheck disable=SC2046
./fulcrum bench -m minilm_overload $(shapes minilm_overload) --url "$URL" --protocol "$PROTOCOL" \
  --rate "$RATE" --distribution poisson --warmup 5s --window "${OVERLOAD_SECS}s" --max-windows 1 \
  --timeout 10s --output "$OUT/overload.json" > "$OUT/overload.txt" 2>&1
stats minilm_overload overload_after
kill $SAMPLER 2>/dev/null || true

python3 - "$OUT" "$RATE" "$C1_ROUNDS" <<'PY'
import json, statistics, sys
out, rate, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def row(name): return json.load(open(f"{out}/{name}.json"))[0]
def num(r, k): return float(r[k])
print(f"results in {out}")
for fam in ("fraud", "tabular_wide", "minilm"):
    on, off = row(f"{fam}_batching_c64"), row(f"{fam}_no_batching_c64")
    pairs = [(num(row(f"{fam}_batching_c1_r{r}"), 'latency_p50_ms'), num(row(f"{fam}_no_batching_c1_r{r}"), 'latency_p50_ms'))
             for r in range(1, rounds + 1)]
    sat, ceil = row(f"{fam}_batching_sat"), row(f"{fam}_ceiling")
    batch = open(f"{out}/{fam}_formed_batch.txt").read().strip()
    print(f"{fam}: batching on/off at c=64: {num(on,'inferences_per_second'):.0f} / {num(off,'inferences_per_second'):.0f} infer/s"
          f" = {num(on,'inferences_per_second')/num(off,'inferences_per_second'):.2f}x")
    ratios = [a / b for a, b in pairs]
    print(f"{fam}: p50 at c=1 batching on/off, {rounds} alternating rounds: "
          + ", ".join(f"{a:.3f}/{b:.3f} ms" for a, b in pairs)
          + f"; ratios {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")
    print(f"{fam}: saturation {num(sat,'inferences_per_second'):.0f} infer/s (formed batch {batch}) vs in-process"
          f" ceiling {num(ceil,'inferences_per_second'):.0f} infer/s at batch {batch} = {num(sat,'inferences_per_second')/num(ceil,'inferences_per_second'):.2f}x")
    b1 = row(f"{fam}_ceiling_b1")
    print(f"{fam}: ONNX Runtime alone, batch {batch} vs batch 1: {num(ceil,'inferences_per_second'):.0f} / {num(b1,'inferences_per_second'):.0f}"
          f" infer/s = {num(ceil,'inferences_per_second')/num(b1,'inferences_per_second'):.2f}x per row")
o = json.load(open(f"{out}/overload.json"))[0]
heap = [int(float(x)) for x in open(f"{out}/overload_heap_bytes.txt").read().split()] or [0]
a = json.load(open(f"{out}/overload_before.stats.json"))["model_stats"][0]
b = json.load(open(f"{out}/overload_after.stats.json"))["model_stats"][0]
srv_ok = b["inference_stats"]["success"]["count"] - a["inference_stats"]["success"]["count"]
srv_rej = b["fulcrum"]["rejected"] - a["fulcrum"]["rejected"]
srv_to = b["fulcrum"]["timed_out"] - a["fulcrum"]["timed_out"]
sent, done, errs = int(o["sent_total"]), int(o["completed_total"]), int(o["errors_total"])
print(f"overload of minilm_overload at {rate} req/s (3x its saturation) for the whole run:"
      f" client sent {sent}, answered {done} ({done - errs} ok, {errs} errors);"
      f" server: {srv_ok} ok + {srv_rej} rejected + {srv_to} timed out = {srv_ok + srv_rej + srv_to};"
      f" sent == ok + rejected + timed out: {sent == srv_ok + srv_rej + srv_to}")
print(f"overload measured window: ok {o['ok_total']}, rejected {o['rejected_total']}, timed out {o['timed_out_total']},"
      f" other {o['unavailable_total'] + o['other_errors_total']}; rejection p99 {o['rejected_p99_ms']} ms from the schedule, {o['rejected_service_p99_ms']} ms from the send;"
      f" ok p99 {o['latency_p99_ms']} ms (queue timeout 1000 ms); late sends {100 * o['late_sends_fraction']:.1f}%;"
      f" heap used min/max {min(heap) / 2**20:.0f}/{max(heap) / 2**20:.0f} MiB")
PY
