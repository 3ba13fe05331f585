#!/usr/bin/env bash
# The slowloris case A/B: two servers' launchers in turns (A, B, A, B, ... each a fresh server on a
# random port), each run `bench/hostile.sh --cases slowloris` plus the extra arguments, then the
# normal requests' p99 of every round and the machine's TIME_WAIT sockets right after the run
# (a server that closes flood connections with a FIN leaves one per connection for 60 s).
#   A=/path/to/main/fulcrum B=./fulcrum bash bench/hostile-ab.sh            # A B A B
#   ORDER="A B B A" A=... B=... bash bench/hostile-ab.sh --seconds 12
# A_ARGS / B_ARGS add hostile.py arguments to one side only, e.g. the same launcher twice with
# B_ARGS="--warm-connections 3000". A_SERVER_ARGS / B_SERVER_ARGS add serve flags to one side
# (after SERVER_ARGS), e.g. the same launcher twice with B_SERVER_ARGS="--http-acceptors 2". A and B are launchers of built checkouts (FULCRUM_NO_BUILD=1 is set: build them first). Full
# reports go to $OUT_DIR (default /tmp/hostile-ab), each server's log beside them (its last line
# counts the connections refused, evicted and spared at the cap). PORT_BASE=27000 keeps every run in
# a range of the caller's (default: a random port). Compare medians, not single runs.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
A=${A:?A=<launcher of the baseline build>}
B=${B:?B=<launcher of the build under test>}
OUT_DIR=${OUT_DIR:-/tmp/hostile-ab}
mkdir -p "$OUT_DIR"
n=0
for tag in ${ORDER:-A B A B}; do
  n=$((n + 1))
  launcher=$A
  extra=${A_ARGS:-}
  serve="${SERVER_ARGS:-} ${A_SERVER_ARGS:-}"
  if [ "$tag" = B ]; then launcher=$B; extra=${B_ARGS:-}; serve="${SERVER_ARGS:-} ${B_SERVER_ARGS:-}"; fi
  # PORT_BASE: a fixed port range of the caller's (each run takes PORT_BASE + 3n .. + 2).
  if [ -n "${PORT_BASE:-}" ]; then port=$((PORT_BASE + 3 * n)); else port=$((20000 + RANDOM % 12000)); fi
  out="$OUT_DIR/$n-$tag.out"
  echo "=== run $n ($tag: $launcher, serve args [${serve# }]) port $port $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  # shellcheck disable=SC2086 # $extra is a list of words on purpose
  FULCRUM_NO_BUILD=1 FULCRUM="$launcher" PORT=$port SERVER_ARGS="$serve" SERVER_LOG="$OUT_DIR/$n-$tag.server.log" \
    bash "$ROOT/bench/hostile.sh" --cases slowloris $extra "$@" > "$out" 2>&1
  echo "  exit $? (1: a number missed); full report $out"
  grep -E "^slowloris round|^warm-up|normal requests during the attack|handshakes|partial heads|accept queue:|slow requests at|attack client CPU|server CPU|queue peak" "$out" | sed 's/^ */  /' | cut -c1-330
  grep -h "at the connection cap" "$OUT_DIR/$n-$tag.server.log" | sed 's/^.*HTTP port/  server: HTTP port/' | cut -c1-200
  echo "  TIME_WAIT sockets on the machine now: $(ss -Htan state time-wait | wc -l)"
done
