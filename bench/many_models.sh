#!/usr/bin/env bash
# Many small models on one server: a model per tenant, most idle, one hot (docs/DEPLOYMENT.md,
# "Many models"). For each N given, builds a repository of N copies of the demo fraud classifier
# (tenant_0000 ...: each its own model.onnx file, config.yaml, classes.txt and baseline.json, as
# distinct customers' models would be; LINK=1 symlinks the one model file instead), starts
# `./fulcrum serve --model-repository DIR --model-control-mode explicit --load-model '*'` (the
# repository API's load and unload need explicit mode) on PORT (REST), PORT+1 (gRPC), PORT+2
# (metrics), and measures, one server at a time, in the order given:
#   ready_s      launch -> GET /v2/health/ready 200 (every model loaded)
#   load_ms      the models' own "ready in X ms" log lines: median and max; par: the sum of the
#                loads over the span from the first load's start to the last's end (1.0: one at a
#                time)
#   threads, rss_mb   of the server process after the idle window
#   idle_ms_s    the server's CPU, ms a second, over IDLE s with no request (and the three thread
#                groups that used most: names with their digits dropped)
#   metrics      GET /metrics on the metrics port: bytes, series (lines not comments), seconds;
#                gz_bytes: the same with Accept-Encoding: gzip, as Prometheus scrapes
#   index        POST /v2/repository/index: bytes, seconds
#   dash         GET /dashboard/events for DASH s: bytes of the first frame, seconds to its first
#                byte
#   hot          hey -c 16 -z HOT s on tenant_0000 while the others stay idle: req/s, p99 ms, and
#                the server's CPU µs a request
#   churn        the same load again, while tenant_0001 is unloaded and loaded again through the
#                repository API (2 s into it): the unload's and the load's answer times (each call
#                answers once done), the hot model's req/s and non-200 answers meanwhile
#   stop_s       SIGTERM -> exit
# The first N is the baseline of the hot ratios (give 1 first: `1 10 100 300`); on a shared machine
# compare only figures of one run (behaviour, not speed).
#   bash bench/many_models.sh 1 10 100 300
#   SERVE_ARGS="--onnx-global-intra-op-threads 2" IDLE=30 bash bench/many_models.sh 1 100
#   LAUNCHER=/tmp/base/fulcrum bash bench/many_models.sh 1 300   # another build's launcher and dist
# Needs a built dist (./mvnw -B -ntp -DskipTests package) and hey.
# Results: bench/results/<time>-many_models/ (summary.tsv, each server's log).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
PORT=${PORT:-18500}
IDLE=${IDLE:-30}
HOT=${HOT:-10}
DASH=${DASH:-3}
LINK=${LINK:-0}
SERVE_ARGS=${SERVE_ARGS:-}
LAUNCHER=${LAUNCHER:-./fulcrum}
[ $# -gt 0 ] || set -- 1 10 100 300
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-many_models"
mkdir -p "$OUT"
TMP=$(mktemp -d)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill -TERM -- "-$SERVER" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
export FULCRUM_NO_BUILD=1 FULCRUM_NO_AOT=${FULCRUM_NO_AOT:-1} FULCRUM_HOME="$ROOT"
SRC=demo/models/fraud_classifier
URL="http://127.0.0.1:$PORT"
HZ=$(getconf CLK_TCK)

mkrepo() { # n dir
  local i d
  mkdir -p "$2"
  for ((i = 0; i < $1; i++)); do
    d="$2/$(printf 'tenant_%04d' "$i")"
    mkdir -p "$d/1"
    cp "$SRC/config.yaml" "$SRC/classes.txt" "$SRC/baseline.json" "$d/"
    if [ "$LINK" = 1 ]; then
      ln -s "$ROOT/$SRC/1/model.onnx" "$d/1/model.onnx"
    else
      cp "$SRC/1/model.onnx" "$d/1/"
    fi
  done
}

threads_by_name() { # pid -> "<tid> <ticks> <name without digits>" per thread (first line: "0 <now>")
  python3 - "$1" <<'PY'
import os, re, sys, time
task = f"/proc/{sys.argv[1]}/task"
print(0, time.time())
for tid in sorted(os.listdir(task)):
    try:
        stat = open(f"{task}/{tid}/stat").read()
        comm = open(f"{task}/{tid}/comm").read().strip()
    except OSError:
        continue
    f = stat[stat.rindex(")") + 2:].split()
    print(tid, int(f[11]) + int(f[12]), re.sub(r"[0-9]", "", comm).replace(" ", "_").replace("#", "_") or "_")
PY
}

hey_figures() { # hey output file -> "req_s p99_ms non200"
  awk '/Requests\/sec/ { r = $2 } /99% in/ { p = $3 * 1000 }
       /Status code distribution/ { s = 1 } /Error distribution/ { s = 0; e = 1 }
       /^ *\[[0-9]+\]/ { c = $1; gsub(/[][]/, "", c); if (s && c != 200) bad += $2; if (e) bad += c }
       END { printf "%.0f %.1f %d\n", r, p, bad }' "$1"
}

timed_post() { # url -> "http_code seconds"
  curl -s -o /dev/null -X POST -w '%{http_code} %{time_total}' "$1"
}

printf 'n\tready_s\tload_ms_p50\tload_ms_max\tload_par\tthreads\trss_mb\tidle_ms_s\tidle_top\tmetrics_bytes\tmetrics_gz_bytes\tmetrics_series\tmetrics_s\tindex_bytes\tindex_s\tdash_first_bytes\tdash_ttfb_s\thot_rps\thot_p99_ms\thot_cpu_us\tchurn_unload_s\tchurn_load_s\tchurn_rps\tchurn_non200\tstop_s\n' \
  >"$OUT/summary.tsv"
for n in "$@"; do
  repo="$TMP/repo$n"
  mkrepo "$n" "$repo"
  log="$OUT/serve-$n.log"
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  setsid "$LAUNCHER" serve --model-repository "$repo" --model-control-mode explicit --load-model '*' \
    --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) $SERVE_ARGS \
    >"$log" 2>&1 &
  SERVER=$!
  until curl -sf -o /dev/null "$URL/v2/health/ready"; do
    kill -0 "$SERVER" 2>/dev/null || { echo "server of $n models exited; see $log" >&2; exit 1; }
    sleep 0.05
  done
  ready=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
  pid=$(pgrep -P "$SERVER" java || echo "$SERVER")
  load=$(python3 - "$log" <<'PY'
import re, statistics, sys
from datetime import datetime
spans = []
for line in open(sys.argv[1]):
    m = re.match(r"(\d\d:\d\d:\d\d\.\d+) .* version \d+ ready in (\d+) ms", line)
    if m:
        end = datetime.strptime(m.group(1), "%H:%M:%S.%f").timestamp() * 1000
        spans.append((end - int(m.group(2)), end))
ms = [e - s for s, e in spans]
span = max(e for _, e in spans) - min(s for s, _ in spans) if spans else 0
print(f"{statistics.median(ms):.0f} {max(ms):.0f} {sum(ms) / max(span, 1):.2f}" if ms else "- - -")
PY
)
  sleep 5 # the dashboard's sampling and the warm transport start a few seconds after readiness
  threads_by_name "$pid" >"$TMP/t1"
  sleep "$IDLE"
  threads_by_name "$pid" >"$TMP/t2"
  join "$TMP/t1" "$TMP/t2" | awk -v hz="$HZ" \
    'NR == 1 { d = $3 - $2; next } { g[$3] += ($4 - $2) * 1000 / hz / d }
     END { for (k in g) printf "%.1f %s\n", g[k], k }' |
    sort -rn >"$TMP/idle"
  idle_total=$(awk '{ t += $1 } END { printf "%.1f", t }' "$TMP/idle")
  idle_top=$(head -3 "$TMP/idle" | awk '{ printf "%s%s=%s", (NR > 1 ? "," : ""), $2, $1 }')
  threads=$(ls "/proc/$pid/task" | wc -l)
  rss=$(bench_rss_mb "$pid")
  for _ in 1 2 3; do
    read -r mbytes ms <<<"$(curl -s -o "$TMP/metrics" -w '%{size_download} %{time_total}' "http://127.0.0.1:$((PORT + 2))/metrics")"
  done
  mgz=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "http://127.0.0.1:$((PORT + 2))/metrics")
  series=$(grep -vc '^#' "$TMP/metrics" || true)
  for _ in 1 2 3; do
    ix=$(curl -s -o /dev/null -X POST -w '%{size_download} %{time_total}' "$URL/v2/repository/index")
  done
  dttfb=$(curl -sN --max-time "$DASH" -o "$TMP/dash" -w '%{time_starttransfer}' "$URL/dashboard/events" || true)
  dfirst=$(awk '/^data:/ { print length($0); exit }' "$TMP/dash")
  t1=$(bench_ticks "$pid")
  hey -c 16 -z "${HOT}s" -m POST -T application/json -D "$BENCH_FRAUD_BODY" \
    "$URL/v2/models/tenant_0000/infer" >"$TMP/hey"
  t2=$(bench_ticks "$pid")
  read -r hrps hp99 _ <<<"$(hey_figures "$TMP/hey")"
  hcpu=$(bench_cpu_us "$t1" "$t2" "$(python3 -c "print(int($hrps * $HOT))")")
  if [ "$n" -ge 2 ]; then
    hey -c 16 -z "${HOT}s" -m POST -T application/json -D "$BENCH_FRAUD_BODY" \
      "$URL/v2/models/tenant_0000/infer" >"$TMP/hey2" &
    heyp=$!
    sleep 2
    read -r code unl <<<"$(timed_post "$URL/v2/repository/models/tenant_0001/unload")"
    [ "$code" = 200 ] || { echo "unload answered $code; see $log" >&2; exit 1; }
    sleep 1
    read -r code lod <<<"$(timed_post "$URL/v2/repository/models/tenant_0001/load")"
    [ "$code" = 200 ] || { echo "load answered $code; see $log" >&2; exit 1; }
    curl -sf -o /dev/null "$URL/v2/models/tenant_0001/ready" || { echo "not ready after its load" >&2; exit 1; }
    wait "$heyp"
    read -r crps _ cbad <<<"$(hey_figures "$TMP/hey2")"
  else
    unl=- lod=- crps=- cbad=-
  fi
  s0=$(date +%s.%N)
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  stop=$(python3 -c "import time; print(round(time.time() - $s0, 2))")
  wait "$SERVER" 2>/dev/null || true
  SERVER=
  read -r lp50 lmax lpar <<<"$load"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$n" "$ready" "$lp50" "$lmax" "$lpar" "$threads" "$rss" "$idle_total" "$idle_top" \
    "$mbytes" "$mgz" "$series" "$ms" ${ix} "${dfirst:-0}" "$dttfb" "$hrps" "$hp99" "$hcpu" "$unl" "$lod" "$crps" "$cbad" "$stop" \
    >>"$OUT/summary.tsv"
  tail -1 "$OUT/summary.tsv"
  rm -rf "$repo"
done
python3 - "$OUT/summary.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
PY
echo "$(uptime)" | tee "$OUT/uptime.txt"
echo "results: $OUT"
