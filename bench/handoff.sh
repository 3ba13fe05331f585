#!/usr/bin/env bash
# Per-request server cost of two Fulcrum builds, A/B interleaved (issue 12; docs/PERFORMANCE.md,
# "Lone passes"): for each round and each launcher, start the server on the demo models, warm it
# up, then for each load below read, before and after, the server process's CPU time
# (/proc/<pid>/stat utime+stime) and every thread's voluntary and involuntary context switches
# (/proc/<pid>/task/*/status), and divide by the requests completed. Threads are grouped by name
# (fulcrum-http-*, fulcrum-exec-*, ...). Counts of switches are not blurred by a busy machine;
# CPU per request is blurred little; latency is (label it so).
#   loads: fraud at RATE_FRAUD req/s offered (hey -c 16 -q, open-ish loop), fraud at c=1
#          (closed loop, hey -c 1), MiniLM (16 tokens) at RATE_MINILM req/s
#   A=/path/to/launcher-a B=/path/to/launcher-b N=3 DUR=8 WARM=5 bash bench/handoff.sh
# Before each measured window, an unmeasured one of the same shape (PRE s, default DUR; PRE=0: none).
# A launcher is a script that runs `fulcrum "$@"` from some dist, e.g.
#   exec java --enable-native-access=ALL-UNNAMED -cp '/tmp/before/dist/lib/*' dev.fulcrum.tools.FulcrumCli "$@"
# (by default A and B are both ./fulcrum). Extra server flags: SERVE_ARGS. SKIP_MINILM=1: the two
# fraud loads only. Needs hey.
# Per thread group it prints: CPU µs per request, voluntary / involuntary switches per request.
# Results: bench/results/<time>-handoff/ (one JSON line per launcher, round and load; summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
N=${N:-3}
DUR=${DUR:-8}
WARM=${WARM:-5}
PORT=${PORT:-19300}
RATE_FRAUD=${RATE_FRAUD:-4000}
RATE_MINILM=${RATE_MINILM:-150}
PRE=${PRE:-$DUR}
A=${A:-./fulcrum}
B=${B:-./fulcrum}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-handoff"
mkdir -p "$OUT"
command -v hey >/dev/null || { echo "handoff.sh needs hey (apt-get install -y hey)" >&2; exit 1; }

FRAUD="$OUT/fraud.json"
MINILM="$OUT/minilm.json"
cp "$BENCH_FRAUD_BODY" "$FRAUD"
cp "$BENCH_MINILM_BODY" "$MINILM"

snapshot() { # pid -> JSON {"cpu": ticks, "threads": {group: [voluntary, involuntary]}}
  python3 - "$1" <<'PY'
import json, os, re, sys
pid = sys.argv[1]
stat = open(f"/proc/{pid}/stat").read()
fields = stat[stat.rindex(")") + 2:].split()
cpu = int(fields[11]) + int(fields[12])
groups = {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        st = open(f"/proc/{pid}/task/{tid}/status").read()
    except OSError:
        continue
    name = re.search(r"^Name:\s*(.*)$", st, re.M).group(1)
    try:
        tst = open(f"/proc/{pid}/task/{tid}/stat").read()
    except OSError:
        continue
    tf = tst[tst.rindex(")") + 2:].split()
    tcpu = int(tf[11]) + int(tf[12])
    vol = int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", st, re.M).group(1))
    inv = int(re.search(r"^nonvoluntary_ctxt_switches:\s*(\d+)", st, re.M).group(1))
    # The kernel keeps 15 characters of a thread's name: group by its stem.
    g = re.sub(r"[-_]?\d+$", "", name)
    if g.startswith("fulcrum-exec"):
        g = "fulcrum-exec-*"
    elif g.startswith("fulcrum-http"):
        g = "fulcrum-http-*"
    elif g.startswith("fulcrum-grpc"):
        g = "fulcrum-grpc-*"
    elif g.startswith("fulcrum-load"):
        # ONNX Runtime's intra-op pool threads take the name of the loader thread that made them.
        g = "fulcrum-load-* (ORT pools)"
    elif not g.startswith("fulcrum-"):
        g = "other (JIT, GC, ORT, ...)"
    v = groups.setdefault(g, [0, 0, 0])
    v[0] += vol
    v[1] += inv
    v[2] += tcpu
print(json.dumps({"cpu": cpu, "threads": groups}))
PY
}

measure() { # label round pid load hey-args... -> one JSON line in $OUT/<label>.jsonl
  local label=$1 round=$2 pid=$3 load=$4
  shift 4
  local before after out
  # An unmeasured window of the same client, concurrency and rate first (PRE s; 0: none): a
  # client switch makes the JIT re-compile the request path, which a measured window must not
  # count (PERFORMANCE.md, "Session 10: steady state"). hey's first arguments are -z <DUR>s.
  if [ "$PRE" != 0 ]; then
    hey -z "${PRE}s" "${@:3}" >/dev/null 2>&1 || true
  fi
  before=$(snapshot "$pid")
  out=$(hey "$@" 2>&1)
  after=$(snapshot "$pid")
  python3 - "$label" "$round" "$load" "$before" "$after" "$out" >>"$OUT/$label.jsonl" <<'PY'
import json, os, re, sys
label, rnd, load, b, a, out = sys.argv[1:]
b, a = json.loads(b), json.loads(a)
m = re.search(r"\[200\]\s+(\d+) responses", out)
ok = int(m.group(1)) if m else 0
tck = os.sysconf("SC_CLK_TCK")
def pct(p):
    m = re.search(rf"\s{p}% in ([\d.]+) secs", out)
    return round(float(m.group(1)) * 1000, 3) if m else None
rec = {"label": label, "round": int(rnd), "load": load, "ok": ok,
       "cpu_us": round((a["cpu"] - b["cpu"]) / tck / max(1, ok) * 1e6, 1),
       "p50_ms": pct(50), "p99_ms": pct(99), "switches": {}}
for g, (v, i, c) in a["threads"].items():
    v0, i0, c0 = b["threads"].get(g, [0, 0, 0])
    rec["switches"][g] = [round((v - v0) / max(1, ok), 3), round((i - i0) / max(1, ok), 3),
                          round((c - c0) / tck / max(1, ok) * 1e6, 1)]
print(json.dumps(rec))
PY
  tail -1 "$OUT/$label.jsonl" >&2
}

for round in $(seq "$N"); do
  for label in A B; do
    launcher=${!label}
    setsid "$launcher" serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
      ${SERVE_ARGS:-} >"$OUT/$label-$round.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
      curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$MINILM" \
        "http://127.0.0.1:$PORT/v2/models/all_minilm_l6_v2/infer" && break
      sleep 0.2
    done
    # The launcher execs java: $pid is the server. Warm-up so the JIT's CPU is not the requests'.
    base="http://127.0.0.1:$PORT/v2/models"
    hey -z "${WARM}s" -c 8 -m POST -T application/json -D "$FRAUD" "$base/fraud_classifier/infer" >/dev/null 2>&1
    hey -z "${WARM}s" -c 1 -m POST -T application/json -D "$FRAUD" "$base/fraud_classifier/infer" >/dev/null 2>&1
    [ "${SKIP_MINILM:-0}" = 1 ] ||
      hey -z "${WARM}s" -c 4 -m POST -T application/json -D "$MINILM" "$base/all_minilm_l6_v2/infer" >/dev/null 2>&1
    measure "$label" "$round" "$pid" fraud_rate -z "${DUR}s" -c 16 -q $((RATE_FRAUD / 16)) \
      -m POST -T application/json -D "$FRAUD" "$base/fraud_classifier/infer"
    measure "$label" "$round" "$pid" fraud_c1 -z "${DUR}s" -c 1 \
      -m POST -T application/json -D "$FRAUD" "$base/fraud_classifier/infer"
    [ "${SKIP_MINILM:-0}" = 1 ] ||
      measure "$label" "$round" "$pid" minilm_rate -z "${DUR}s" -c 16 -q $(((RATE_MINILM + 15) / 16)) \
      -m POST -T application/json -D "$MINILM" "$base/all_minilm_l6_v2/infer"
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done

python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out = sys.argv[1]
recs = {}
for label in "AB":
    try:
        for l in open(f"{out}/{label}.jsonl"):
            r = json.loads(l)
            recs.setdefault((r["load"], label), []).append(r)
    except FileNotFoundError:
        pass
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("medians over rounds; per thread group and request: CPU us, voluntary / involuntary switches")
for load in ("fraud_rate", "fraud_c1", "minilm_rate"):
    for label in "AB":
        rs = recs.get((load, label), [])
        if not rs:
            continue
        groups = sorted({g for r in rs for g in r["switches"]})
        col = lambda g, k: med([(r["switches"].get(g) or [0, 0, 0])[k] for r in rs])
        sw = "\n    ".join(f"{g:28} {col(g, 2):8.1f} us  {col(g, 0):5.2f} / {col(g, 1):5.2f}"
                          for g in groups)
        p50 = [r["p50_ms"] for r in rs if r["p50_ms"] is not None]
        p99 = [r["p99_ms"] for r in rs if r["p99_ms"] is not None]
        print(f"{load:12} {label} n={len(rs)} ok/run {med([r['ok'] for r in rs]):.0f}  "
              f"CPU/req {med([r['cpu_us'] for r in rs]):.1f} us  p50 {med(p50):.3f} ms  "
              f"p99 {med(p99):.3f} ms (busy machine)\n    {sw}")
PY
