#!/usr/bin/env bash
# Text pipelines (issue #15), one run against one server (docs/PERFORMANCE.md, "Text pipelines"):
#  1. correctness: minilm_text's vectors for 100 sentences against langchain4j's own in-process
#     all-MiniLM-L6-v2 (quantized) model, cosine >= 0.9999 (PipelineTest, in process; the server's
#     vectors equal the in-process ones: PipelineE2eTest);
#  2. cost: at c=1 on 16-token sentences, tokenize + pool's share of the server's time per request
#     (the statistics' fulcrum.preprocess/postprocess against success); at c=16, minilm_text's
#     sentences/s against all_minilm_l6_v2's requests/s (16 token ids, the same sentences'), same run;
#  3. cache: a repeated request's latency against an uncached one's (a copy of minilm_text with
#     response-cache enabled, in a second repository root).
# Environment: PORT (18750), SECS (seconds per load level, 10), SKIP_CORRECTNESS=1,
# FULCRUM (the launcher, ./fulcrum). Results: bench/results/<time>-text/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18750}
SECS=${SECS:-10}
FULCRUM=${FULCRUM:-./fulcrum}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-text"
mkdir -p "$OUT/repo/minilm_text_cached/1"

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

python3 - "$PORT" "$SECS" "$OUT" <<'PY' | tee "$OUT/summary.txt"
import http.client, json, sys, threading, time
port, secs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

# Sentences of exactly 16 tokens with [CLS] and [SEP] (checked below against the tokenizer).
WORDS = ("the quick brown fox jumps over the lazy dog while a small bird sings near "
         "an old river under bright morning light").split()
def sentence(i):
    w = WORDS[i % 7:] + WORDS[:i % 7]
    return " ".join(w[:14])

local = threading.local()
def post(path, body):
    c = getattr(local, "c", None)
    if c is None:
        c = local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(f"{r.status}: {data[:200]!r}")
    return data

def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path)
    return json.loads(c.getresponse().read())

def text_body(s):
    return json.dumps({"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES", "data": [s]}]})

IDS = [101] + [2000 + k for k in range(14)] + [102]
ids_body = json.dumps({"inputs": [
    {"name": "input_ids", "shape": [1, 16], "datatype": "INT64", "data": IDS},
    {"name": "attention_mask", "shape": [1, 16], "datatype": "INT64", "data": [1] * 16},
    {"name": "token_type_ids", "shape": [1, 16], "datatype": "INT64", "data": [0] * 16}],
    "outputs": [{"name": "last_hidden_state"}]})

def stats(model):
    s = get(f"/v2/models/{model}/stats")["model_stats"][0]
    return s

def run(model, body_of, concurrency, seconds):
    path = f"/v2/models/{model}/infer"
    stop = time.monotonic() + seconds
    counts, lat = [0] * concurrency, [[] for _ in range(concurrency)]
    def worker(k):
        i = k
        while time.monotonic() < stop:
            t = time.perf_counter()
            post(path, body_of(i))
            lat[k].append(time.perf_counter() - t)
            counts[k] += 1
            i += concurrency
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    t0 = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    all_lat = sorted(x for l in lat for x in l)
    return sum(counts) / (time.monotonic() - t0), all_lat[len(all_lat) // 2] * 1000

# Warm up both.
for i in range(50):
    post("/v2/models/minilm_text/infer", text_body(sentence(i)))
    post("/v2/models/all_minilm_l6_v2/infer", ids_body)

# 2a. c=1: the share of pre + post in the server's time per request.
before = stats("minilm_text")
rate1, p50_1 = run("minilm_text", lambda i: text_body(sentence(i)), 1, secs)
after = stats("minilm_text")
def delta(path):
    a, b = after, before
    for p in path:
        a, b = a[p], b[p]
    return a["count"] - b["count"], a["ns"] - b["ns"]
n, succ_ns = delta(("inference_stats", "success"))
_, pre_ns = delta(("fulcrum", "preprocess"))
_, post_ns = delta(("fulcrum", "postprocess"))
_, infer_ns = delta(("inference_stats", "compute_infer"))
server_ns = succ_ns + pre_ns + post_ns   # success runs from admission to the queue's completion
print(f"c=1 minilm_text: {rate1:.0f} sentences/s, p50 {p50_1:.2f} ms (client)")
print(f"  per request: pre {pre_ns/n/1e3:.0f} us, post {post_ns/n/1e3:.0f} us, "
      f"queue+compute {succ_ns/n/1e3:.0f} us (forward pass {infer_ns/n/1e3:.0f} us)")
print(f"  tokenize + pool share of server time: {100*(pre_ns+post_ns)/server_ns:.1f} %")

# 2b. c=16: sentences/s vs the token-id model's requests/s, same run.
rate_text, p50_text = run("minilm_text", lambda i: text_body(sentence(i)), 16, secs)
rate_ids, p50_ids = run("all_minilm_l6_v2", lambda i: ids_body, 16, secs)
print(f"c=16 minilm_text: {rate_text:.0f} sentences/s (p50 {p50_text:.1f} ms); "
      f"all_minilm_l6_v2: {rate_ids:.0f} req/s (p50 {p50_ids:.1f} ms); ratio {rate_text/rate_ids:.2f}")

# 3. cache: the same request again, against distinct (uncached) ones.
distinct = [run("minilm_text_cached", lambda i, k=k: text_body(f"{sentence(i)} {k} {i}"), 1, secs / 2) for k in range(1)]
_, p50_miss = distinct[0]
post("/v2/models/minilm_text_cached/infer", text_body("a repeated sentence"))
_, p50_hit = run("minilm_text_cached", lambda i: text_body("a repeated sentence"), 1, secs / 2)
cs = stats("minilm_text_cached")["inference_stats"]
print(f"cache: repeated p50 {p50_hit:.2f} ms vs uncached p50 {p50_miss:.2f} ms: "
      f"{p50_hit/p50_miss:.2f}x; hits {cs['cache_hit']['count']}, misses {cs['cache_miss']['count']}")
PY
echo "results in $OUT"
