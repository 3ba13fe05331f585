#!/usr/bin/env bash
# The bench CLIENT's share of issue 12's gRPC / REST binary ratio at c=1 (fraud): one warm server
# (SERVER's launcher), two clients (the launchers OLD and NEW, each's `fulcrum bench`), gRPC and
# REST binary, interleaved by round (odd: old grpc, new grpc, new rest, old rest; even: reversed
# kinds), a fresh client JVM per run. Prints per client the median req/s, the client's CPU per
# request (its client_cpu_fraction of the 2-core machine over the rate) and the median of the round
# ratios gRPC / REST binary (docs/PERFORMANCE.md, "Session 16: gRPC at c=1").
#   OLD=<launcher of the previous build> NEW=./fulcrum PORT=24020 N=4 WARM=15 DUR=8 bash bench/grpc_c1_client.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-24020}; N=${N:-4}; WARM=${WARM:-15}; DUR=${DUR:-8}
OLD=${OLD:?OLD=launcher of the previous build}; NEW=${NEW:-./fulcrum}; SERVER=${SERVER:-$NEW}
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)-grpc-c1-client}; mkdir -p $OUT
export FULCRUM_NO_BUILD=1
setsid $SERVER serve --http-port $PORT --grpc-port $((PORT+1)) --metrics-port $((PORT+2)) >$OUT/server.log 2>&1 &
spg=$!
trap 'kill -TERM -- -$spg 2>/dev/null; wait $spg 2>/dev/null' EXIT
BODY='{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[1250.0,3,0.92,410.5,14,20,1,0]}]}'
for _ in $(seq 600); do curl -fs -o /dev/null -H 'Content-Type: application/json' -d "$BODY" "http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" 2>/dev/null && break; sleep 0.1; done
# warm the server's two paths
$NEW bench -m fraud_classifier --protocol grpc --grpc-url 127.0.0.1:$((PORT+1)) --url http://127.0.0.1:$PORT --concurrency 1 --warmup 30s --window 5s --max-windows 1 >/dev/null 2>&1
$NEW bench -m fraud_classifier --protocol rest-binary --grpc-url 127.0.0.1:$((PORT+1)) --url http://127.0.0.1:$PORT --concurrency 1 --warmup 30s --window 5s --max-windows 1 >/dev/null 2>&1
one() { # round client-tag launcher proto
  local f=$OUT/$1-$2-$4.json
  $3 bench -m fraud_classifier --protocol $4 --url http://127.0.0.1:$PORT --grpc-url 127.0.0.1:$((PORT+1)) --concurrency 1 --warmup ${WARM}s --window ${DUR}s --max-windows 1 --output $f >>$OUT/bench.log 2>&1
  python3 -c "import json; r=json.load(open('$f'))[0]; print(json.dumps({'round':$1,'client':'$2','proto':'$4','rps':r['requests_per_second'],'client_us':round(r['client_cpu_fraction']*2e6/r['requests_per_second'],1),'p50':r['latency_p50_ms'],'load':open('/proc/loadavg').read().split()[0]}))" | tee -a $OUT/rows.jsonl
}
for r in $(seq $N); do
  if [ $((r%2)) = 1 ]; then order="old:grpc new:grpc new:rest-binary old:rest-binary"; else order="old:rest-binary new:rest-binary new:grpc old:grpc"; fi
  for x in $order; do c=${x%%:*}; p=${x#*:}; L=$OLD; [ $c = new ] && L=$NEW; one $r $c $L $p; done
done
python3 - $OUT/rows.jsonl <<'PY' | tee $OUT/summary.txt
import json,sys,statistics as st
rows=[json.loads(l) for l in open(sys.argv[1])]
for c in ('old','new'):
  g=[r for r in rows if r['client']==c and r['proto']=='grpc']; s=[r for r in rows if r['client']==c and r['proto']=='rest-binary']
  ratios=[x['rps']/y['rps'] for x in g for y in s if x['round']==y['round']]
  print(f"{c}: gRPC {st.median([r['rps'] for r in g]):.0f}/s (client {st.median([r['client_us'] for r in g]):.1f} us/req), REST binary {st.median([r['rps'] for r in s]):.0f}/s (client {st.median([r['client_us'] for r in s]):.1f} us/req); gRPC/REST median of round ratios {st.median(ratios):.3f} {[round(x,3) for x in ratios]}")
PY
