#!/bin/bash
# Early tenant refusal (docs/MODEL_CONFIG.md, "Tenants: what is checked before the body"): what a
# tenant over its rate costs the server when its requests are large, and what the other tenants see.
# A noisy tenant posts MiniLM backfill batches ([16,256] token ids, mask and types as JSON,
# indented to 3 MB) to all_minilm_l6_v2; a quiet tenant sends fraud_classifier requests.
#   bench/tenant_early_refusal.sh [port, default 24320; gRPC and metrics on the next two] [tree]
# [tree]: the checkout whose built distribution serves (default this one), so that a build of
# another commit (main) can be measured by the same script. Needs hey, jq and python3.
# Phases, one server:
#   idle 10 s                   the server's CPU at rest (subtracted below)
#   refusal cost 15 s           tenant "zero" (rate=0.001 burst=1: every request over its rate)
#                               at 50 requests/s (hey 10 workers x 5/s): all 429; the server's
#                               CPU (utime+stime of its process) per refused request
#   quiet alone 15 s            tenant "quiet", fraud, 2 workers x 50/s: p50 / p99
#   quiet + noisy 15 s          the same, while tenant "noisy" (rate=5 burst=5) sends its 3 MB
#                               batches at 10x its rate (10 workers x 5/s)
# Session 43, the shared 2-core machine at load ~1.6, main (9607f004) then this branch, one run each:
#   refusal cost:   main 6.25 ms of server CPU per refused 3 MB request (748 x 429 in 15 s: 4675 ms)
#                   now  2.76 ms (747 x 429: 2060 ms): the body is received and dropped, not copied
#                   into the budget's buffers nor decoded; what is left is the kernel's and the HTTP
#                   codec's work on 3 MB of socket reads per request (keep-alive: they are skipped)
#   quiet alone:    p99 6.4 ms / 7.4 ms
#   quiet + noisy:  p99 191 ms / 370 ms: not a measure of the refusals. The noisy tenant's admitted
#                   5 batches/s of [16,256] take both cores (1.9 / 1.2 cores busy), hey's 10 closed-
#                   loop workers wait on them and reach ~6 requests/s, not 50 (61 x 200 + 31 x 429
#                   / 38 x 200 + 16 x 429): the quiet tenant waits behind the admitted compute, which
#                   a rate limit lets through by design.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
P=${1:-24320}
ROOT=${2:-$HERE}
D=$(mktemp -d); cd "$D"
(umask 077; cat > tokens <<'EOF'
inference  quiet-0123456789abcdef  tenant=quiet
inference  noisy-0123456789abcdef  tenant=noisy rate=5 burst=5
inference  zero-0123456789abcdef   tenant=zero rate=0.001 burst=1
management finops-0123456789abcdef tenant=finops
EOF
)
python3 - <<'EOF'
import json, random
random.seed(7)
rows, seq = 16, 256
ids = [[101] + [random.randint(1000, 29000) for _ in range(seq - 2)] + [102] for _ in range(rows)]
body = {"inputs": [
    {"name": "input_ids", "shape": [rows, seq], "datatype": "INT64", "data": [x for r in ids for x in r]},
    {"name": "attention_mask", "shape": [rows, seq], "datatype": "INT64", "data": [1] * (rows * seq)},
    {"name": "token_type_ids", "shape": [rows, seq], "datatype": "INT64", "data": [0] * (rows * seq)}]}
open("minilm.json", "w").write(json.dumps(body, indent=60))
EOF
cd "$ROOT"
FULCRUM_NO_BUILD=1 FULCRUM_NO_AOT=1 ./fulcrum serve --auth-token-file $D/tokens \
  --http-port $P --grpc-port $((P+1)) --metrics-port $((P+2)) > $D/server.log 2>&1 &
S=$!
until curl -sf localhost:$P/v2/health/ready >/dev/null; do sleep 1; kill -0 $S || exit 1; done
cpu() { awk '{print $14 + $15}' /proc/$S/stat; } # clock ticks (the launcher execs the JVM)
HZ=$(getconf CLK_TCK)
MINILM=http://localhost:$P/v2/models/all_minilm_l6_v2/infer
FRAUD=http://localhost:$P/v2/models/fraud_classifier/infer
hq() { hey -z "$1" -c 2 -q 50 -m POST -T application/json -D "$HERE/bench/bodies/fraud.json" \
  -H "Authorization: Bearer quiet-0123456789abcdef" $FRAUD; }
hn() { hey -z "$1" -c 10 -q 5 -m POST -T application/json -D $D/minilm.json \
  -H "Authorization: Bearer $2" $MINILM; }
codes() { sed -n '/Status code/,/^$/p' "$1" | grep -E '\[' | tr -s ' ' | tr '\n' ' '; }
hq 5s > /dev/null; hn 3s noisy-0123456789abcdef > /dev/null   # warm-up (the noisy one's bucket refills)
sleep 2
c0=$(cpu); sleep 10; c1=$(cpu)
idle=$(echo "($c1 - $c0) / 10" | bc -l)
c0=$(cpu); hn 15s zero-0123456789abcdef > $D/zero.txt; c1=$(cpu)
n=$(grep -E '\[429\]' $D/zero.txt | awk '{print $2}')
echo "== refusal cost: tenant zero, $(codes $D/zero.txt)"
echo "server CPU: $(echo "scale=1; ($c1 - $c0) * 1000 / $HZ" | bc) ms in 15 s," \
  "$(echo "scale=1; ($c1 - $c0 - $idle * 15) * 1000 / $HZ" | bc) ms above idle;" \
  "$(echo "scale=3; ($c1 - $c0 - $idle * 15) * 1000 / $HZ / ${n:-1}" | bc) ms per refused request"
sleep 2
hq 15s > $D/quiet.txt
echo "== quiet alone: $(codes $D/quiet.txt)"; grep -E "Requests/sec|50% in|99% in" $D/quiet.txt
sleep 2
hn 16s noisy-0123456789abcdef > $D/noisy.txt & N=$!
sleep 1
c0=$(cpu); hq 15s > $D/both.txt; c1=$(cpu); wait $N
echo "== quiet while noisy sends 10x its rate: $(codes $D/both.txt)"; grep -E "Requests/sec|50% in|99% in" $D/both.txt
echo "-- noisy: $(codes $D/noisy.txt); server CPU $(echo "scale=2; ($c1 - $c0) / $HZ / 15" | bc) cores"
curl -s -H "Authorization: Bearer finops-0123456789abcdef" localhost:$P/v2/tenants \
  | jq -c '.tenants[] | select(.name != "finops" and .name != "anonymous") | {name, u: [.models[] | {model, requests}]}'
kill $S; wait $S 2>/dev/null
echo "hey's reports and the server's log: $D"
