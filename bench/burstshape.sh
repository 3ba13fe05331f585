#!/usr/bin/env bash
# Fraud at 4,000 req/s offered in two arrival shapes, interleaved (K=1, K=4, K=1, K=4, ...):
#   K=1: one `hey -c 16 -q 250`, as bench/fraudcpu.sh offers it. hey's -q is per worker and all 16
#        workers' tickers start together, so requests arrive in bursts of up to 16 every 4 ms;
#   K=4: four `hey -c 4 -q 250` started ~1 ms apart: bursts of up to 4 every 4 ms, same rate.
# Prints per window: requests, passes (the model's execution_count), rows per pass, server CPU per
# request (/proc), the engine threads' CPU and voluntary switches (wake-ups) per request.
# Usage: [LAUNCHER=./fulcrum] [PORT=28500] [DUR=8] bash bench/burstshape.sh [rounds]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
PORT=${PORT:-28500}; DUR=${DUR:-8}; LAUNCHER=${LAUNCHER:-./fulcrum}
TMP=$(mktemp -d)
B=$TMP/fraud.json
cp "$BENCH_FRAUD_BODY" $B
URL=http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer
setsid "$LAUNCHER" serve --http-port $PORT --grpc-port $((PORT+1)) --metrics-port $((PORT+2)) > $TMP/server.log 2>&1 &
PID=$!
trap 'kill -TERM -- "-$PID" 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 300); do curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary @$B $URL && break; sleep 0.2; done
JPID=$(pgrep -P $PID java || echo $PID); [ -d /proc/$JPID ] || JPID=$PID
hey -z 15s -c 64 -m POST -T application/json -D $B $URL > /dev/null 2>&1
stats() { curl -s http://127.0.0.1:$PORT/v2/models/fraud_classifier/stats | python3 -c 'import json,sys; d=json.load(sys.stdin)["model_stats"][0]; print(d["inference_count"], d["execution_count"])'; }
cpu() { python3 -c "
import os,sys
f=open('/proc/$1/stat').read(); f=f[f.rindex(')')+2:].split(); tot=int(f[11])+int(f[12])
eng=0; vs=0
for t in os.listdir('/proc/$1/task'):
  try:
    n=open(f'/proc/$1/task/{t}/comm').read().strip(); s=open(f'/proc/$1/task/{t}/stat').read(); s=s[s.rindex(')')+2:].split()
  except OSError: continue
  if n.startswith('fulcrum-exec'):
    eng+=int(s[11])+int(s[12])
    vs+=int([l for l in open(f'/proc/$1/task/{t}/status') if l.startswith('voluntary_ctxt')][0].split()[1])
print(tot, eng, vs)"; }
run() { # $1 = K: how many hey processes share the 16 connections (1: one burst of 16 per tick)
  read i0 e0 < <(stats); read c0 g0 v0 < <(cpu $JPID)
  K=$1; HP=()
  for k in $(seq $K); do hey -z ${DUR}s -c $((16/K)) -q 250 -m POST -T application/json -D $B $URL > $TMP/hey$k.txt 2>&1 & HP+=($!); sleep 0.00$((4/K)); done
  wait "${HP[@]}"
  read i1 e1 < <(stats); read c1 g1 v1 < <(cpu $JPID)
  n=$((i1-i0)); x=$((e1-e0))
  echo "K=$1 requests $n passes $x rows/pass $(python3 -c "print(round($n/max(1,$x),2))") serverCPU/req $(python3 -c "print(round(($c1-$c0)*10000/max(1,$n),1))")us engineWakes/req $(python3 -c "print(round(($v1-$v0)/max(1,$n),3))") engineCPU/req $(python3 -c "print(round(($g1-$g0)*10000/max(1,$n),1))")us load $(cut -d' ' -f1 /proc/loadavg)"
}
hey -z 5s -c 16 -q 250 -m POST -T application/json -D $B $URL > /dev/null 2>&1
for r in $(seq ${1:-2}); do run 1; run 4; done
