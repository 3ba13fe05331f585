#!/usr/bin/env bash
# The training run behind `./fulcrum aot` (JDK 25+, JEP 483/514/515). By default (first) it makes
# a cache of only the classes a start loads by its first answers on the demo models, cut at that
# moment from the class list of a real start (below): what the JVM maps and preloads at creation
# scales with what the cache holds, and the first answers need ~4,500 of the ~6,600 classes a full
# training stores (docs/PERFORMANCE.md, "Cold start", session 14). FULCRUM_AOT_TRAINING=full: the
# training before session 14, which starts the server with -XX:AOTCacheOutput, sends a few
# requests of each kind (REST JSON and binary on both demo models, metadata, statistics, metrics,
# gRPC through `fulcrum bench`) and stops it; the JVM writes the AOT cache as it exits. Usage (the
# launcher passes these):
#   aot-train.sh AOT_FILE JAVA [JVM options...] -cp CLASSPATH
set -euo pipefail
AOT=$1; shift
# FULCRUM_AOT_TRAINING=startup: the full training's server with only what bench/coldstart.sh's
# probe sends (no gain measured, docs/PERFORMANCE.md "Third round").
TRAINING=${FULCRUM_AOT_TRAINING:-first}
JAVA=("$@")
# The cache keeps loaded and linked classes but no method profiles (JEP 515): replaying the
# training run's profiles made the JIT compile at start what the first answer does not need (C1+C2
# 0.34 s of CPU by the first fraud answer against 0.26 s without) and left a warm server at ~1.1x
# the CPU per request of one whose JIT profiled the real traffic itself (A/B on one build,
# docs/PERFORMANCE.md "Session 10"). FULCRUM_AOT_PROFILES=1 records them anyway.
PROFILES=(-XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining)
[ "${FULCRUM_AOT_PROFILES:-0}" = 1 ] && PROFILES=()
LOG="${AOT%.aot}-train.log"
rm -f "$AOT" "$AOT.tmp"
echo "fulcrum aot: training run (log: $LOG)..." >&2

if [ "$TRAINING" = first ]; then
  # Only the classes a start loads by its first answers, cut at that moment (not what follows: the
  # JVM metrics at readiness, the monitor's baseline, the dashboard, gRPC's request path): the
  # server runs with -XX:DumpLoadedClassList and a class-load log; each demo model is asked as soon
  # as the REST port is up (as bench/coldstart_probe.py asks) and the log's length is taken when
  # both have answered; the list, cut to the classes loaded by then, is dumped into a static
  # archive with AOT class linking, which -XX:AOTCache takes as it takes the default cache
  # (docs/PERFORMANCE.md, "Cold start", session 14): against the full training's cache on the same
  # build, ~12 % less CPU and ~13 % sooner to the first fraud answer (busy machine, 44 rounds). What
  # comes after the first answers (gRPC's requests, a scrape, metadata) loads from the jars.
  LIST="${AOT%.aot}-classes.lst" LOADS="${AOT%.aot}-loads.log"
  rm -f "$LIST" "$LOADS"
  # serve's own options (the launcher passes them for `serve` only): Netty's JFR events and leak
  # detector off, as a real start has them.
  "${JAVA[@]}" -Dio.netty.jfr.enabled=false -Dio.netty.leakDetection.level=disabled \
    -XX:DumpLoadedClassList="$LIST" -Xlog:class+load:file="$LOADS" \
    dev.fulcrum.tools.FulcrumCli serve --http-port 0 --grpc-port 0 --metrics-port 0 > "$LOG" 2>&1 &
  SERVER=$!
  trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
  FRAUD='{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[1250.0,3,0.92,410.5,14,20,1,0]}]}'
  MINILM='{"inputs":[{"name":"input_ids","shape":[1,4],"datatype":"INT64","data":[101,7592,2088,102]},{"name":"attention_mask","shape":[1,4],"datatype":"INT64","data":[1,1,1,1]},{"name":"token_type_ids","shape":[1,4],"datatype":"INT64","data":[0,0,0,0]}]}'
  HTTP="" fraud=0 minilm=0
  for _ in $(seq 6000); do
    [ -n "$HTTP" ] || HTTP=$(sed -n 's#.*HTTP (Open Inference Protocol) on http://[^:]*:\([0-9][0-9]*\).*#\1#p' "$LOG" | head -1)
    kill -0 $SERVER 2>/dev/null || { echo "fulcrum aot: the server exited; see $LOG" >&2; exit 1; }
    if [ -n "$HTTP" ]; then
      curl -s -o /dev/null "http://127.0.0.1:$HTTP/v2/health/ready" || true
      [ $fraud = 1 ] || { curl -sf -o /dev/null "http://127.0.0.1:$HTTP/v2/models/fraud_classifier/infer" -d "$FRAUD" && fraud=1; } || true
      [ $minilm = 1 ] || { curl -sf -o /dev/null "http://127.0.0.1:$HTTP/v2/models/all_minilm_l6_v2/infer" -d "$MINILM" && minilm=1; } || true
      [ $fraud = 1 ] && [ $minilm = 1 ] && break
    fi
    sleep 0.005
  done
  CUT=$(wc -l < "$LOADS")
  kill -TERM $SERVER
  wait $SERVER || true
  trap - EXIT
  [ $fraud = 1 ] && [ $minilm = 1 ] && [ -s "$LIST" ] || { echo "fulcrum aot: no first answers; see $LOG" >&2; exit 1; }
  # The list cut to the classes (and their lambdas, resolved constants) loaded by then; the
  # JDK's own lambda-form lines are kept whole. Left out even when loaded by then: what a start
  # does once its loads are done, which the cut catches when the loads end early (since session 25
  # MiniLM's instances share one session, and the demo's loads end before its first answer): the
  # text pipeline's tokenizer (DJL's binding and JNA) and the idle heap trimmer's downcall (the FFM
  # linker). In the cache they cost the first fraud answer ~15 ms (preloaded at every start:
  # docs/PERFORMANCE.md, "Session 25 (lead): one ONNX Runtime session").
  awk -v cut="$CUT" '
    NR == FNR {
      if (FNR <= cut && match($0, /\] [^ ]+ source: /)) {
        n = substr($0, RSTART + 2, RLENGTH - 11); gsub(/\./, "/", n); sub(/[$][$]Lambda.*/, "", n)
        if (n !~ /^(com\/sun\/jna\/|ai\/djl\/|java\/lang\/foreign\/|jdk\/internal\/foreign\/)/) {
          keep[n] = 1
        }
      }
      next
    }
    /^#/ || NF == 0 || $1 == "@lambda-form-invoker" { print; next }
    $1 == "@cp" || $1 == "@lambda-proxy" { if ($2 in keep) print; next }
    /^@/ || ($1 in keep) { print }
  ' "$LOADS" "$LIST" > "$LIST.cut"
  mv "$LIST.cut" "$LIST"; rm -f "$LOADS"
  "${JAVA[@]}" -Xshare:dump -XX:SharedClassListFile="$LIST" -XX:SharedArchiveFile="$AOT.tmp" \
    -XX:+AOTClassLinking -Xlog:cds=error >> "$LOG" 2>&1 || { echo "fulcrum aot: the dump failed; see $LOG" >&2; exit 1; }
  mv "$AOT.tmp" "$AOT"
  echo "fulcrum aot: wrote $AOT ($(du -h "$AOT" | cut -f1), $(grep -vc '^[#@]' "$LIST") classes listed); ./fulcrum uses it from now on" >&2
  exit 0
fi

"${JAVA[@]}" "${PROFILES[@]}" -XX:AOTCacheOutput="$AOT.tmp" -Xlog:aot=warning -Xlog:cds=warning \
  dev.fulcrum.tools.FulcrumCli serve --http-port 0 --grpc-port 0 --metrics-port 0 > "$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT

port_of() { # the port in the first log line that matches $1
  sed -n "s#.*$1[^0-9]*:\([0-9][0-9]*\).*#\1#p" "$LOG" | head -1
}
HTTP="" GRPC="" METRICS=""
for _ in $(seq 600); do
  HTTP=$(port_of 'HTTP (Open Inference Protocol) on http://[^:]*'); GRPC=$(port_of 'gRPC (Open Inference Protocol) on [^:]*')
  METRICS=$(port_of 'Prometheus metrics on http://[^:]*')
  if [ -n "$HTTP" ] && curl -sf "http://127.0.0.1:$HTTP/v2/health/ready" >/dev/null; then break; fi
  kill -0 $SERVER 2>/dev/null || { echo "fulcrum aot: the server exited; see $LOG" >&2; exit 1; }
  sleep 0.2
done
[ -n "$HTTP" ] || { echo "fulcrum aot: the server did not become ready; see $LOG" >&2; exit 1; }
# Read the other ports again now that the server is ready (readiness waits for them): gRPC logs
# its port a few ms before readiness, so a read in the same round as the ready check could miss it,
# and the training then skipped gRPC: a cache without gRPC's and protobuf's ~1,000 classes (46
# instead of 55 MB) in two of three trainings in session 11.
GRPC=$(port_of 'gRPC (Open Inference Protocol) on [^:]*')
METRICS=$(port_of 'Prometheus metrics on http://[^:]*')
[ -n "$GRPC" ] || echo "fulcrum aot: no gRPC port in $LOG; training without gRPC" >&2

URL="http://127.0.0.1:$HTTP"
FRAUD='{"id":"t","inputs":[{"name":"features","shape":[2,8],"datatype":"FP32","data":[[1250.0,3,0.92,410.5,14,20,1,0],[23.5,14,0.05,3.2,2,2900,0,1]]}]}'
MINILM='{"inputs":[{"name":"input_ids","shape":[1,4],"datatype":"INT64","data":[101,7592,2088,102]},{"name":"attention_mask","shape":[1,4],"datatype":"INT64","data":[1,1,1,1]},{"name":"token_type_ids","shape":[1,4],"datatype":"INT64","data":[0,0,0,0]}]}'
HEADER='{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","parameters":{"binary_data_size":32}}]}'
BIN=$(mktemp); trap 'kill -TERM $SERVER 2>/dev/null || true; rm -f "$BIN"' EXIT
{ printf '%s' "$HEADER"; head -c 32 /dev/zero; } > "$BIN"
if [ "$TRAINING" = startup ]; then
  for _ in 1 2 3; do
    curl -sf "$URL/v2/models/fraud_classifier/infer" -d "$FRAUD" >/dev/null
    curl -sf "$URL/v2/models/all_minilm_l6_v2/infer" -d "$MINILM" >/dev/null
  done
else
  for _ in $(seq 20); do
    curl -sf "$URL/v2/models/fraud_classifier/infer" -d "$FRAUD" >/dev/null
    curl -sf "$URL/v2/models/all_minilm_l6_v2/infer" -d "$MINILM" >/dev/null
    curl -sf "$URL/v2/models/fraud_classifier/infer" -H "Inference-Header-Content-Length: ${#HEADER}" \
      -H 'Content-Type: application/octet-stream' --data-binary @"$BIN" >/dev/null
  done
  for path in /v2 /v2/health/live /v2/models/fraud_classifier /v2/models/fraud_classifier/config \
      /v2/models/fraud_classifier/stats /v2/models/nope; do
    curl -s "$URL$path" >/dev/null
  done
  [ -n "$METRICS" ] && curl -s "http://127.0.0.1:$METRICS/metrics" >/dev/null
  [ -n "$GRPC" ] && "${JAVA[@]}" dev.fulcrum.tools.FulcrumCli bench -m fraud_classifier --protocol grpc \
    --url "$URL" --grpc-url "127.0.0.1:$GRPC" --concurrency 2 --warmup 1s --window 1s \
    --max-windows 1 >> "$LOG" 2>&1 || true
fi

kill -TERM $SERVER
wait $SERVER || true
trap - EXIT
rm -f "$BIN"
[ -f "$AOT.tmp" ] || { echo "fulcrum aot: the JVM wrote no cache; see $LOG" >&2; exit 1; }
mv "$AOT.tmp" "$AOT"
echo "fulcrum aot: wrote $AOT ($(du -h "$AOT" | cut -f1)); ./fulcrum uses it from now on" >&2
