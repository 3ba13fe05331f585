#!/usr/bin/env bash
# Bytes the server allocates per request (issue 12, "Per-request cost"), for four kinds of request:
#   fraud-json     fraud REST JSON   (POST /v2/models/fraud_classifier/infer, bench/bodies/fraud.json)
#   fraud-binary   fraud REST with Triton's binary tensor extension
#   fraud-grpc     fraud gRPC ModelInfer (raw_input_contents)
#   minilm-json    MiniLM REST JSON, 16 tokens (bench/bodies/minilm16.json)
# For the build in BASE_ROOT (a tree or a copy of one with its launcher and dist) and this tree,
# ROUNDS times interleaved (odd rounds base first, even rounds this tree first): a fresh `fulcrum
# serve`, each kind warmed WARM s (`fulcrum bench`), then per kind: the success counter read while
# idle, a JFR recording of jdk.ThreadAllocationStatistics (each thread's allocated bytes at the
# recording's start and end), DUR s of load, the recording stopped and the counter read again.
# The load is open loop at a fixed rate (FRAUD_RATE req/s for the fraud kinds, MINILM_RATE for
# MiniLM), the same for both builds: how many requests share a pass or a wake-up of an event loop,
# and so the bytes a request, depend on the rate, so a closed loop would compare a build on a busy
# moment of this shared machine with one on a quiet one (CONC=16 RATE=0: closed loop anyway).
# Bytes a request, by the requests answered in between (exact):
#   request threads  the event loops (fulcrum-http-*, fulcrum-grpc-*) and the engine threads
#                    (fulcrum-exec-*): the work a request does
#   all threads      every thread but JFR's and the attach listener: adds the periodic ones (the
#                    dashboard's sampler, the drift monitor's reports, ...), which a lower rate
#                    spreads over fewer requests
#   BASE_ROOT=/tmp/base ROUNDS=2 PORT=24400 bash bench/alloc_kinds.sh
# KINDS="fraud-json fraud-grpc" picks kinds. Without BASE_ROOT only this tree is measured.
# Results: bench/results/<time>-alloc_kinds/ (rows.jsonl, summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-24400}
WARM=${WARM:-8}
DUR=${DUR:-6}
CONC=${CONC:-16}
RATE=${RATE:-}
FRAUD_RATE=${FRAUD_RATE:-2000}
MINILM_RATE=${MINILM_RATE:-100}
KINDS=${KINDS:-fraud-json fraud-binary fraud-grpc minilm-json}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-alloc_kinds"
mkdir -p "$OUT"
. bin/find-java.sh
fulcrum_find_java
export FULCRUM_NO_BUILD=${FULCRUM_NO_BUILD:-1} FULCRUM_NO_AOT=${FULCRUM_NO_AOT:-1}
cat >"$OUT/alloc.jfc" <<'JFC'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ThreadAllocationStatistics"><setting name="enabled">true</setting><setting name="period">everyChunk</setting></event>
</configuration>
JFC
ARMS=(main)
[ -z "${BASE_ROOT:-}" ] || ARMS=(base main)
SP=
trap '[ -z "$SP" ] || kill -TERM -- "-$SP" 2>/dev/null || true' EXIT

kind_args() { # kind -> the `fulcrum bench` arguments that send it
  case $1 in
    fraud-json) echo "-m fraud_classifier --protocol rest-json --input-data $ROOT/$BENCH_FRAUD_BODY" ;;
    fraud-binary) echo "-m fraud_classifier --protocol rest-binary --input-data $ROOT/$BENCH_FRAUD_BODY" ;;
    fraud-grpc) echo "-m fraud_classifier --protocol grpc --input-data $ROOT/$BENCH_FRAUD_BODY" ;;
    minilm-json) echo "-m all_minilm_l6_v2 --protocol rest-json --input-data $ROOT/$BENCH_MINILM_BODY" ;;
    *) echo "unknown kind $1" >&2; exit 1 ;;
  esac
}
BENCH_FRAUD_BODY=${BENCH_FRAUD_BODY#"$ROOT/"}
BENCH_MINILM_BODY=${BENCH_MINILM_BODY#"$ROOT/"}

run_bench() { # kind seconds
  local load rate=${RATE:-$FRAUD_RATE}
  [ "${1%%-*}" = fraud ] || rate=${RATE:-$MINILM_RATE}
  load=(--rate "$rate")
  [ "$rate" != 0 ] || load=(--concurrency "$CONC")
  # shellcheck disable=SC2046 # kind_args is a list of words on purpose
  "$ROOT/fulcrum" bench $(kind_args "$1") --url "http://127.0.0.1:$PORT" --grpc-url "127.0.0.1:$((PORT + 1))" \
    "${load[@]}" --warmup 500ms --window "${2}s" --max-windows 1 >>"$OUT/bench.log" 2>&1
}

successes() { # model -> its nv_inference_request_success
  curl -fs "http://127.0.0.1:$((PORT + 2))/metrics" \
    | awk -v m="model=\"$1\"" '/^nv_inference_request_success/ && index($0, m) { s += $NF } END { printf "%d\n", s }'
}

for r in $(seq "$ROUNDS"); do
  order=("${ARMS[@]}")
  if [ $((r % 2)) = 0 ] && [ ${#ARMS[@]} = 2 ]; then order=(main base); fi
  for arm in "${order[@]}"; do
    home=$ROOT
    [ "$arm" = main ] || home=$(cd "$BASE_ROOT" && pwd)
    (cd "$home" && FULCRUM_HOME=$home exec setsid ./fulcrum serve --http-port "$PORT" --grpc-port $((PORT + 1)) \
      --metrics-port $((PORT + 2))) >"$OUT/server-$arm-$r.log" 2>&1 &
    SP=$!
    bench_wait_ready "$PORT" 120 "$SP"
    jpid=$(pgrep -n -f -- "--http-port $PORT ") # the server's JVM (the launcher may exec or fork it)
    for kind in $KINDS; do run_bench "$kind" "$WARM"; done
    for kind in $KINDS; do
      model=fraud_classifier
      [ "${kind%%-*}" = fraud ] || model=all_minilm_l6_v2
      jfr="$ROOT/$OUT/alloc-$arm-$r-$kind.jfr"
      before=$(successes "$model")
      "$JAVA_HOME/bin/jcmd" "$jpid" JFR.start name=alloc settings="$ROOT/$OUT/alloc.jfc" filename="$jfr" >/dev/null
      run_bench "$kind" "$DUR"
      "$JAVA_HOME/bin/jcmd" "$jpid" JFR.stop name=alloc >/dev/null
      after=$(successes "$model")
      "$JAVA_HOME/bin/jfr" print --json --events jdk.ThreadAllocationStatistics "$jfr" >"${jfr%.jfr}.json"
      python3 - "${jfr%.jfr}.json" "$arm" "$r" "$kind" $((after - before)) <<'PY' | tee -a "$OUT/rows.jsonl"
import collections, json, sys
path, arm, r, kind, n = sys.argv[1:]
by = collections.defaultdict(list)
for e in json.load(open(path))["recording"]["events"]:
    v = e["values"]
    by[v["thread"]["javaName"] if v["thread"] else "?"].append((v["startTime"], v["allocated"]))
loops = work = total = 0
for name, xs in by.items():
    if name.startswith("JFR ") or name == "Attach Listener":
        continue
    xs.sort()
    d = xs[-1][1] - (xs[0][1] if len(xs) > 1 else 0)  # one snapshot: a thread started since
    total += d
    if name.startswith(("fulcrum-http-", "fulcrum-grpc-")) and "accept" not in name:
        loops += d
    if name.startswith(("fulcrum-http-", "fulcrum-grpc-", "fulcrum-exec-")) and "accept" not in name:
        work += d
n = max(1, int(n))
print(json.dumps({"round": int(r), "arm": arm, "kind": kind, "requests": n,
                  "request_threads": round(work / n), "event_loops": round(loops / n),
                  "all_threads": round(total / n)}))
PY
    done
    kill -TERM -- "-$SP" 2>/dev/null || true
    wait "$SP" 2>/dev/null || true
    SP=
  done
done
python3 - "$OUT/rows.jsonl" <<'PY' | tee "$OUT/summary.txt"
import collections, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("bytes a request, median of the rounds [each round]: request threads | all threads")
for kind in dict.fromkeys(x["kind"] for x in rows):
    cells = []
    for arm in ("base", "main"):
        xs = [x for x in rows if x["kind"] == kind and x["arm"] == arm]
        if xs:
            w = [x["request_threads"] for x in xs]
            a = [x["all_threads"] for x in xs]
            cells.append(f"{arm} {statistics.median(w):,.0f} {w} | {statistics.median(a):,.0f} {a}")
    print(f"{kind:13} " + "   ".join(cells))
PY
echo "results in $OUT"
