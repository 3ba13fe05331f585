# What the bench scripts share: the fraud and MiniLM requests they send, the open-loop client and its
# JIT warm-up, `./fulcrum serve` started for a client script and the wait for a server to be ready,
# a wrk script for a JSON body, and what they read from /proc and from wrk's output. Source it after setting ROOT:
#   . "$ROOT/bench/lib.sh"

# MiniLM's 16-token request ("[CLS] the quick brown fox jumps over the lazy dog and then left to
# bed [SEP]" as bert-base-uncased ids, mask 1, types 0), the bytes Python's json.dump writes.
BENCH_MINILM_BODY="$ROOT/bench/bodies/minilm16.json"

# The demo fraud classifier's request: one transaction of the 8 features (the README's first row).
BENCH_FRAUD_BODY="$ROOT/bench/bodies/fraud.json"

# The demo's MiniLM model file (quantized all-MiniLM-L6-v2), as the build unpacks it.
BENCH_MINILM_MODEL="$ROOT/demo/models/all_minilm_l6_v2/1/all-minilm-l6-v2-q.onnx"

bench_ort_jar() { # -> the ONNX Runtime jar of the built distribution, else the newest in ~/.m2
  local jar
  jar=$(ls "$ROOT"/fulcrum-tools/target/dist/lib/onnxruntime-*.jar 2>/dev/null | head -1)
  [ -n "$jar" ] || jar=$(ls ~/.m2/repository/com/microsoft/onnxruntime/onnxruntime/*/onnxruntime-*.jar | tail -1)
  echo "$jar"
}

bench_need_minilm() { # script-name: exits with a line on stderr when the demo's MiniLM is not built
  [ -f "$BENCH_MINILM_MODEL" ] || { echo "$1 needs the built demo model: ./mvnw -B -ntp -DskipTests package" >&2; exit 1; }
}

bench_wrk_lua() { # json-body-file lua-file: a wrk script that POSTs that body as JSON
  python3 - "$1" "$2" <<'PY'
import json, sys
body = open(sys.argv[1]).read().strip()
open(sys.argv[2], "w").write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                             f"wrk.body = {json.dumps(body)}\n")
PY
}

bench_wait_ready() { # port [seconds, default 60] [server-pid]: until GET /v2/health/ready answers 200; 1 (and a line on stderr) past the time, or at once when that process is gone
  local i
  for ((i = 0; i < ${2:-60} * 5; i++)); do
    curl -sf "http://127.0.0.1:$1/v2/health/ready" >/dev/null 2>&1 && return 0
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
      echo "the server on port $1 (pid $3) exited before it was ready" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "no server ready on port $1 after ${2:-60} s" >&2
  return 1
}

bench_token() { # prefix -> "prefix-" and 24 random hex digits: a token for a server of the script's own
  echo "$1-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

# `./fulcrum serve` as the client scripts (openai_client.sh, tfserving_client.sh, triton_clients.sh)
# run it: the demo models (unless the options name others) on PORT (gRPC PORT+1, metrics PORT+2), in
# a session of its own that the script's exit ends (an EXIT trap), with the environment the call
# gives it (e.g. FULCRUM_INFERENCE_TOKEN=... bench_fulcrum_serve); no build and no AOT cache unless
# FULCRUM_NO_BUILD / FULCRUM_NO_AOT say otherwise. Sets PID and BENCH_SERVE_LOG (its log, a
# temporary file the EXIT trap removes); returns once it is ready, else prints FAIL and the end of
# its log and exits the script.
bench_fulcrum_serve() { # [serve options...]
  BENCH_SERVE_LOG=$(mktemp)
  FULCRUM_NO_BUILD=${FULCRUM_NO_BUILD:-1} FULCRUM_NO_AOT=${FULCRUM_NO_AOT:-1} FULCRUM_HOME="$ROOT" \
    setsid "$ROOT/fulcrum" serve --http-port "$PORT" --grpc-port $((PORT + 1)) \
    --metrics-port $((PORT + 2)) "$@" >"$BENCH_SERVE_LOG" 2>&1 &
  PID=$!
  trap 'kill -TERM -- "-$PID" 2>/dev/null; wait $PID 2>/dev/null; rm -f "$BENCH_SERVE_LOG"' EXIT
  bench_wait_ready "$PORT" 120 "$PID" \
    || { echo "FAIL server did not start:"; tail -20 "$BENCH_SERVE_LOG"; exit 1; }
}

# One demo model served alone, as the SLO scripts (slo.sh, capacity.sh) serve it: a copy of
# demo/models/<model-dir> in repo-dir with config-yaml added to its config.yaml
# (bench/config_variant.py), `fulcrum serve` on PORT (gRPC PORT+1, metrics PORT+2) from the
# script's JAVA and CP, with SERVER_JAVA_OPTS (JVM options) and ON_SERVER (a command prefix array,
# e.g. taskset) where the script set them. Sets SERVER to its pid; returns once it is ready, else
# prints its log and exits the script.
bench_serve_model() { # model-dir repo-dir config-yaml log-file [serve options...]
  local model=$1 repo=$2 config=$3 log=$4
  shift 4
  mkdir -p "$repo"
  cp -rL "$ROOT/demo/models/$model" "$repo/"
  python3 "$ROOT/bench/config_variant.py" "$repo/$model/config.yaml" "$config"
  # shellcheck disable=SC2086 # SERVER_JAVA_OPTS: JVM options of the server, split on spaces
  ${ON_SERVER[@]+"${ON_SERVER[@]}"} "$JAVA" --enable-native-access=ALL-UNNAMED ${SERVER_JAVA_OPTS:-} \
    -cp "$CP" dev.fulcrum.tools.FulcrumCli serve --model-repository "$repo" --http-port "$PORT" \
    --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) "$@" >"$log" 2>&1 &
  SERVER=$!
  bench_wait_ready "$PORT" 180 "$SERVER" || { echo "the server of $repo did not start:" >&2; cat "$log"; exit 1; }
}

bench_openloop() { # out-binary: compiles bench/openloop (the open-loop client of the SLO scripts) there
  cc -O2 -o "$1" "$ROOT/bench/openloop/openloop.c" -lm
}

bench_warm_jit() { # openloop-binary url body: 6 s closed loop at 64 connections (2 s of it warm-up), unmeasured
  "$1" --url "$2" --body "$3" --closed --connections 64 --duration 6 --warmup 2 --slo-ms 10 \
    --out /dev/null >/dev/null 2>&1
}

bench_ticks() { # pid -> its utime + stime in clock ticks (the fields after the command's closing paren)
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

bench_rss_mb() { # pid -> its resident set in MiB
  awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$1/status"
}

bench_cpu_us() { # ticks-before ticks-after requests -> µs of CPU a request (100 ticks a second)
  python3 -c "print(round(($2 - $1) * 10000 / max(1, ${3:-0}), 1))"
}

bench_wrk_figures() { # a `wrk --latency` output file -> "p50_ms p99_ms req_s requests"
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return "" }
       /Latency Distribution/ { d = 1 } d && $1 == "50%" { p50 = ms($2) } d && $1 == "99%" { p99 = ms($2) }
       /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 }
       END { printf "%s %s %s %s\n", p50, p99, rps, n }' "$1"
}
