#!/usr/bin/env bash
# Memory over a long soak: leak or plateau? One fresh demo server with Native Memory Tracking,
# ROUNDS x (LOAD s of load, IDLE s idle), and every SAMPLE s one row of samples.csv: RSS (anon,
# file), the Java heap committed / used / resident, each NMT category's committed MiB, NMT's
# malloc total, and "outside" (RssAnon - heap resident - non-heap NMT committed: ONNX Runtime's
# and the native libraries' malloc, glibc's kept free pages; a floor, read for its trend), the
# server's answered requests (nv_inference_request_success + _failure), threads and descriptors.
# A leak grows with the requests (or time) and does not come back in the idle minutes (serve's
# malloc_trim after --native-heap-trim-secs idle s, G1's periodic collection after 60 s idle);
# a plateau levels off within a phase and falls back when idle. Keep IDLE >= 150: the trim runs
# 10-20 s after the last answer, G1's periodic collection 60 s after the last collection (often
# 1-2.5 min after the load, since scrapes and the sampler allocate).
# KIND picks the load (moderate rates, for a shared 2-core machine; scale with RATE_SCALE):
#   mixed   fraud JSON 1,500/s (openloop), fraud binary 300/s and MiniLM gRPC 10/s (fulcrum
#           bench), MiniLM JSON 60/s, minilm_text 20/s                            (default)
#   fraud   fraud JSON 2,500/s, keep-alive          minilm  MiniLM JSON 100/s
#   text    minilm_text 20/s                        grpc    fraud gRPC 200/s + MiniLM gRPC 20/s
#   noka    fraud JSON 400/s, a new connection per request (hey -disable-keepalive)
#   cycles  explicit model control: minilm_text and all_minilm_l6_v2 unloaded and loaded
#           again, 20 MiniLM + 20 fraud requests, over and over for LOAD s
#   ROUNDS=3 LOAD=480 IDLE=180 bash bench/soak.sh
#   KIND=fraud ROUNDS=2 LOAD=600 IDLE=150 bash bench/soak.sh
#   FULCRUM=/path/to/other/fulcrum SERVE_ARGS="--native-heap-trim-secs 0" bash bench/soak.sh
# Results: bench/results/<time>-soak-<kind>/ (samples.csv, summary.txt, server.log, clients').
# Needs jcmd (the JDK's), hey, curl, cc; does not build unless ./fulcrum needs to. The fulcrum bench
# clients (mixed, grpc) give up if their first metadata call misses its deadline, which happened
# once on a saturated machine: look at fbench-r*.log and the requests column.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
KIND=${KIND:-mixed}
ROUNDS=${ROUNDS:-3}
LOAD=${LOAD:-480}
IDLE=${IDLE:-180}
SAMPLE=${SAMPLE:-30}
RATE_SCALE=${RATE_SCALE:-1}
PORT=${PORT:-18800}
FULCRUM=${FULCRUM:-./fulcrum}
SERVE_ARGS=${SERVE_ARGS:-}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-soak-$KIND"
mkdir -p "$OUT"
for tool in jcmd hey curl cc python3; do
  command -v $tool >/dev/null || { echo "soak.sh needs $tool" >&2; exit 1; }
done
if [ "$FULCRUM" = ./fulcrum ]; then ./fulcrum --version >/dev/null; fi # builds if needed
export FULCRUM_NO_BUILD=1
bench_need_minilm soak.sh
bench_openloop "$OUT/openloop"
python3 - "$OUT" <<'PY'
import json, sys
json.dump({"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES",
                       "data": ["the quick brown fox jumps over the lazy dog"]}]},
          open(f"{sys.argv[1]}/text.json", "w"))
PY
rate() { python3 -c "print(max(1, round($1 * $RATE_SCALE)))"; }

cat > "$OUT/sample.py" <<'PY'
import csv, os, re, subprocess, sys, time, urllib.request
pid, mport, out, interval, label = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
CATS = ["Java Heap", "Class", "Thread", "Code", "GC", "Compiler", "Internal", "Other", "Symbol",
        "Native Memory Tracking", "Arena Chunk", "Module", "Synchronizer", "Serviceability",
        "Metaspace", "Object Monitors", "String Deduplication", "Safepoint", "Logging", "Unknown"]
cols = (["utc", "t_s", "phase", "requests", "rss", "rss_anon", "rss_file", "threads", "fds",
         "heap_committed", "heap_used", "heap_rss", "nmt_committed", "nmt_malloc", "outside"]
        + [c.replace(" ", "_") for c in CATS])
mib = lambda kb: round(kb / 1024.0, 1)
def jcmd(*a):
    return subprocess.run(["jcmd", str(pid), *a], capture_output=True, text=True, timeout=60).stdout
def heap_rss(lo, hi):  # KiB resident in the mappings inside the heap's reserved range
    n, inside = 0, False
    for line in open(f"/proc/{pid}/smaps"):
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            a, b = (int(x, 16) for x in head.split("-"))
            inside = a >= lo and b <= hi
        elif inside and line.startswith("Rss:"):
            n += int(line.split()[1])
    return n
def requests():
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10).read().decode()
    except Exception:
        return ""
    return int(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                   if l.startswith(("nv_inference_request_success{", "nv_inference_request_failure{"))))
f = open(out, "w", newline=""); w = csv.writer(f); w.writerow(cols); t0 = time.time()
while os.path.exists(f"/proc/{pid}"):
    t = time.time()
    try:
        st = {k: int(v.split()[0]) for k, _, v in (l.partition(":") for l in open(f"/proc/{pid}/status"))
              if k in ("VmRSS", "RssAnon", "RssFile", "Threads")}
        heap = jcmd("GC.heap_info")
        m = re.search(r"committed (\d+)K, used (\d+)K", heap)
        r = re.search(r"\[(0x[0-9a-f]+), (0x[0-9a-f]+)\)", heap)
        hr = heap_rss(int(r.group(1), 16), int(r.group(2), 16)) if r else 0
        nmt = jcmd("VM.native_memory", "summary", "scale=KB")
        tot = int(re.search(r"Total: reserved=\d+KB, committed=(\d+)KB", nmt).group(1))
        mal = re.search(r"malloc: (\d+)KB", nmt)
        cat = {k: int(c) for k, c in re.findall(r"^-\s+(.+?) \(reserved=\d+KB, committed=(\d+)KB", nmt, re.M)}
        w.writerow([time.strftime("%H:%M:%S", time.gmtime()), int(t - t0), open(label).readline().strip(),
                    requests(), mib(st["VmRSS"]), mib(st["RssAnon"]), mib(st["RssFile"]), st["Threads"],
                    len(os.listdir(f"/proc/{pid}/fd")), mib(int(m.group(1))), mib(int(m.group(2))), mib(hr),
                    mib(tot), mib(int(mal.group(1)) if mal else 0),
                    mib(st["RssAnon"] - hr - (tot - cat.get("Java Heap", 0)))]
                   + [mib(cat.get(c, 0)) for c in CATS])
        f.flush()
    except Exception as e:  # the server left mid-sample, or jcmd timed out
        print(f"sample failed: {e}", file=sys.stderr)
    time.sleep(max(0.0, interval - (time.time() - t)))
PY

MODE=()
[ "$KIND" = cycles ] && MODE=(--model-control-mode explicit --load-model '*')
# shellcheck disable=SC2086 # SERVE_ARGS: words on purpose
FULCRUM_JAVA_OPTS="${FULCRUM_JAVA_OPTS:-} -XX:NativeMemoryTracking=summary" $FULCRUM serve \
  --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) "${MODE[@]}" $SERVE_ARGS \
  > "$OUT/server.log" 2>&1 &
SERVER=$!
SAMPLER=
trap 'kill $SAMPLER 2>/dev/null; kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
bench_wait_ready "$PORT" 120
echo idle0 > "$OUT/phase"
python3 "$OUT/sample.py" "$SERVER" $((PORT + 2)) "$OUT/samples.csv" "$SAMPLE" "$OUT/phase" 2>"$OUT/sampler.err" &
SAMPLER=$!
URL=http://127.0.0.1:$PORT
ol() { # model body rate connections tag
  "$OUT/openloop" --url "$URL/v2/models/$1/infer" --body "$2" --rate "$(rate "$3")" --connections "$4" \
    --duration "$LOAD" --warmup 0 --slo-ms 100 --out "$OUT/ol-$1-$5-r$round.json" >/dev/null 2>&1 &
}
fb() { # fulcrum bench args..., open loop for LOAD s
  timeout $((LOAD + 5)) $FULCRUM bench "$@" --warmup 1s --window 10s --max-windows 100000 \
    --stability 0.001 >>"$OUT/fbench-r$round.log" 2>&1 &
}
cycles() { # unload + load minilm_text and all_minilm_l6_v2, then 20 + 20 requests, for LOAD s
  local end=$((SECONDS + LOAD)) m
  while ((SECONDS < end)); do
    for m in minilm_text all_minilm_l6_v2; do
      curl -s -o /dev/null -w "unload $m %{http_code}\n" -X POST "$URL/v2/repository/models/$m/unload"
    done
    sleep 0.5
    for m in all_minilm_l6_v2 minilm_text; do
      curl -s -o /dev/null -w "load $m %{http_code}\n" -X POST "$URL/v2/repository/models/$m/load"
    done
    hey -n 20 -c 2 -m POST -T application/json -D "$BENCH_MINILM_BODY" "$URL/v2/models/all_minilm_l6_v2/infer" | grep -E '^\s+\[[0-9]+\]' || true
    hey -n 20 -c 2 -m POST -T application/json -D "$BENCH_FRAUD_BODY" "$URL/v2/models/fraud_classifier/infer" | grep -E '^\s+\[[0-9]+\]' || true
  done >>"$OUT/cycles.txt" 2>&1
}
sleep 45 # idle0: the server's footprint when ready
for round in $(seq "$ROUNDS"); do
  echo "$KIND$round" > "$OUT/phase"
  case $KIND in
    mixed)
      ol fraud_classifier "$BENCH_FRAUD_BODY" 1500 8 json
      ol all_minilm_l6_v2 "$BENCH_MINILM_BODY" 60 4 json
      ol minilm_text "$OUT/text.json" 20 2 json
      fb -m fraud_classifier --protocol rest-binary --url "$URL" --rate "$(rate 300)"
      fb -m all_minilm_l6_v2 --protocol grpc --grpc-url 127.0.0.1:$((PORT + 1)) --rate "$(rate 10)" \
        --input-data "$BENCH_MINILM_BODY" ;;
    fraud) ol fraud_classifier "$BENCH_FRAUD_BODY" 2500 8 json ;;
    minilm) ol all_minilm_l6_v2 "$BENCH_MINILM_BODY" 100 4 json ;;
    text) ol minilm_text "$OUT/text.json" 20 2 json ;;
    grpc)
      fb -m fraud_classifier --protocol grpc --grpc-url 127.0.0.1:$((PORT + 1)) --rate "$(rate 200)"
      fb -m all_minilm_l6_v2 --protocol grpc --grpc-url 127.0.0.1:$((PORT + 1)) --rate "$(rate 20)" \
        --input-data "$BENCH_MINILM_BODY" ;;
    noka)
      timeout $((LOAD + 5)) hey -z "${LOAD}s" -c 4 -q "$(rate 100)" -disable-keepalive -m POST \
        -T application/json -D "$BENCH_FRAUD_BODY" "$URL/v2/models/fraud_classifier/infer" \
        > "$OUT/hey-r$round.txt" 2>&1 & ;;
    cycles) cycles & ;;
    *) echo "unknown KIND $KIND" >&2; exit 1 ;;
  esac
  loads=$(jobs -p | grep -vx -e "$SERVER" -e "$SAMPLER" || true)
  # shellcheck disable=SC2086 # one word a job
  [ -z "$loads" ] || wait $loads || true # fulcrum bench ends by timeout: 124
  echo "idle$round" > "$OUT/phase"
  sleep "$IDLE"
done
echo done > "$OUT/phase"
sleep "$SAMPLE"
python3 - "$OUT/samples.csv" <<'PY' | tee "$OUT/summary.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
moved = ["rss", "heap_committed", "heap_rss", "outside", "nmt_malloc", "Code", "Metaspace", "Class",
         "Thread", "Other", "Internal", "GC", "Symbol"]
print("phase      end time  requests   " + " ".join(f"{k:>14}" for k in moved))
phases = []
for r in rows:
    if not phases or phases[-1][0] != r["phase"]:
        phases.append((r["phase"], []))
    phases[-1][1].append(r)
for name, rs in phases:
    r = rs[-1]
    print(f"{name:<10} {r['utc']:>8} {r['requests']:>9}   " + " ".join(f"{r[k]:>14}" for k in moved))
loads = [rs for name, rs in phases if not name.startswith(("idle", "done"))]
idles = [rs[-1] for name, rs in phases if name.startswith("idle") and name != "idle0"]
for i, rs in enumerate(loads, 1):  # the second half of each load phase: MiB per million requests
    half = rs[len(rs) // 2:]
    if len(half) > 1 and half[-1]["requests"] and half[0]["requests"]:
        n = int(half[-1]["requests"]) - int(half[0]["requests"])
        d = float(half[-1]["rss"]) - float(half[0]["rss"])
        print(f"load {i}, second half: RSS {d:+.1f} MiB over {n} requests"
              f" ({d / max(n, 1) * 1e6:+.1f} MiB a million)")
if len(idles) > 1:
    a, b = idles[0], idles[-1]
    print(f"end of idle 1 -> end of idle {len(idles)}: " + ", ".join(
        f"{k} {float(b[k]) - float(a[k]):+.1f}" for k in moved) + " MiB")
PY
echo "results: $OUT"
