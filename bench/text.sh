#!/usr/bin/env bash
# Text pipelines (issue #15), one server (docs/PERFORMANCE.md, "Text pipelines"):
#  1. correctness: minilm_text's vectors for 100 sentences against langchain4j's own in-process
#     all-MiniLM-L6-v2 (quantized) model, cosine >= 0.9999 (PipelineTest, in process; the server's
#     vectors equal the in-process ones: PipelineE2eTest);
#  2. cost at c=1, one 16-token sentence (wrk -t1 -c1, a fixed JSON body: a light client):
#       share = (preprocess + postprocess) / (preprocess + success + postprocess)
#     from the model's statistics over the run (GET /v2/models/minilm_text/stats, before and after):
#     preprocess = tokenizing (on the engine thread that then runs the pass, or on a fulcrum-pre-N
#     thread when every engine thread is busy), postprocess = mean-pool + normalize on the engine
#     thread, success = the scheduler's time from admission to completion (queue + forward pass).
#     HTTP and JSON on the event loop are in none of them, so the share of the whole server time is
#     lower still. Beside it, each server thread group's CPU time and context switches per request
#     (/proc/<pid>/task/*/schedstat and status), which load blurs less than wall time;
#  3. c=16: minilm_text sentences/s against all_minilm_l6_v2 requests/s (the same 16 token ids);
#  4. cache: a repeated request's p50 (a copy of minilm_text with response-cache enabled) against
#     the uncached c=1 p50.
# Levels run in ROUNDS interleaved rounds (text c=1, ids c=1, text c=16, ids c=16, cache); medians
# are printed. Environment: PORT (18750), SECS (seconds per level and round, 10), ROUNDS (3),
# SKIP_CORRECTNESS=1, FULCRUM (the launcher, ./fulcrum). Needs wrk (apt-get install -y wrk).
# Results: bench/results/<time>-text/ (summary.txt, rounds.jsonl, server.log).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18750}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-3}
FULCRUM=${FULCRUM:-./fulcrum}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-text"
mkdir -p "$OUT/repo/minilm_text_cached/1"
command -v wrk >/dev/null || { echo "text.sh needs wrk (apt-get install -y wrk)" >&2; exit 1; }

if [ "${SKIP_CORRECTNESS:-0}" != 1 ]; then
  ./mvnw -B -ntp -q -pl fulcrum-pipelines -am test -Dspotless.check.skip=true \
    -Dtest='PipelineTest#agreesWithLangchain4jOnAHundredSentences' \
    -Dsurefire.failIfNoSpecifiedTests=false 2>&1 | tee "$OUT/correctness.txt" | grep -E "cosine|FAIL" || true
fi

sed -e 's/^max-batch-size: 16$/max-batch-size: 16\nresponse-cache:\n  enabled: true\n  max-bytes: 16777216/' \
  demo/models/minilm_text/config.yaml > "$OUT/repo/minilm_text_cached/config.yaml"
cp demo/models/all_minilm_l6_v2/all-minilm-l6-v2-q-tokenizer.json "$OUT/repo/minilm_text_cached/"

$FULCRUM --version >/dev/null   # builds if needed
$FULCRUM serve --model-repository demo/models --model-repository "$OUT/repo" \
  --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 180); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
  sleep 1
done

# The JVM: the launcher itself when it execs java, else its java descendant.
java_pid() {
  local pid=$1
  while [ "$(cat /proc/$pid/comm 2>/dev/null)" != java ]; do
    pid=$(ps -o pid= --ppid "$pid" | head -1 | tr -d ' ')
    [ -n "$pid" ] || { echo "no java process under $SERVER" >&2; exit 1; }
  done
  echo "$pid"
}
JVM=$(java_pid $SERVER)

# One sentence of exactly 16 tokens with [CLS] and [SEP]; the token-id body holds the same ids.
SENTENCE="the quick brown fox jumps over the lazy dog while a small bird sings near"
python3 - "$OUT" "$SENTENCE" <<'PY'
import json, sys
out, s = sys.argv[1], sys.argv[2]
ids = [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 2096, 1037, 2235, 4743, 10955, 102]
text = {"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES", "data": [s]}]}
tok = {"inputs": [
    {"name": "input_ids", "shape": [1, 16], "datatype": "INT64", "data": ids},
    {"name": "attention_mask", "shape": [1, 16], "datatype": "INT64", "data": [1] * 16},
    {"name": "token_type_ids", "shape": [1, 16], "datatype": "INT64", "data": [0] * 16}],
    "outputs": [{"name": "last_hidden_state"}]}
json.dump(text, open(f"{out}/text.json", "w"))
json.dump(tok, open(f"{out}/ids.json", "w"))
for name in ("text", "ids"):
    open(f"{out}/{name}.lua", "w").write(
        f'local f = io.open("{out}/{name}.json", "r"); wrk.body = f:read("*a"); f:close()\n'
        'wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"\n')
PY
# The tokenizer must give the ids above (the sentence is 16 tokens).
curl -sf -X POST -H 'Content-Type: application/json' --data @"$OUT/text.json" \
  "http://127.0.0.1:$PORT/v2/models/minilm_text/infer" >/dev/null

# threads <file>: per thread group (the name without its trailing number): CPU ns, voluntary and
# involuntary context switches.
threads() {
  python3 - "$JVM" "$1" <<'PY'
import json, os, re, sys
pid, path = sys.argv[1], sys.argv[2]
groups = {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        run_ns = int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        st = open(f"/proc/{pid}/task/{tid}/status").read()
    except OSError:
        continue
    vol = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", st, re.M).group(1))
    inv = int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", st, re.M).group(1))
    groups[tid] = [re.sub(r"\d+$", "N", comm), run_ns, vol, inv]
json.dump(groups, open(path, "w"))
PY
}

# level <label> <model> <body> <connections> <seconds>: one wrk run with the statistics and
# thread counters around it, appended to rounds.jsonl.
level() {
  local label=$1 model=$2 body=$3 conns=$4 secs=$5
  curl -sf "http://127.0.0.1:$PORT/v2/models/$model/stats" > "$OUT/s0.json"
  threads "$OUT/t0.json"
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$OUT/$body.lua" \
    "http://127.0.0.1:$PORT/v2/models/$model/infer" > "$OUT/wrk.txt"
  threads "$OUT/t1.json"
  curl -sf "http://127.0.0.1:$PORT/v2/models/$model/stats" > "$OUT/s1.json"
  python3 - "$OUT" "$label" <<'PY' >> "$OUT/rounds.jsonl"
import json, re, sys
out, label = sys.argv[1], sys.argv[2]
a = json.load(open(f"{out}/s0.json"))["model_stats"][0]
b = json.load(open(f"{out}/s1.json"))["model_stats"][0]
def d(group, key):
    x, y = a.get(group, {}).get(key), b.get(group, {}).get(key)
    if y is None:
        return 0, 0
    x = x or {"count": 0, "ns": 0}
    return y["count"] - x["count"], y["ns"] - x["ns"]
wrk = open(f"{out}/wrk.txt").read()
def ms(v):
    n, unit = float(re.match(r"[\d.]+", v).group()), re.search(r"[a-z]+$", v).group()
    return n * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
p50 = ms(re.search(r"^\s+50%\s+(\S+)", wrk, re.M).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
n, success = d("inference_stats", "success")
t0, t1 = json.load(open(f"{out}/t0.json")), json.load(open(f"{out}/t1.json"))
groups = {}
for tid, (name, run, vol, inv) in t1.items():
    r0, v0, i0 = t0.get(tid, [name, 0, 0, 0])[1:]
    g = groups.setdefault(name, [0, 0, 0])
    g[0] += run - r0; g[1] += vol - v0; g[2] += inv - i0
row = {"level": label, "rps": rps, "p50_ms": p50, "non2xx": int(errors.group(1)) if errors else 0,
       "requests": n, "success_us": success / max(n, 1) / 1e3,
       "cache_hits": d("inference_stats", "cache_hit")[0]}
for k in ("queue", "compute_infer"):
    c, ns = d("inference_stats", k); row[k + "_us"] = ns / max(c, 1) / 1e3
for k in ("preprocess", "postprocess"):
    c, ns = d("fulcrum", k); row[k + "_us"] = ns / max(c, 1) / 1e3
row["threads"] = {k: {"cpu_us": v[0] / max(n, 1) / 1e3, "vcs": v[1] / max(n, 1), "ics": v[2] / max(n, 1)}
                  for k, v in groups.items() if v[0] / max(n, 1) >= 1000}
print(json.dumps(row))
PY
}

# Warm up both models and the cache (JIT, ONNX Runtime's first passes).
level warm-text minilm_text text 1 "$SECS" >/dev/null
level warm-ids all_minilm_l6_v2 ids 1 "$SECS" >/dev/null
: > "$OUT/rounds.jsonl"
for r in $(seq "$ROUNDS"); do
  level text1 minilm_text text 1 "$SECS"
  level ids1 all_minilm_l6_v2 ids 1 "$SECS"
  level text16 minilm_text text 16 "$SECS"
  level ids16 all_minilm_l6_v2 ids 16 "$SECS"
  level cached1 minilm_text_cached text 1 "$SECS"
done

python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(f"{sys.argv[1]}/rounds.jsonl")]
def of(level): return [r for r in rows if r["level"] == level]
def med(level, key): return statistics.median(r[key] for r in of(level))
bad = sum(r["non2xx"] for r in rows)
print(f"{len(of('text1'))} rounds, medians; non-2xx responses: {bad}")
shares = [100 * (r["preprocess_us"] + r["postprocess_us"]) /
          (r["preprocess_us"] + r["success_us"] + r["postprocess_us"]) for r in of("text1")]
print(f"c=1 minilm_text: {med('text1', 'rps'):.0f} sentences/s, p50 {med('text1', 'p50_ms'):.2f} ms (client); "
      f"per request: pre {med('text1', 'preprocess_us'):.0f} us, post {med('text1', 'postprocess_us'):.0f} us, "
      f"queue + compute {med('text1', 'success_us'):.0f} us (forward pass {med('text1', 'compute_infer_us'):.0f} us)")
print(f"  tokenize + pool share: {statistics.median(shares):.1f} % "
      f"(rounds: {', '.join(f'{s:.1f}' for s in shares)}; target <= 10 %)")
print(f"c=1 all_minilm_l6_v2 (token ids): {med('ids1', 'rps'):.0f} req/s, p50 {med('ids1', 'p50_ms'):.2f} ms; "
      f"queue + compute {med('ids1', 'success_us'):.0f} us (forward pass {med('ids1', 'compute_infer_us'):.0f} us)")
for level in ("text1", "ids1"):
    names = sorted({k for r in of(level) for k in r["threads"]},
                   key=lambda k: -statistics.median(r["threads"].get(k, {"cpu_us": 0})["cpu_us"] for r in of(level)))
    print(f"  {level} server CPU per request by thread group (us; voluntary / involuntary context switches):")
    for k in names:
        t = [r["threads"].get(k, {"cpu_us": 0, "vcs": 0, "ics": 0}) for r in of(level)]
        if statistics.median(x["cpu_us"] for x in t) < 20:
            continue
        print(f"    {k:18s} {statistics.median(x['cpu_us'] for x in t):8.0f}   "
              f"{statistics.median(x['vcs'] for x in t):5.2f} / {statistics.median(x['ics'] for x in t):5.2f}")
ratios = [a["rps"] / b["rps"] for a, b in zip(of("text16"), of("ids16"))]
print(f"c=16 minilm_text {med('text16', 'rps'):.0f} sentences/s (p50 {med('text16', 'p50_ms'):.1f} ms) vs "
      f"all_minilm_l6_v2 {med('ids16', 'rps'):.0f} req/s (p50 {med('ids16', 'p50_ms'):.1f} ms): "
      f"ratio {statistics.median(ratios):.2f} (rounds: {', '.join(f'{x:.2f}' for x in ratios)}; target >= 0.9)")
cache = [c["p50_ms"] / t["p50_ms"] for c, t in zip(of("cached1"), of("text1"))]
print(f"cache: repeated request p50 {med('cached1', 'p50_ms'):.2f} ms vs uncached {med('text1', 'p50_ms'):.2f} ms: "
      f"{statistics.median(cache):.2f}x (target <= 0.2); hits {sum(r['cache_hits'] for r in of('cached1'))}")
PY
echo "results in $OUT"
