#!/usr/bin/env bash
# Per-request cost side by side (issue 12; docs/PERFORMANCE.md, "Against hand-written peers"):
# Fulcrum as the README starts it (./fulcrum serve), the Java peer (bench/peers/java: JDK
# HttpServer + ONNX Runtime + Jackson, 8 threads) and the Node peer (bench/peers/node: fastify +
# onnxruntime-node), ONE AT A TIME, interleaved fulcrum, java, node, fulcrum, ... over N rounds,
# same demo models, same JSON bodies, same clients. Each round of each server measures:
#   cpu_fraud    server CPU per request, µs: utime+stime of the server process (/proc/<pid>/stat)
#                before and after DUR s of fraud at RATE_FRAUD req/s offered (hey -q, open-ish
#                loop), divided by the requests completed
#   cpu_minilm   the same for MiniLM (16 tokens) at RATE_MINILM req/s
#   cpu_live     the same for GET /v2/health/live at RATE_FRAUD req/s: the floor a request costs
#                the server's transport before any model work (fraud CPU / live CPU is printed)
#   live64       GET /v2/health/live req/s at c=64 (wrk -t1 -c64): the client's own bound
#   fraud64      fraud req/s at c=64, closed loop (wrk -t1 -c64)
#   fraud_c1     fraud latency at c=1: p50 and p99, ms (wrk -t1 -c1 --latency: 1 µs resolution;
#                C1_CLIENT=hey for `hey -c 1` as before session 18, whose summary has 0.1 ms steps:
#                0.2 against 0.2 ms could not tell a p50 of 0.8x from 1.0x)
#   minilm_c1    MiniLM latency at c=1: p50 and p99, ms
#   minilm16     MiniLM req/s at c=16 (wrk -t1 -c16)
# and, for Fulcrum only (fulcrum-extra.jsonl; the summary's last lines):
#   rows/pass    MiniLM rows per pass the server formed in the c=16 window (its statistics
#                endpoint: inference_count / execution_count, after minus before)
#   ort_rows     ONNX Runtime in process (bench/peers/java/OrtRows.java, no server) on the same
#                model, as the demo config serves it: INSTANCES callers side by side (one
#                process each, rows/s summed), INTRA_OP threads each (both read from the demo
#                MiniLM config.yaml; threads default to cores / instances), spinning off, at
#                that batch size: rows/s; Fulcrum's c=16 req/s over it (target >= 0.9)
#   grpc_c1      fraud req/s at c=1 over gRPC and over REST binary (`fulcrum bench`, the client of
#                bench/protocols.sh, PROTO_WARM (40 s) of warm-up each first: the launcher's
#                -XX:CompileThresholdScaling=4 puts C2 at ~60,000 calls, i.e. ~15-30 s at c=1, and
#                the REST path is already hot from the runs before while gRPC's is not; with 10 s
#                the ratio measured the JIT's progress, 0.66 against 1.00 at 40 s, session 9);
#                gRPC/REST (target >= 0.8)
# and prints the median of each over the rounds with its ratio to each peer (the machine wanders
# by ±30 % between minutes: interleaving and medians are what make the ratios worth reading).
#   N=5 DUR=10 PORT=18900 bash bench/peers.sh
#   SERVERS="fulcrum java-peer" N=3 DUR=5 bash bench/peers.sh      (a subset, shorter)
#   FULCRUM_LAUNCHER=/path/to/wrapper bash bench/peers.sh           (another way to start Fulcrum)
#   FULCRUM_B_LAUNCHER=/path/to/wrapper SERVERS="fulcrum fulcrum-b java-peer" bash bench/peers.sh
#                               (an A/B of two Fulcrum starts in the same rounds: fulcrum-b is
#                               measured as fulcrum is, extras included, and printed beside it)
# A model of your own beside the demo's (or instead of them, EXTRA_ONLY=1): EXTRA_MODEL is a model
# folder (<dir>/<version>/model.onnx, config.yaml optional: Fulcrum serves it as a user would) and
# EXTRA_BODY a JSON request body for it; each round then also measures, for fulcrum and java-peer
# (the Node peer serves the demo models only, so SERVERS defaults to those two):
#   cpu_extra    server CPU per request at EXTRA_RATE req/s (default 200), as cpu_fraud
#   extra64      req/s at c=64, closed loop (wrk -t1 -c64)
#   extra_c1     latency at c=1: p50 and p99, ms
#   bash bench/make_unseen_models.sh && python3 bench/unseen_bodies.py /tmp/bodies
#   EXTRA_MODEL=bench/models/unseen/cnn_image EXTRA_BODY=/tmp/bodies/cnn_image.json EXTRA_ONLY=1 EXTRA_WARM=60 \
#     SERVERS="fulcrum java-peer" N=3 DUR=5 PORT=25100 bash bench/peers.sh
# Needs wrk and hey (Debian: apt-get install -y wrk hey), Node 20 and npm (the Node peer's
# packages are installed from the npm registry on first use, without their install scripts).
# Results: bench/results/<time>-peers/ (one JSON line per server and round; summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
N=${N:-5}
DUR=${DUR:-10}
WARM=${WARM:-10}  # a first warm-up of both models at low concurrency; each window then has its own (PRE)
# PRE: every measured window is preceded by an unmeasured one of PRE s with the same client, the same
# concurrency and the same rate. A JIT-compiled path is specialized to the traffic it saw: a switch of
# client (wrk's requests -> hey's, c=8 -> c=16 new connections) sends C2's code back to the interpreter
# ("made not entrant: uncommon trap") and C2 recompiles for seconds. Measured on the quiet machine
# (session 10): right after wrk's warm-up the C2 thread took 45-48 µs per request of a fixed-rate window
# (fraud 183 µs/request, health 110), after one such window of the same shape 1 µs (fraud 120, health 36).
# The peers get the same windows: the figures are each server's steady state. At least 10 s: on a busy
# machine one 8 s window left C2 at 21 µs per health request still.
PRE=${PRE:-$((DUR > 10 ? DUR : 10))}
PORT=${PORT:-18900}
RATE_FRAUD=${RATE_FRAUD:-4000}
RATE_MINILM=${RATE_MINILM:-150}
MINILM_CONFIG=demo/models/all_minilm_l6_v2/config.yaml
INSTANCES=${INSTANCES:-$(awk '/^instance-count:/{print $2}' "$MINILM_CONFIG")}
INSTANCES=${INSTANCES:-1}
INTRA_OP=${INTRA_OP:-$(awk '/^  intra-op-threads:/{print $2}' "$MINILM_CONFIG")}
INTRA_OP=${INTRA_OP:-$(($(nproc) / INSTANCES > 0 ? $(nproc) / INSTANCES : 1))}  # Fulcrum's default: cores / instances
PROTO_WARM=${PROTO_WARM:-40s}
C1_CLIENT=${C1_CLIENT:-wrk}
ORT_SECONDS=${ORT_SECONDS:-5}
EXTRA_MODEL=${EXTRA_MODEL:-}
EXTRA_BODY=${EXTRA_BODY:-}
EXTRA_RATE=${EXTRA_RATE:-200}
EXTRA_ONLY=${EXTRA_ONLY:-0}
# The extra model's warm-up (wrk c=8) before its windows; a slow model gets fewer requests in WARM s
# than the demo's fraud, and the launcher's -XX:CompileThresholdScaling=4 wants ~4x the invocations
# before C2 (docs/PERFORMANCE.md, "Session 19 (unseen19)"): give it longer, e.g. EXTRA_WARM=60.
EXTRA_WARM=${EXTRA_WARM:-$WARM}
if [ -n "$EXTRA_MODEL" ]; then
  SERVERS=(${SERVERS:-fulcrum java-peer})
else
  SERVERS=(${SERVERS:-fulcrum java-peer node-peer})
  EXTRA_ONLY=0
fi
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-peers"
mkdir -p "$OUT"
# The extra model is served from a repository of its own (a link to its folder), by both servers.
EXTRA_REPO="$OUT/extra-repo"
EXTRA_NAME=""
if [ -n "$EXTRA_MODEL" ]; then
  [ -f "$EXTRA_BODY" ] || { echo "EXTRA_MODEL needs EXTRA_BODY, a JSON request body file" >&2; exit 1; }
  EXTRA_NAME=$(basename "$EXTRA_MODEL")
  mkdir -p "$EXTRA_REPO"
  ln -s "$(cd "$EXTRA_MODEL" && pwd)" "$EXTRA_REPO/$EXTRA_NAME"
  cp "$EXTRA_BODY" "$OUT/extra.json"
  EXTRA_BODY="$OUT/extra.json"
fi
for tool in wrk hey node; do
  command -v "$tool" >/dev/null || { echo "peers.sh needs $tool (apt-get install -y wrk hey)" >&2; exit 1; }
done

# FULCRUM_LAUNCHER replaces ./fulcrum (e.g. a wrapper around an already built dist); by default
# the launcher builds first if the sources changed.
LAUNCHER=${FULCRUM_LAUNCHER:-./fulcrum}
[ -n "${FULCRUM_LAUNCHER:-}" ] || ./fulcrum --version >/dev/null
. bin/find-java.sh
fulcrum_find_java
DIST=fulcrum-tools/target/dist
PEER_CLASSES=bench/peers/java/target/classes
for src in Peer OrtRows; do
  if [ ! -f "$PEER_CLASSES/$src.class" ] || [ "bench/peers/java/$src.java" -nt "$PEER_CLASSES/$src.class" ]; then
    mkdir -p "$PEER_CLASSES"
    "$JAVA_HOME/bin/javac" -d "$PEER_CLASSES" -cp "$DIST/lib/*" "bench/peers/java/$src.java"
  fi
done
# onnxruntime-node's install script would download CUDA binaries; the CPU binary is in the package.
[ -d bench/peers/node/node_modules ] || (cd bench/peers/node && npm ci --ignore-scripts --no-audit --no-fund)

# The bodies: the demo's fraud features, and MiniLM with 16 tokens; all three servers get these.
FRAUD="$OUT/fraud.json"
MINILM="$OUT/minilm.json"
cp "$BENCH_FRAUD_BODY" "$FRAUD"
cp "$BENCH_MINILM_BODY" "$MINILM"
# wrk sends the body from a Lua script.
wrk_script() { # body-file -> script-file
  local s="$OUT/$(basename "$1" .json).lua"
  bench_wrk_lua "$1" "$s"
  echo "$s"
}
FRAUD_LUA=$(wrk_script "$FRAUD")
MINILM_LUA=$(wrk_script "$MINILM")
[ -z "$EXTRA_NAME" ] || EXTRA_LUA=$(wrk_script "$EXTRA_BODY")
# The repositories each server serves: the demo's, the extra model's, or both.
FULCRUM_REPOS=()
PEER_REPOS=()
if [ -n "$EXTRA_NAME" ]; then
  if [ "$EXTRA_ONLY" != 1 ]; then
    FULCRUM_REPOS+=(--model-repository demo/models)
    PEER_REPOS+=(--models demo/models)
  fi
  FULCRUM_REPOS+=(--model-repository "$EXTRA_REPO")
  PEER_REPOS+=(--models "$EXTRA_REPO")
fi

start() { # server port -> pid of the server process (its own process group)
  local cmd
  case $1 in
    fulcrum-b) cmd=("${FULCRUM_B_LAUNCHER:?fulcrum-b needs FULCRUM_B_LAUNCHER}" serve --http-port "$2" --grpc-port $(($2 + 1)) --metrics-port $(($2 + 2)) ${FULCRUM_REPOS[@]+"${FULCRUM_REPOS[@]}"}) ;;
    fulcrum) cmd=("$LAUNCHER" serve --http-port "$2" --grpc-port $(($2 + 1)) --metrics-port $(($2 + 2)) ${FULCRUM_REPOS[@]+"${FULCRUM_REPOS[@]}"}) ;;
    java-peer) cmd=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$PEER_CLASSES:$DIST/lib/*" Peer --port "$2" ${PEER_REPOS[@]+"${PEER_REPOS[@]}"}) ;;
    node-peer) cmd=(node bench/peers/node/server.js --port "$2") ;;
  esac
  setsid "${cmd[@]}" >"$OUT/$1.log" 2>&1 &
  echo $!
}
server_pid() { # launcher pid -> the pid that serves (./fulcrum execs java, so it is the same)
  echo "$1"
}
wait_ready() { # port
  for _ in $(seq 600); do
    if curl -fs "http://127.0.0.1:$1/v2/health/ready" >/dev/null 2>&1 \
      && { [ "$EXTRA_ONLY" = 1 ] || curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$FRAUD" "http://127.0.0.1:$1/v2/models/fraud_classifier/infer"; } \
      && { [ "$EXTRA_ONLY" = 1 ] || curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$MINILM" "http://127.0.0.1:$1/v2/models/all_minilm_l6_v2/infer"; } \
      && { [ -z "$EXTRA_NAME" ] || curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$EXTRA_BODY" "http://127.0.0.1:$1/v2/models/$EXTRA_NAME/infer"; }; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
hey_run() { # args... -> hey's summary on stdout
  hey "$@" 2>&1
}
cpu_per_request() { # pid port model-or-live body rate -> µs of server CPU per completed request
  local pid=$1 port=$2 model=$3 body=$4 rate=$5
  # hey's -q is per worker: 16 workers at rate/16 each.
  local c=16 q before after out ok
  q=$(python3 -c "print(max(1, round($rate / 16)))")
  local pass
  for pass in pre measured; do
    [ "$pass" = measured ] || [ "$PRE" != 0 ] || continue
    local secs=$DUR
    [ "$pass" = measured ] || secs=$PRE
    before=$(bench_ticks "$pid")
    if [ "$model" = live ]; then
      out=$(hey_run -z "${secs}s" -c "$c" -q "$q" "http://127.0.0.1:$port/v2/health/live")
    else
      out=$(hey_run -z "${secs}s" -c "$c" -q "$q" -m POST -T application/json -D "$body" "http://127.0.0.1:$port/v2/models/$model/infer")
    fi
    after=$(bench_ticks "$pid")
  done
  ok=$(echo "$out" | awk '$1 == "[200]" { print $2; exit }')
  python3 -c "import os; t=os.sysconf('SC_CLK_TCK'); print(round(($after - $before) / t / max(1, ${ok:-0}) * 1e6, 1))"
}
wrk_rate() { # conns script-or-empty url -> req/s (after an unmeasured window of PRE s, the same shape)
  local c=$1 s=$2 url=$3
  if [ "$PRE" != 0 ]; then
    if [ -n "$s" ]; then wrk -t1 -c"$c" -d"${PRE}s" -s "$s" "$url" >/dev/null 2>&1; else wrk -t1 -c"$c" -d"${PRE}s" "$url" >/dev/null 2>&1; fi
  fi
  if [ -n "$s" ]; then
    wrk -t1 -c"$c" -d"${DUR}s" -s "$s" "$url" 2>&1 | awk '/Requests\/sec/ { print $2 }'
  else
    wrk -t1 -c"$c" -d"${DUR}s" "$url" 2>&1 | awk '/Requests\/sec/ { print $2 }'
  fi
}
latency_c1() { # port model body lua -> "p50 p99" in ms (after an unmeasured window of PRE s, the same shape)
  if [ "$C1_CLIENT" = hey ]; then
    [ "$PRE" = 0 ] || hey_run -z "${PRE}s" -c 1 -m POST -T application/json -D "$3" "http://127.0.0.1:$1/v2/models/$2/infer" >/dev/null
    hey_run -z "${DUR}s" -c 1 -m POST -T application/json -D "$3" "http://127.0.0.1:$1/v2/models/$2/infer" \
      | awk '/ 50%% in/ || / 50% in/ { p50 = $3 } / 99%% in/ || / 99% in/ { p99 = $3 }
             END { if (p50 == "" || p99 == "") print "null null"; else printf "%.3f %.3f\n", p50 * 1000, p99 * 1000 }'
    return
  fi
  # wrk --latency: its percentiles come from a histogram of 1 µs resolution ("50%  182.00us").
  [ "$PRE" = 0 ] || wrk -t1 -c1 -d"${PRE}s" -s "$4" "http://127.0.0.1:$1/v2/models/$2/infer" >/dev/null 2>&1
  wrk -t1 -c1 -d"${DUR}s" --latency -s "$4" "http://127.0.0.1:$1/v2/models/$2/infer" 2>&1 \
    | awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return "" }
           /Latency Distribution/ { d = 1 } d && $1 == "50%" { p50 = ms($2) } d && $1 == "99%" { p99 = ms($2) }
           END { if (p50 == "" || p99 == "") print "null null"; else printf "%.3f %.3f\n", p50, p99 }'
}

# --- Fulcrum only: the batch it formed at c=16, ORT in process at that batch, gRPC vs REST binary.
model_counts() { # port model -> "inference_count execution_count" from the statistics endpoint
  curl -fs "http://127.0.0.1:$1/v2/models/$2/stats" | python3 bench/model_counts.py 2>/dev/null || echo "0 0"
}
rows_per_pass() { # "inf0 exe0" "inf1 exe1" -> rows per pass between them
  python3 -c "a=[int(x) for x in '$1'.split()]; b=[int(x) for x in '$2'.split()]; e=b[1]-a[1]; print(round((b[0]-a[0])/e, 2) if e > 0 else 'null')"
}
ort_rows() { # batch -> rows/s of ONNX Runtime in process at that batch (no server running): INSTANCES callers summed
  [ "$1" != null ] || { echo null; return; }
  local i
  for i in $(seq "$INSTANCES"); do
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$PEER_CLASSES:$DIST/lib/*" OrtRows \
      --model demo/models/all_minilm_l6_v2/1/all-minilm-l6-v2-q.onnx --batch "$1" \
      --threads "$INTRA_OP" --seconds "$ORT_SECONDS" 2>>"$OUT/ort.log" | tail -1 >"$OUT/ort-$i.out" &
  done
  wait
  python3 - "$OUT" "$INSTANCES" <<'PY' || echo null
import sys
v = [float(open(f"{sys.argv[1]}/ort-{i}.out").read().strip()) for i in range(1, int(sys.argv[2]) + 1)]
print(round(sum(v), 1))
PY
}
bench_c1() { # port protocol -> fraud req/s at c=1 through `fulcrum bench` (warmed PROTO_WARM first)
  local f="$OUT/bench-c1-$2.json"
  "$LAUNCHER" bench -m fraud_classifier --protocol "$2" --url "http://127.0.0.1:$1" \
    --grpc-url "127.0.0.1:$(($1 + 1))" --concurrency 1 --warmup "$PROTO_WARM" --window "${DUR}s" \
    --max-windows 1 --output "$f" >>"$OUT/bench-c1.log" 2>&1 || { echo null; return; }
  python3 -c "import json; print(json.load(open('$f'))[0]['requests_per_second'])"
}

echo "peers: $N rounds of ${SERVERS[*]}, ${DUR}s per measurement; results in $OUT" >&2
for round in $(seq "$N"); do
  for i in "${!SERVERS[@]}"; do
    s=${SERVERS[$i]}
    port=$((PORT + 10 * i))
    pid=$(start "$s" "$port")
    if ! wait_ready "$port"; then
      echo "round $round $s: did not become ready; see $OUT/$s.log" >&2
      kill -TERM -- "-$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      continue
    fi
    spid=$(server_pid "$pid")
    base="http://127.0.0.1:$port"
    cpu_fraud= cpu_minilm= cpu_live= live64= fraud64= fraud_p50= fraud_p99= minilm_p50= minilm_p99= minilm16=
    cpu_extra= extra64= extra_p50= extra_p99=
    if [ "$EXTRA_ONLY" != 1 ]; then
      # Warm-up of each path (WARM s), so that the JIT compilers' CPU is not counted as the requests'.
      wrk -t1 -c8 -d"${WARM}s" -s "$FRAUD_LUA" "$base/v2/models/fraud_classifier/infer" >/dev/null 2>&1
      wrk -t1 -c4 -d"${WARM}s" -s "$MINILM_LUA" "$base/v2/models/all_minilm_l6_v2/infer" >/dev/null 2>&1
      cpu_fraud=$(cpu_per_request "$spid" "$port" fraud_classifier "$FRAUD" "$RATE_FRAUD")
      cpu_minilm=$(cpu_per_request "$spid" "$port" all_minilm_l6_v2 "$MINILM" "$RATE_MINILM")
      cpu_live=$(cpu_per_request "$spid" "$port" live "" "$RATE_FRAUD")
      live64=$(wrk_rate 64 "" "$base/v2/health/live")
      fraud64=$(wrk_rate 64 "$FRAUD_LUA" "$base/v2/models/fraud_classifier/infer")
      read -r fraud_p50 fraud_p99 <<<"$(latency_c1 "$port" fraud_classifier "$FRAUD" "$FRAUD_LUA")"
      read -r minilm_p50 minilm_p99 <<<"$(latency_c1 "$port" all_minilm_l6_v2 "$MINILM" "$MINILM_LUA")"
      [ "${s%-b}" != fulcrum ] || counts0=$(model_counts "$port" all_minilm_l6_v2)
      minilm16=$(wrk_rate 16 "$MINILM_LUA" "$base/v2/models/all_minilm_l6_v2/infer")
      if [ "${s%-b}" = fulcrum ]; then
        batch=$(rows_per_pass "$counts0" "$(model_counts "$port" all_minilm_l6_v2)")
        # gRPC and REST binary, each warmed first; which goes first alternates by round.
        if [ $((round % 2)) = 1 ]; then
          grpc_c1=$(bench_c1 "$port" grpc); rest_c1=$(bench_c1 "$port" rest-binary)
        else
          rest_c1=$(bench_c1 "$port" rest-binary); grpc_c1=$(bench_c1 "$port" grpc)
        fi
      fi
    fi
    if [ -n "$EXTRA_NAME" ]; then
      wrk -t1 -c8 -d"${EXTRA_WARM}s" -s "$EXTRA_LUA" "$base/v2/models/$EXTRA_NAME/infer" >/dev/null 2>&1
      cpu_extra=$(cpu_per_request "$spid" "$port" "$EXTRA_NAME" "$EXTRA_BODY" "$EXTRA_RATE")
      extra64=$(wrk_rate 64 "$EXTRA_LUA" "$base/v2/models/$EXTRA_NAME/infer")
      read -r extra_p50 extra_p99 <<<"$(latency_c1 "$port" "$EXTRA_NAME" "$EXTRA_BODY" "$EXTRA_LUA")"
    fi
    line=$(printf '{"round":%d,"server":"%s","cpu_fraud_us":%s,"cpu_minilm_us":%s,"cpu_live_us":%s,"live64":%s,"fraud64":%s,"fraud_c1_p50_ms":%s,"fraud_c1_p99_ms":%s,"minilm_c1_p50_ms":%s,"minilm_c1_p99_ms":%s,"minilm16":%s,"cpu_extra_us":%s,"extra64":%s,"extra_c1_p50_ms":%s,"extra_c1_p99_ms":%s,"load1":%s}' \
      "$round" "$s" "${cpu_fraud:-null}" "${cpu_minilm:-null}" "${cpu_live:-null}" "${live64:-null}" "${fraud64:-null}" \
      "${fraud_p50:-null}" "${fraud_p99:-null}" "${minilm_p50:-null}" "${minilm_p99:-null}" "${minilm16:-null}" \
      "${cpu_extra:-null}" "${extra64:-null}" "${extra_p50:-null}" "${extra_p99:-null}" "$(cut -d' ' -f1 /proc/loadavg)")
    echo "$line" >>"$OUT/$s.jsonl"
    echo "round $round $s: $line" >&2
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "${s%-b}" = fulcrum ] && [ "$EXTRA_ONLY" != 1 ]; then  # ORT in process after the server has gone: nothing else running
      ort=$(ort_rows "$batch")
      extra=$(printf '{"round":%d,"minilm16":%s,"rows_per_pass":%s,"ort_rows":%s,"grpc_c1":%s,"rest_binary_c1":%s}' \
        "$round" "${minilm16:-null}" "${batch:-null}" "${ort:-null}" "${grpc_c1:-null}" "${rest_c1:-null}")
      echo "$extra" >>"$OUT/$s-extra.jsonl"
      echo "round $round $s extra: $extra" >&2
    fi
  done
done

python3 - "$OUT" "${SERVERS[@]}" <<'PY' | tee "$OUT/summary.txt"
import json, os, statistics, sys
out, servers = sys.argv[1], sys.argv[2:]
cols = [("cpu_fraud_us", "CPU/req fraud µs", False), ("cpu_minilm_us", "CPU/req MiniLM µs", False),
        ("cpu_live_us", "CPU/req live µs", False),
        ("live64", "live c=64 req/s", True), ("fraud64", "fraud c=64 req/s", True),
        ("fraud_c1_p50_ms", "fraud c=1 p50 ms", False), ("fraud_c1_p99_ms", "fraud c=1 p99 ms", False),
        ("minilm_c1_p50_ms", "MiniLM c=1 p50 ms", False), ("minilm_c1_p99_ms", "MiniLM c=1 p99 ms", False),
        ("minilm16", "MiniLM c=16 req/s", True),
        ("cpu_extra_us", "CPU/req extra µs", False), ("extra64", "extra c=64 req/s", True),
        ("extra_c1_p50_ms", "extra c=1 p50 ms", False), ("extra_c1_p99_ms", "extra c=1 p99 ms", False),
        ("load1", "load average (1 min)", False)]
med = {}
for s in servers:
    path = f"{out}/{s}.jsonl"
    runs = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
    med[s] = {"n": len(runs)}
    for c, _, _ in cols:
        vals = [r[c] for r in runs if r.get(c) is not None]
        med[s][c] = statistics.median(vals) if vals else None
json.dump(med, open(f"{out}/summary.json", "w"), indent=1)
peers = [s for s in servers if not s.startswith("fulcrum")]
ab = "fulcrum-b" in servers and "fulcrum" in servers

print(f"medians over rounds (n per server: {', '.join(f'{s} {med[s][chr(110)]}' for s in servers)})")
print(f"{'':20}" + "".join(f"{s:>14}" for s in servers)
      + ("".join(f"{'fulcrum/' + p:>20}" for p in peers) if "fulcrum" in servers else "")
      + (f"{'fulcrum-b/fulcrum':>20}" if ab else ""))
for c, label, _ in cols:
    row = f"{label:20}" + "".join(f"{med[s][c]:>14.3f}" if med[s][c] is not None else f"{'-':>14}" for s in servers)
    if "fulcrum" in servers:
        for p in peers:
            f, v = med["fulcrum"][c], med[p][c]
            row += f"{f / v:>20.2f}" if f is not None and v else f"{'-':>20}"
    if ab:
        f, v = med["fulcrum-b"][c], med["fulcrum"][c]
        row += f"{f / v:>20.2f}" if f is not None and v else f"{'-':>20}"
    print(row)
for s in servers:
    if s.startswith("fulcrum") and med[s]["live64"] and med[s]["fraud64"]:
        print(f"{s} fraud c=64 / its own live c=64: {med[s]['fraud64'] / med[s]['live64']:.2f}")
for s in servers:
    if med[s]["cpu_fraud_us"] and med[s]["cpu_live_us"]:
        print(f"{s} CPU/req fraud / its own live at the same rate: {med[s]['cpu_fraud_us'] / med[s]['cpu_live_us']:.2f}")
PY
for s in fulcrum fulcrum-b; do
[ ! -f "$OUT/$s-extra.jsonl" ] || python3 - "$OUT" "$s" <<'PY' | tee -a "$OUT/summary.txt"
import json, statistics, sys
s = sys.argv[2]
runs = [json.loads(l) for l in open(f"{sys.argv[1]}/{s}-extra.jsonl") if l.strip()]
def med(f):
    v = [x for x in map(f, runs) if x is not None]
    return statistics.median(v) if v else None
bat, ort = med(lambda r: r["rows_per_pass"]), med(lambda r: r["ort_rows"])
inproc = med(lambda r: r["minilm16"] / r["ort_rows"] if r["minilm16"] and r["ort_rows"] else None)
proto = med(lambda r: r["grpc_c1"] / r["rest_binary_c1"] if r["grpc_c1"] and r["rest_binary_c1"] else None)
grpc, rest = med(lambda r: r["grpc_c1"]), med(lambda r: r["rest_binary_c1"])
f = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"
print(f"{s} MiniLM c=16: {f(bat)} rows/pass; ORT in process at that batch {f(ort, 1)} rows/s; "
      f"fulcrum c=16 req/s / in-process rows/s: {f(inproc)} (target >= 0.9; median of round ratios)")
print(f"{s} fraud c=1: gRPC {f(grpc, 1)} req/s, REST binary {f(rest, 1)} req/s; "
      f"gRPC / REST binary: {f(proto)} (target >= 0.8; median of round ratios)")
PY
done
echo "results in $OUT" >&2
