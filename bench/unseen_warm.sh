#!/usr/bin/env bash
# Server CPU per request, window after window from the start, on one unseen model (no config.yaml):
# Fulcrum as the launcher starts it (-XX:CompileThresholdScaling=4, chosen for cold start),
# Fulcrum with FULCRUM_JAVA_OPTS=-XX:CompileThresholdScaling=1, and the Java peer (bench/peers/java),
# interleaved per round. Each server: started, ready, then K windows of W s at RATE req/s (hey, 16
# connections, as peers.sh's cpu_* figures), utime+stime of the server process from /proc per
# window divided by the requests answered. Shows how long each takes to reach its steady cost,
# and the steady ratio (the median of the last 3 windows).
#   MODEL=mixed_tabular RATE=1000 K=8 W=5 N=2 PORT=25300 bash bench/unseen_warm.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bin/find-java.sh
fulcrum_find_java
MODEL=${MODEL:-mixed_tabular}
RATE=${RATE:-1000}
K=${K:-8}
W=${W:-5}
N=${N:-2}
PORT=${PORT:-25300}
ARMS=(${ARMS:-fulcrum fulcrum-scaling1 java-peer})
LAUNCHER=${FULCRUM_LAUNCHER:-./fulcrum}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-unseen-warm"
mkdir -p "$OUT/repo"
[ -f "bench/models/unseen/$MODEL/1/model.onnx" ] || bash bench/make_unseen_models.sh
ln -s "$(cd "bench/models/unseen/$MODEL" && pwd)" "$OUT/repo/$MODEL"
python3 bench/unseen_bodies.py "$OUT/bodies"
BODY="$OUT/bodies/$MODEL.json"
DIST=fulcrum-tools/target/dist
PEER_CLASSES=bench/peers/java/target/classes
mkdir -p "$PEER_CLASSES"
"$JAVA_HOME/bin/javac" -d "$PEER_CLASSES" -cp "$DIST/lib/*" bench/peers/java/Peer.java
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
q=$(python3 -c "print(max(1, round($RATE / 16)))")
echo "unseen-warm: $MODEL at $RATE req/s, $K windows of ${W}s, $N rounds of ${ARMS[*]}; $OUT" >&2
for round in $(seq "$N"); do
  for arm in "${ARMS[@]}"; do
    case $arm in
      fulcrum) cmd=(env FULCRUM_JAVA_OPTS= "$LAUNCHER" serve) ;;
      fulcrum-scaling1) cmd=(env FULCRUM_JAVA_OPTS=-XX:CompileThresholdScaling=1 "$LAUNCHER" serve) ;;
      java-peer) cmd=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$PEER_CLASSES:$DIST/lib/*" Peer --models "$OUT/repo") ;;
    esac
    if [ "$arm" = java-peer ]; then cmd+=(--port "$PORT"); else
      cmd+=(--model-repository "$OUT/repo" --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2))); fi
    setsid "${cmd[@]}" >"$OUT/$arm-$round.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
      curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$BODY" "http://127.0.0.1:$PORT/v2/models/$MODEL/infer" && break
      sleep 0.1
    done
    # ./fulcrum execs java: $pid is the JVM either way.
    cpu=()
    for k in $(seq "$K"); do
      a=$(ticks "$pid")
      ok=$(hey -z "${W}s" -c 16 -q "$q" -m POST -T application/json -D "$BODY" "http://127.0.0.1:$PORT/v2/models/$MODEL/infer" 2>&1 | awk '$1 == "[200]" { print $2; exit }')
      b=$(ticks "$pid")
      cpu+=("$(python3 -c "import os; print(round(($b - $a) / os.sysconf('SC_CLK_TCK') / max(1, ${ok:-0}) * 1e6, 1))")")
    done
    line=$(printf '{"round":%d,"arm":"%s","load1":%s,"cpu_us":[%s]}' "$round" "$arm" "$(cut -d' ' -f1 /proc/loadavg)" "$(IFS=,; echo "${cpu[*]}")")
    echo "$line" | tee -a "$OUT/runs.jsonl" >&2
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done
python3 - "$OUT" "${ARMS[@]}" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, arms = sys.argv[1], sys.argv[2:]
runs = [json.loads(l) for l in open(f"{out}/runs.jsonl")]
print("server CPU µs per request by window (median over rounds); steady = median of the last 3 windows")
steady = {}
for a in arms:
    rs = [r["cpu_us"] for r in runs if r["arm"] == a]
    if not rs: continue
    cols = [statistics.median(c) for c in zip(*rs)]
    steady[a] = statistics.median(cols[-3:])
    print(f"{a:18} " + " ".join(f"{c:7.0f}" for c in cols) + f"   steady {steady[a]:.0f}")
if "java-peer" in steady:
    for a in arms:
        if a != "java-peer" and a in steady:
            print(f"{a} / java-peer, steady: {steady[a] / steady['java-peer']:.2f}")
print("load average (1 min) at each run's end: " + ", ".join(f"{r['arm']} {r['load1']}" for r in runs))
PY
