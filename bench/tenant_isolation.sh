#!/bin/bash
# Tenant isolation (docs/METRICS.md, "Tenants: chargeback and limits"): tenant B (online, hey 2
# workers x 5 requests/s for 15 s) against all_minilm_l6_v2 alone, then while tenant A (backfill,
# hey 32 workers closed-loop for 20 s) floods the same model with an unlimited token, then with a
# token limited to rate=20 burst=20. One server; B's latency and status codes as hey reports them,
# then GET /v2/tenants. Needs the built tree and hey (apt-get install hey).
#   bench/tenant_isolation.sh [port, default 24410; gRPC and metrics on the next two]
# Session 42, the shared 2-core machine under other builds (load ~15), B's figures:
#   A none:        p50  9.7 ms  p95  19.8 ms  p99  75.1 ms  150 x 200
#   A unlimited:   p50 85.0 ms  p95 230.0 ms  p99 349.0 ms  149 x 200  (A served 323 req/s)
#   A rate=20/s:   p50  9.5 ms  p95  31.8 ms  p99  76.4 ms  150 x 200  (A: 418 x 200, 61075 x 429)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=${1:-24410}
D=$(mktemp -d); cd "$D"
(umask 077; cat > tokens <<'EOF'
inference  online-0123456789abcdef       tenant=online
inference  flood-free-0123456789abcdef   tenant=backfill-free
inference  flood-capped-0123456789abcdef tenant=backfill-capped rate=20 burst=20
management finops-0123456789abcdef       tenant=finops
EOF
)
cd "$ROOT"
FULCRUM_NO_BUILD=1 FULCRUM_NO_AOT=1 ./fulcrum serve --auth-token-file $D/tokens --cost-per-hour 3.6 \
  --http-port $P --grpc-port $((P+1)) --metrics-port $((P+2)) > $D/server.log 2>&1 &
S=$!
until curl -sf localhost:$P/v2/health/ready >/dev/null; do sleep 1; kill -0 $S || exit 1; done
URL=http://localhost:$P/v2/models/all_minilm_l6_v2/infer
BODY=$(cat "$ROOT/bench/bodies/minilm16.json")
h() { hey -z "$1" -c "$2" -q "$3" -m POST -T application/json -d "$BODY" -H "Authorization: Bearer $4" $URL; }
h 5s 4 100 online-0123456789abcdef > /dev/null   # warm-up
for A in none flood-free-0123456789abcdef flood-capped-0123456789abcdef; do
  AP=; if [ $A != none ]; then h 20s 32 100 $A > $D/a-$A.txt & AP=$!; fi
  sleep 1
  h 15s 2 5 online-0123456789abcdef > $D/b-$A.txt
  [ -n "$AP" ] && wait $AP
  echo "== A: $A"
  [ $A != none ] && { grep -E "Requests/sec" $D/a-$A.txt; sed -n '/Status code/,/^$/p' $D/a-$A.txt; }
  echo "-- B (online, 2 workers x 5/s):"; grep -E "Requests/sec|99% in|95% in|50% in" $D/b-$A.txt; sed -n '/Status code/,/^$/p' $D/b-$A.txt
done
curl -s -H "Authorization: Bearer finops-0123456789abcdef" localhost:$P/v2/tenants | jq -c '.tenants[] | {name, u: [.models[] | {model, requests, predictions, compute_seconds, cost_usd}]}'
kill $S; wait $S
echo "hey's reports and the server's log: $D"
