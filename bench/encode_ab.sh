#!/usr/bin/env bash
# Server CPU per MiniLM request at a fixed offered rate, two builds A and B interleaved (A, B, A,
# B, ...): the method of bench/peers.sh's cpu_minilm (utime+stime of the server process from
# /proc/<pid>/stat before and after DUR s at RATE req/s offered with hey -q, over the requests
# completed), plus the same split by thread group (/proc/<pid>/task/*/stat, by thread name): the
# event loops (fulcrum-http-*), which decode the request and encode the JSON response, the engine
# threads (fulcrum-exec-*), and the rest (ONNX Runtime's pool, JIT, GC). Written for the REST
# response encoder (docs/PERFORMANCE.md, "The JSON response of a MiniLM request").
#   A=/path/to/launcherA B=/path/to/launcherB N=4 DUR=10 WARM=8 PORT=23100 bash bench/encode_ab.sh
# A launcher is anything that takes `serve --http-port P --grpc-port P --metrics-port P` (./fulcrum,
# or a 3-line wrapper around a copied dist, see "Lone passes" in docs/PERFORMANCE.md).
# Results: bench/results/<time>-encode_ab/ (one JSON line per build and round; summary on stdout).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
N=${N:-4}
DUR=${DUR:-10}
WARM=${WARM:-8}
PORT=${PORT:-23100}
RATE=${RATE:-150}
MODEL=${MODEL:-all_minilm_l6_v2}
: "${A:?A=launcher of the build before}" "${B:?B=launcher of the build after}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-encode_ab"
mkdir -p "$OUT"
for tool in wrk hey; do
  command -v "$tool" >/dev/null || { echo "encode_ab.sh needs $tool" >&2; exit 1; }
done
BODY="$OUT/minilm.json"
cp "$BENCH_MINILM_BODY" "$BODY"
LUA="$OUT/minilm.lua"
bench_wrk_lua "$BODY" "$LUA"
URL="http://127.0.0.1:$PORT/v2/models/$MODEL/infer"

ticks_by_group() { # pid -> "total http exec other http_sys" in clock ticks
  local pid=$1
  for t in /proc/"$pid"/task/*; do
    printf '%s\t' "$(cat "$t/comm" 2>/dev/null || echo gone)"
    awk '{ sub(/^.*\) /, ""); print $12 + $13 "\t" $13 }' "$t/stat" 2>/dev/null || printf '0\t0\n'
  done | awk -F'\t' '{ tot += $2; if ($1 ~ /^fulcrum-http/) { h += $2; hs += $3 } else if ($1 ~ /^fulcrum-exec/) e += $2; else o += $2 }
                     END { printf "%d %d %d %d %d\n", tot, h, e, o, hs }'
}
process_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

echo "encode_ab: $N rounds of A=$A B=$B, ${DUR}s at $RATE req/s; results in $OUT" >&2
for round in $(seq "$N"); do
  for build in A B; do
    launcher=${!build}
    setsid "$launcher" serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
      >"$OUT/$build.log" 2>&1 &
    pid=$!
    ready=0
    for _ in $(seq 900); do
      if curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$BODY" "$URL" 2>/dev/null; then
        ready=1
        break
      fi
      sleep 0.2
    done
    if [ "$ready" = 1 ]; then
      wrk -t1 -c4 -d"${WARM}s" -s "$LUA" "$URL" >/dev/null 2>&1
      p0=$(process_ticks "$pid")
      read -r t0 h0 e0 o0 s0 <<<"$(ticks_by_group "$pid")"
      q=$(python3 -c "print(max(1, round($RATE / 16)))")
      out=$(hey -z "${DUR}s" -c 16 -q "$q" -m POST -T application/json -D "$BODY" "$URL" 2>&1)
      p1=$(process_ticks "$pid")
      read -r t1 h1 e1 o1 s1 <<<"$(ticks_by_group "$pid")"
      ok=$(echo "$out" | awk '$1 == "[200]" { print $2; exit }')
      line=$(python3 -c "
import os; t = os.sysconf('SC_CLK_TCK'); ok = max(1, ${ok:-0}); us = lambda d: round(d / t / ok * 1e6, 1)
print('{\"round\":$round,\"build\":\"$build\",\"ok\":%d,\"cpu_us\":%s,\"http_us\":%s,\"exec_us\":%s,\"other_us\":%s,\"http_sys_us\":%s}'
      % (ok, us($p1 - $p0), us($h1 - $h0), us($e1 - $e0), us(($t1 - $t0) - ($h1 - $h0) - ($e1 - $e0)), us($s1 - $s0)))")
      echo "$line" >>"$OUT/runs.jsonl"
      echo "round $round $build: $line (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    else
      echo "round $round $build: not ready; see $OUT/$build.log" >&2
    fi
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done
python3 - "$OUT/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("medians, µs of server CPU per request:   total   event loops (of it kernel)   engine   other")
med = {}
for b in "AB":
    r = [x for x in runs if x["build"] == b]
    med[b] = {k: round(statistics.median(x[k] for x in r), 1) for k in ("cpu_us", "http_us", "exec_us", "other_us", "http_sys_us")} if r else None
    if r:
        m = med[b]
        print(f"  {b} ({len(r)} rounds){'':22}{m['cpu_us']:>8}{m['http_us']:>14}{'(' + str(m['http_sys_us']) + ')':>15} {m['exec_us']:>9}{m['other_us']:>8}")
if med["A"] and med["B"]:
    print(f"  B / A{'':33}{med['B']['cpu_us'] / med['A']['cpu_us']:>8.2f}{med['B']['http_us'] / max(1e-9, med['A']['http_us']):>14.2f}")
PY
