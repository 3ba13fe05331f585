#!/usr/bin/env bash
# An idle server's CPU per thread (ms of CPU a second), two builds side by side (issue 12,
# PERFORMANCE.md "Session 15"): what the periodic threads (dashboard tick, gRPC health poller,
# drift monitor) cost when nothing is asked, which at 4,000 req/s is a share of every request.
# Both servers run at once (an idle server barely competes), each warmed with WARM s of fraud at
# 100 req/s, then each thread's utime+stime is read twice, DUR s apart.
#   A=<launcher> B=./fulcrum PORT=19600 DUR=40 bash bench/idlecpu.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
A=${A:?A=<launcher of the base build>}
B=${B:-./fulcrum}
PORT=${PORT:-19600}
DUR=${DUR:-40}
WARM=${WARM:-5}
BODY=$(mktemp)
cp "$BENCH_FRAUD_BODY" "$BODY"
export FULCRUM_NO_BUILD=1
setsid "$A" serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) >/dev/null 2>&1 &
PA=$!
setsid "$B" serve --http-port $((PORT + 10)) --grpc-port $((PORT + 11)) --metrics-port $((PORT + 12)) >/dev/null 2>&1 &
PB=$!
trap 'kill -TERM -- "-$PA" "-$PB" 2>/dev/null || true; rm -f "$BODY"' EXIT
for p in "$PORT" $((PORT + 10)); do
  for _ in $(seq 300); do
    curl -fs -o /dev/null "http://127.0.0.1:$p/v2/models/fraud_classifier/ready" && break
    sleep 0.2
  done
  hey -z "${WARM}s" -c 16 -q 100 -m POST -T application/json -D "$BODY" \
    "http://127.0.0.1:$p/v2/models/fraud_classifier/infer" >/dev/null
done
snap() { for t in /proc/"$1"/task/*; do echo "$(basename "$t") $(awk '{print $14+$15}' "$t/stat" 2>/dev/null) $(tr ' ' _ <"$t/comm" 2>/dev/null)"; done 2>/dev/null | sort; }
snap "$PA" >"$BODY.a1"; snap "$PB" >"$BODY.b1"
sleep "$DUR"
snap "$PA" >"$BODY.a2"; snap "$PB" >"$BODY.b2"
HZ=$(getconf CLK_TCK)
for x in a b; do
  echo "== $x ($([ $x = a ] && echo "$A" || echo "$B")): ms of CPU a second, by thread"
  join "$BODY.${x}1" "$BODY.${x}2" | awk -v d="$DUR" -v hz="$HZ" \
    '{v = ($4 - $2) * 1000 / hz / d; t += v; if (v > 0) printf "  %6.2f %s\n", v, $3} END {printf "  %6.2f all\n", t}' | sort -rn
done
rm -f "$BODY".a1 "$BODY".a2 "$BODY".b1 "$BODY".b2
echo "$(uptime)"
