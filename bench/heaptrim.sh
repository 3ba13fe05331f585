#!/usr/bin/env bash
# The native heap trim under load (docs/PERFORMANCE.md, "Native heap trim", session 23): the
# unseen image model (3,072 floats a request, binary tensors) at c=64 against two servers in turns,
# A: the JVM's periodic trim every 10 s (-XX:TrimNativeHeapInterval=10000, the launcher's serve
# flag before session 23, serve's idle trim off) and B: serve as shipped (it trims only when
# nothing was answered for --native-heap-trim-secs). Each arm: a fresh server, WARM s of load, then
# the server's own count of inferences read every second for SECS s (mean, median, min, coefficient
# of variation of the per-second rate), then its RSS every 5 s for 25 s after the load stops (the
# memory the trim is for). N rounds, the order A, B in each.
#   N=2 SECS=45 bash bench/heaptrim.sh
# Results: bench/results/<time>-heaptrim/ (summary.txt, server logs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-2}
SECS=${SECS:-45}
WARM=${WARM:-15}
PORT=${PORT:-24600}
FULCRUM=${FULCRUM:-./fulcrum}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-heaptrim"
mkdir -p "$OUT/repo"
[ -f bench/models/unseen/cnn_image/1/model.onnx ] || bash bench/make_unseen_models.sh
if [ "$FULCRUM" = ./fulcrum ]; then ./fulcrum --version >/dev/null; fi # builds if needed
export FULCRUM_NO_BUILD=1
cp -r bench/models/unseen/cnn_image "$OUT/repo/"
# the exhaustive sweep's best of session 22 (tune-20261205-122822): two instances, one thread each
cat > "$OUT/repo/cnn_image/config.yaml" <<'EOF'
max-batch-size: 2
instance-count: 2
onnxruntime:
  intra-op-threads: 1
dynamic-batching:
  enabled: true
  max-queue-delay-microseconds: 100
EOF
per_second() { # port seconds: the server's inferences per second, read every second
  python3 - "$1" "$2" <<'PY'
import json, statistics as st, sys, time, urllib.request
port, secs = sys.argv[1], int(sys.argv[2])
def count():
    url = f"http://127.0.0.1:{port}/v2/models/cnn_image/stats"
    return json.load(urllib.request.urlopen(url))["model_stats"][0]["inference_count"]
prev, t0, xs = count(), time.time(), []
for _ in range(secs):
    time.sleep(1.0)
    c, t = count(), time.time()
    xs.append((c - prev) / (t - t0))
    prev, t0 = c, t
print("  per second (k/s):", " ".join(f"{x / 1000:.1f}" for x in xs))
print(f"  mean {st.mean(xs):.0f}/s, median {st.median(xs):.0f}, min {min(xs):.0f},"
      f" cv {st.pstdev(xs) / st.mean(xs):.3f}")
PY
}
for round in $(seq "$N"); do
  for arm in A B; do
    if [ $arm = A ]; then
      JOPTS="-XX:TrimNativeHeapInterval=10000 -Xlog:trimnative=info"; EXTRA="--native-heap-trim-secs 0"
    else
      JOPTS=""; EXTRA=""
    fi
    # shellcheck disable=SC2086 # EXTRA: words on purpose
    FULCRUM_JAVA_OPTS="$JOPTS" $FULCRUM serve --model-repository "$OUT/repo" --http-port "$PORT" \
      --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) $EXTRA > "$OUT/server-$arm-$round.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 120); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break; sleep 0.5; done
    timeout $((WARM + SECS + 2)) $FULCRUM bench --url "http://127.0.0.1:$PORT" -m cnn_image \
      --concurrency 64 --window 1s --max-windows 1000 --stability 0.1 > /dev/null 2>&1 &
    LOAD=$!
    sleep "$WARM"
    {
      echo "== $arm round $round ($([ $arm = A ] && echo "JVM trim every 10 s" || echo "serve's idle trim"))"
      per_second "$PORT" "$SECS"
    } | tee -a "$OUT/summary.txt"
    wait $LOAD || true
    rss=""; for _ in 1 2 3 4 5; do rss="$rss $(awk '/VmRSS/{printf "%d", $2/1024}' /proc/$SERVER/status)"; sleep 5; done
    echo "  RSS MB every 5 s after the load:$rss" | tee -a "$OUT/summary.txt"
    kill -TERM $SERVER; wait $SERVER 2>/dev/null || true
    sleep 2
  done
done
grep -h "Periodic Trim" "$OUT"/server-A-*.log | head -8 | tee -a "$OUT/summary.txt" || true
echo "results: $OUT"
