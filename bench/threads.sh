#!/usr/bin/env bash
# ONNX Runtime's thread policy on MiniLM (issue 12 and issue 10 item 2; docs/PERFORMANCE.md,
# "MiniLM: instances and intra-op threads"). The token-id demo model (all_minilm_l6_v2, 16 tokens,
# the body bench/peers.sh sends), served with each configuration in CONFIGS, one server at a
# time, interleaved over N rounds (cfg1, cfg2, cfg3, cfg1, ...). A configuration is
# INSTANCESxINTRA_OP_THREADS[aALONE] (1x2: instance-count 1, onnxruntime.intra-op-threads 2;
# 2x1a2: two instances of one thread, lone passes on two: intra-op-threads-alone 2; a trailing
# "s", e.g. 1x2s, adds onnxruntime.allow-spinning: true, ONNX Runtime's own default; a trailing "+lend", e.g. 1x2+lend, lets every
# pass be lent to the event loop that read its request: -Dfulcrum.lone-pass-limit-us=LEND_US; a
# trailing "bN", e.g. 2x1b2, sets max-batch-size N instead of the demo's 16; a
# trailing "+rowN", e.g. 1x2+row1, runs a pass of one row on a second session of N intra-op threads:
# -Dfulcrum.onnx.one-row-intra-op-threads=N; a trailing "+fifo" or "+lifo", e.g. 2x1+fifo, picks the
# idle instance a pass goes to: -Dfulcrum.instance-choice=longest-idle (the rule before session 21)
# or most-recent (the default since); +fifo / +lifo come last, after +rowN or +lend); the
# dynamic batcher stays as the demo ships it (max-batch-size 16, queue delay 0). "java-peer" in
# CONFIGS runs bench/peers/java instead, as a reference. Per round and configuration:
#   c1        p50 / p99 at c=1, ms (hey -c 1), and per MiniLM engine thread (one per instance) in
#             that window: voluntary switches (about one per pass it ran), CPU ms and run-queue
#             wait ms (/proc/<pid>/task/<tid>/schedstat): c1_hot_share, the busiest engine
#             thread's share of the switches (0.5: passes alternate between two instances, 1: one
#             instance runs them all), and c1_exec_us_per_pass, engine CPU per switch
#   c16       req/s at c=16, closed loop (wrk -t1 -c16), and the batch the server formed there
#             (inference_count / execution_count from /v2/models/<m>/stats before and after)
#   rate      server CPU per request at RATE req/s offered (hey -c 16 -q), from /proc/<pid>/stat,
#             and per thread group (ORT's intra-op pool threads are named after the loader thread:
#             fulcrum-load-*) CPU µs and voluntary / involuntary context switches per request
#   ort       ONNX Runtime in process (fulcrum bench --in-process: no transport, no batcher) at
#             the batch size the server formed at c=16, the same configuration, one caller per
#             instance: rows/s, the ceiling the c=16 rate is read against
# and prints the medians per configuration. Busy machine: label the latencies and rates so.
#   N=3 DUR=8 WARM=5 bash bench/threads.sh
#   CONFIGS="1x2 2x1a2 java-peer" N=2 bash bench/threads.sh
# Needs a built dist (./mvnw -B -ntp -DskipTests package), hey and wrk.
# Results: bench/results/<time>-threads/ (one JSON line per configuration and round; summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
N=${N:-3}
DUR=${DUR:-8}
WARM=${WARM:-5}
PORT=${PORT:-19410}
RATE=${RATE:-150}
CONFIGS=(${CONFIGS:-1x2 1x1 2x1 2x1a2})
MODEL=all_minilm_l6_v2
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-threads"
mkdir -p "$OUT"
for tool in wrk hey; do
  command -v "$tool" >/dev/null || { echo "threads.sh needs $tool (apt-get install -y wrk hey)" >&2; exit 1; }
done
DIST=fulcrum-tools/target/dist
[ -f "demo/models/$MODEL/1/all-minilm-l6-v2-q.onnx" ] && [ -d "$DIST/lib" ] \
  || { echo "threads.sh needs a built dist: ./mvnw -B -ntp -DskipTests package" >&2; exit 1; }
export FULCRUM_NO_BUILD=1
. bin/find-java.sh
fulcrum_find_java

# One repository per configuration: the fraud model as shipped (a second model, as in peers.sh)
# and MiniLM with the configuration's instance-count and intra-op threads.
repo() { # config -> repository folder
  local cfg=$1 r="$OUT/repo-$1"
  if [ ! -d "$r" ]; then
    mkdir -p "$r/$MODEL"
    ln -s "$ROOT/demo/models/fraud_classifier" "$r/fraud_classifier"
    ln -s "$ROOT/demo/models/$MODEL/1" "$r/$MODEL/1"
    grep -v '^instance-count:' "demo/models/$MODEL/config.yaml" \
      | sed '/^onnxruntime:/,/^[^ ]/{/^onnxruntime:/d;/^  /d}' >"$r/$MODEL/config.yaml"
    local spin=false base=$cfg
    [ "${cfg%s}" = "$cfg" ] || { spin=true; base=${cfg%s}; }
    # a trailing bN, e.g. 2x1b2: max-batch-size N instead of the demo's
    if [ "${base%b*}" != "$base" ]; then
      sed -i "s/^max-batch-size:.*/max-batch-size: ${base##*b}/" "$r/$MODEL/config.yaml"
      base=${base%b*}
    fi
    local instances=${base%%x*} rest=${base#*x}
    printf 'instance-count: %s\nonnxruntime:\n  intra-op-threads: %s\n' "$instances" "${rest%%a*}" \
      >>"$r/$MODEL/config.yaml"
    [ "$rest" = "${rest#*a}" ] || printf '  intra-op-threads-alone: %s\n' "${rest#*a}" >>"$r/$MODEL/config.yaml"
    [ "$spin" = false ] || printf '  allow-spinning: true\n' >>"$r/$MODEL/config.yaml"
  fi
  echo "$r"
}

BODY="$OUT/minilm.json"
cp "$BENCH_MINILM_BODY" "$BODY"
bench_wrk_lua "$BODY" "$OUT/minilm.lua"

PEER_CLASSES=bench/peers/java/target/classes
start() { # config port -> pid (own process group)
  local cfg=$1 port=$2 cmd
  if [ "$cfg" = java-peer ]; then
    if [ ! -f "$PEER_CLASSES/Peer.class" ] || [ bench/peers/java/Peer.java -nt "$PEER_CLASSES/Peer.class" ]; then
      mkdir -p "$PEER_CLASSES"
      "$JAVA_HOME/bin/javac" -d "$PEER_CLASSES" -cp "$DIST/lib/*" bench/peers/java/Peer.java
    fi
    cmd=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$PEER_CLASSES:$DIST/lib/*" Peer --port "$port")
  else
    # a trailing +lend: every pass may be lent to the event loop that read its request (the
    # lone-pass limit raised to LEND_US), to see what the hop to the engine thread costs MiniLM
    local opts=${FULCRUM_JAVA_OPTS:-} base=$cfg
    # a trailing +fifo / +lifo: which idle instance a pass goes to
    case $base in
      *+fifo) opts="$opts -Dfulcrum.instance-choice=longest-idle"; base=${base%+fifo} ;;
      *+lifo) opts="$opts -Dfulcrum.instance-choice=most-recent"; base=${base%+lifo} ;;
    esac
    local plain=$base
    base=${base%+lend}
    [ "$base" = "$plain" ] || opts="$opts -Dfulcrum.lone-pass-limit-us=${LEND_US:-1000000}"
    # a trailing +rowN, e.g. 1x2+row1: a pass of one row on a second session of N intra-op threads
    if [ "${base%+row*}" != "$base" ]; then
      opts="$opts -Dfulcrum.onnx.one-row-intra-op-threads=${base##*+row}"
      base=${base%+row*}
    fi
    cmd=(env FULCRUM_JAVA_OPTS="$opts" ./fulcrum serve --model-repository "$(repo "$base")"
      --http-port "$port" --grpc-port $((port + 1)) --metrics-port $((port + 2)))
  fi
  setsid "${cmd[@]}" >"$OUT/$cfg.log" 2>&1 &
  echo $!
}

snapshot() { # pid -> JSON {"cpu": ticks, "threads": {group: [voluntary, involuntary, ticks]}}
  python3 - "$1" <<'PY'
import json, os, re, sys
pid = sys.argv[1]
stat = open(f"/proc/{pid}/stat").read()
fields = stat[stat.rindex(")") + 2:].split()
groups = {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        st = open(f"/proc/{pid}/task/{tid}/status").read()
        tst = open(f"/proc/{pid}/task/{tid}/stat").read()
    except OSError:
        continue
    name = re.search(r"^Name:\s*(.*)$", st, re.M).group(1)
    tf = tst[tst.rindex(")") + 2:].split()
    g = re.sub(r"[-_]?\d+$", "", name)
    for stem in ("fulcrum-exec", "fulcrum-http", "fulcrum-grpc"):
        if g.startswith(stem):
            g = stem + "-*"
    if g.startswith("fulcrum-load"):
        g = "fulcrum-load-* (ORT pools)"
    elif not g.startswith("fulcrum-"):
        g = "other (JIT, GC, peer, ...)"
    v = groups.setdefault(g, [0, 0, 0])
    v[0] += int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", st, re.M).group(1))
    v[1] += int(re.search(r"^nonvoluntary_ctxt_switches:\s*(\d+)", st, re.M).group(1))
    v[2] += int(tf[11]) + int(tf[12])
print(json.dumps({"cpu": int(fields[11]) + int(fields[12]), "threads": groups}))
PY
}
execsnap() { # pid -> JSON {tid: [voluntary switches, CPU ns, run-queue wait ns]} of MiniLM's engine threads
  python3 - "$1" <<'PY'
import json, os, re, sys
pid, out = sys.argv[1], {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        st = open(f"/proc/{pid}/task/{tid}/status").read()
        ss = open(f"/proc/{pid}/task/{tid}/schedstat").read().split()
    except OSError:
        continue
    # the kernel keeps 15 characters of a name: fulcrum-exec-all_minilm_l6_v2-v1-<i> -> fulcrum-exec-al
    if re.search(r"^Name:\s*fulcrum-exec-al", st, re.M):
        out[tid] = [int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", st, re.M).group(1)),
                    int(ss[0]), int(ss[1])]
print(json.dumps(out))
PY
}
stats() { curl -sf "http://127.0.0.1:$1/v2/models/$MODEL/stats" 2>/dev/null || echo '{}'; }

echo "threads: $N rounds of ${CONFIGS[*]}, ${DUR}s per measurement; results in $OUT" >&2
for round in $(seq "$N"); do
  for i in "${!CONFIGS[@]}"; do
    cfg=${CONFIGS[$i]}
    port=$((PORT + 10 * i))
    url="http://127.0.0.1:$port/v2/models/$MODEL/infer"
    pid=$(start "$cfg" "$port")
    ok=false
    for _ in $(seq 600); do
      curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$BODY" "$url" && { ok=true; break; }
      sleep 0.2
    done
    if ! $ok; then
      echo "round $round $cfg: never answered; see $OUT/$cfg.log" >&2
      kill -TERM -- "-$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      continue
    fi
    # Warm-up at both loads, so the JIT's CPU is not counted as the requests'.
    wrk -t1 -c16 -d"${WARM}s" -s "$OUT/minilm.lua" "$url" >/dev/null 2>&1
    hey -z "${WARM}s" -c 1 -m POST -T application/json -D "$BODY" "$url" >/dev/null 2>&1
    e0='{}'; [ "$cfg" = java-peer ] || e0=$(execsnap "$pid")
    c1=$(hey -z "${DUR}s" -c 1 -m POST -T application/json -D "$BODY" "$url" 2>&1)
    e1='{}'; [ "$cfg" = java-peer ] || e1=$(execsnap "$pid")
    s0=$(stats "$port")
    c16=$(wrk -t1 -c16 -d"${DUR}s" -s "$OUT/minilm.lua" "$url" 2>&1)
    s1=$(stats "$port")
    before=$(snapshot "$pid")
    rate=$(hey -z "${DUR}s" -c 16 -q "$(python3 -c "print(max(1, round($RATE / 16)))")" \
      -m POST -T application/json -D "$BODY" "$url" 2>&1)
    after=$(snapshot "$pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rec=$(python3 - "$cfg" "$round" "$c1" "$s0" "$s1" "$c16" "$before" "$after" "$rate" "$e0" "$e1" <<'PY'
import json, os, re, sys
cfg, rnd, c1, s0, s1, c16, b, a, rate, e0, e1 = sys.argv[1:]
def pct(out, p):
    m = re.search(rf"\s{p}% in ([\d.]+) secs", out)
    return round(float(m.group(1)) * 1000, 3) if m else None
def ok(out):
    m = re.search(r"\[200\]\s+(\d+) responses", out)
    return int(m.group(1)) if m else 0
rec = {"config": cfg, "round": int(rnd), "c1_p50_ms": pct(c1, 50), "c1_p99_ms": pct(c1, 99)}
e0, e1 = json.loads(e0), json.loads(e1)
ex = sorted(([v[0] - e0.get(t, [0, 0, 0])[0], round((v[1] - e0.get(t, [0, 0, 0])[1]) / 1e6, 1),
              round((v[2] - e0.get(t, [0, 0, 0])[2]) / 1e6, 1)] for t, v in e1.items()), reverse=True)
if ex:
    rec["c1_ok"] = ok(c1)
    rec["c1_exec"] = ex  # per engine thread: [voluntary switches, CPU ms, run-queue wait ms]
    sw = sum(x[0] for x in ex)
    rec["c1_hot_share"] = round(ex[0][0] / sw, 3) if sw else None
    rec["c1_exec_us_per_pass"] = round(sum(x[1] for x in ex) * 1000 / sw, 1) if sw else None
m = re.search(r"Requests/sec:\s*([\d.]+)", c16)
rec["c16_rps"] = float(m.group(1)) if m else None
try:
    x, y = (json.loads(s)["model_stats"][0] for s in (s0, s1))
    rec["c16_batch"] = round((y["inference_count"] - x["inference_count"])
                             / max(1, y["execution_count"] - x["execution_count"]), 2)
except (KeyError, IndexError, ValueError):
    rec["c16_batch"] = None
b, a, n, tck = json.loads(b), json.loads(a), max(1, ok(rate)), os.sysconf("SC_CLK_TCK")
rec["rate_ok"] = ok(rate)
rec["rate_cpu_us"] = round((a["cpu"] - b["cpu"]) / tck / n * 1e6, 1)
rec["rate_threads"] = {g: [round((v - b["threads"].get(g, [0, 0, 0])[0]) / n, 2),
                           round((i - b["threads"].get(g, [0, 0, 0])[1]) / n, 2),
                           round((c - b["threads"].get(g, [0, 0, 0])[2]) / tck / n * 1e6, 1)]
                       for g, (v, i, c) in a["threads"].items()}
print(json.dumps(rec))
PY
)
    # ONNX Runtime alone at the batch the server formed, this configuration, one caller per instance.
    batch=$(python3 -c "import json,sys; b=json.loads(sys.argv[1]).get('c16_batch'); print(max(1, round(b)) if b else '')" "$rec")
    if [ -n "$batch" ] && [ "$cfg" != java-peer ]; then
      ./fulcrum bench -m "$MODEL" --model-repository "$(repo "$(b=${cfg%+fifo}; b=${b%+lifo}; b=${b%+lend}; echo "${b%+row*}")")" --in-process \
        --shape input_ids:16 --shape attention_mask:16 --shape token_type_ids:16 \
        --batch-size "$batch" --concurrency "${cfg%%x*}" --warmup 3s --window "${DUR}s" --max-windows 1 \
        --output "$OUT/ort-$cfg-$round.json" >"$OUT/ort-$cfg-$round.txt" 2>&1 || true
      rec=$(python3 - "$rec" "$OUT/ort-$cfg-$round.json" <<'PY'
import json, sys
rec = json.loads(sys.argv[1])
try:
    rec["ort_rows_per_s"] = round(float(json.load(open(sys.argv[2]))[0]["inferences_per_second"]), 1)
except (OSError, KeyError, IndexError, ValueError):
    rec["ort_rows_per_s"] = None
print(json.dumps(rec))
PY
)
    fi
    echo "$rec" >>"$OUT/runs.jsonl"
    echo "round $round $cfg: $rec" >&2
  done
done

python3 - "$OUT" "${CONFIGS[@]}" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, configs = sys.argv[1], sys.argv[2:]
runs = [json.loads(l) for l in open(f"{out}/runs.jsonl") if l.strip()]
def med(cfg, key):
    xs = [r[key] for r in runs if r["config"] == cfg and r.get(key) is not None]
    return statistics.median(xs) if xs else None
f = lambda x, d=1: "-" if x is None else f"{x:,.{d}f}"
print(f"medians over rounds, busy machine (MiniLM token ids, 16 tokens; {out})")
print(f"{'config':10} {'n':>2} {'c1 p50 ms':>10} {'c1 p99 ms':>10} {'c16 req/s':>10} {'batch':>6}"
      f" {'ORT rows/s':>11} {'c16/ORT':>8} {'CPU/req us':>11} {'ORT pool vol/req':>17}"
      f" {'c1 hot share':>12} {'c1 exec us/pass':>15}")
for cfg in configs:
    n = sum(1 for r in runs if r["config"] == cfg)
    pairs = [r["c16_rps"] / r["ort_rows_per_s"] for r in runs
             if r["config"] == cfg and r.get("c16_rps") and r.get("ort_rows_per_s")]
    pool = [r["rate_threads"].get("fulcrum-load-* (ORT pools)", [0])[0] for r in runs if r["config"] == cfg]
    print(f"{cfg:10} {n:>2} {f(med(cfg, 'c1_p50_ms'), 2):>10} {f(med(cfg, 'c1_p99_ms'), 2):>10}"
          f" {f(med(cfg, 'c16_rps'), 0):>10} {f(med(cfg, 'c16_batch'), 1):>6}"
          f" {f(med(cfg, 'ort_rows_per_s'), 0):>11} {f(statistics.median(pairs) if pairs else None, 2):>8}"
          f" {f(med(cfg, 'rate_cpu_us'), 0):>11} {f(statistics.median(pool) if pool else None, 2):>17}"
          f" {f(med(cfg, 'c1_hot_share'), 2):>12} {f(med(cfg, 'c1_exec_us_per_pass'), 0):>15}")
print("per thread group at the fixed rate, medians: CPU us / voluntary / involuntary switches per request")
for cfg in configs:
    rs = [r for r in runs if r["config"] == cfg]
    for g in sorted({g for r in rs for g in r["rate_threads"]}):
        col = lambda k: statistics.median([(r["rate_threads"].get(g) or [0, 0, 0])[k] for r in rs])
        print(f"  {cfg:10} {g:28} {col(2):8.1f} us {col(0):6.2f} / {col(1):5.2f}")
PY
