#!/usr/bin/env bash
# Cold start from the scheduler's view (docs/PERFORMANCE.md, "Cold start", session 17): N fresh
# starts of each server (interleaved), each under a system-wide `perf sched record` (clock
# CLOCK_MONOTONIC, the probe's), then for each start (bench/coldstart_sched.py): core time in the
# window spawn -> first fraud answer (the server's threads, other processes, idle), each thread's
# running / runnable / sleeping time, a timeline of cores used, and the wake-up chain back from the
# answer; for Fulcrum also the start's gates from its log (the start steps' debug lines), as
# seconds after the spawn. Needs root (or perf_event_paranoid <= -1) and perf. Does not build.
#   N=3 PORT=25001 PORT_STEP=2 SERVERS="fulcrum node-peer" bash bench/coldstart_sched.sh
# Results: bench/results/<time>-sched/ (per start: .json probe line, .log, .timehist, .txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-3}
PORT=${PORT:-18900}
STEP=${PORT_STEP:-1}
BUCKET_MS=${BUCKET_MS:-25}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-sched"
mkdir -p "$OUT"
export FULCRUM_NO_BUILD=1
. bin/find-java.sh
fulcrum_find_java
read -r -a SERVERS <<< "${SERVERS:-fulcrum node-peer}"
start() { # server port -> command line
  case $1 in
    fulcrum) echo ./fulcrum serve --http-port "$2" --grpc-port $(($2 + STEP)) --metrics-port $(($2 + 2 * STEP)) ;;
    node-peer) echo node bench/peers/node/server.js --port "$2" ;;
    *) echo "unknown server $1" >&2; exit 2 ;;
  esac
}
for round in $(seq "$N"); do
  for s in "${SERVERS[@]}"; do
    f="$OUT/$s-$round"
    # shellcheck disable=SC2046 # the command line is a list of words
    FULCRUM_JAVA_OPTS="-Dorg.slf4j.simpleLogger.log.dev.fulcrum.tools.serve.Startup=debug ${FULCRUM_JAVA_OPTS:-}" \
      perf sched record -a -k CLOCK_MONOTONIC -o "$f.perf" -- \
      python3 bench/coldstart_probe.py --port "$PORT" --threads --log "$f.log" -- $(start "$s" "$PORT") \
      > "$f.json" 2> "$f.perf.err"
    perf sched timehist -i "$f.perf" -w --state > "$f.timehist" 2>/dev/null
    rm -f "$f.perf"
    {
      echo "== $s, round $round (load: $(cut -d' ' -f1-3 /proc/loadavg))"
      python3 - "$f.json" "$f.log" <<'PY'
import datetime, json, re, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("first answers (s after the spawn): " + ", ".join(
    f"{k} {j.get(k)}" for k in ("fraud_classifier", "all_minilm_l6_v2", "ready")))
t0 = j["t0_wall"]
day = datetime.datetime.fromtimestamp(t0)
for line in open(sys.argv[2], errors="replace"):
    m = re.match(r"(\d\d):(\d\d):(\d\d\.\d+) \[(.*?)\] \w+ \w+ - (.*)", line)
    if not m or not re.search(r"start|ready in|listening|READY", m[5]):
        continue
    t = day.replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0).timestamp() + float(m[3])
    print(f"  {t - t0:7.3f} {m[4]:26} {m[5][:100]}")
PY
      python3 bench/coldstart_sched.py "$f.timehist" "$f.json" --bucket-ms "$BUCKET_MS"
    } > "$f.txt"
    head -3 "$f.txt" >&2
  done
done
echo "results in $OUT" >&2
