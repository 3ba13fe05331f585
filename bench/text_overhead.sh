#!/usr/bin/env bash
# What monitoring a text model (monitoring.text, docs/MONITORING.md "Text models") costs MiniLM
# at c=16: two servers on copies of the demo all_minilm_l6_v2, monitoring on (as configured:
# enabled: true, the token ids and, with output: last_hidden_state, the mean-pooled embedding's
# norm and mean) and off (enabled: false); PAIRS pairs of SAT s closed-loop windows with hey -c
# 16, on and off back to back, order alternating (ABBA); one REST body (one sentence of 11 tokens,
# last_hidden_state). Prints each pair's throughput ratio on/off and their median, then the on
# server's monitor observations and dropped count (the queue must not drop) and the monitor
# thread's CPU time per observation (/proc, clock ticks) and its share of the server's CPU.
# Needs the built dist (./fulcrum serve) and the ONNX file the build puts in 1/.
# MODEL=minilm_text measures the pipeline instead (session 12: text in, monitored per pass through
# the model it runs): the body is one sentence as text (LEN words of the same sentence).
# Variables: PAIRS (8), SAT (5), CONC (16), OUTPUT (1; 0 drops monitoring.text.output from the on
# arm: the token ids only, session 10's setting), LEN (11: the sentence's tokens; more repeats its
# words up to LEN tokens, [CLS] and [SEP] included, to load the pooling with longer rows).
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-8}; SAT=${SAT:-5}; CONC=${CONC:-16}; OUTPUT=${OUTPUT:-1}; LEN=${LEN:-11}
MODEL=${MODEL:-all_minilm_l6_v2}
work=$(mktemp -d)
for arm in on off; do
  mkdir -p "$work/$arm"
  cp -r demo/models/all_minilm_l6_v2 "$work/$arm/"
  if [ "$MODEL" != all_minilm_l6_v2 ]; then cp -r "demo/models/$MODEL" "$work/$arm/"; fi
done
sed -i 's/enabled: false/enabled: true/' "$work/on/$MODEL/config.yaml"
sed -i 's/enabled: true/enabled: false/' "$work/off/$MODEL/config.yaml"
grep -q 'enabled: false' "$work/off/$MODEL/config.yaml"
if [ "$OUTPUT" = 0 ]; then
  sed -i '/output: last_hidden_state/d' "$work/on/$MODEL/config.yaml"
fi
base=$((20000 + RANDOM % 12000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { if [ "$1" = on ]; then echo "$base"; else echo $((base + 10)); fi; }
for arm in on off; do
  p=$(port $arm)
  FULCRUM_NO_BUILD=1 ./fulcrum serve --model-repository="$work/$arm" --http-port="$p" \
    --grpc-port=$((p + 1)) --metrics-port=$((p + 2)) > "$work/$arm.log" 2>&1 &
  pids+=($!)
done
for arm in on off; do
  for _ in $(seq 60); do
    curl -sf "http://127.0.0.1:$(port $arm)/v2/health/ready" > /dev/null && break; sleep 1
  done
done
python3 - "$work/body.json" "$LEN" "$MODEL" <<'PY'
import json, sys
if sys.argv[3] != 'all_minilm_l6_v2':  # a pipeline: the sentence as text
    words = 'the cat likes some fresh bread this morning'.split()
    text = ' '.join(words[i % len(words)] for i in range(int(sys.argv[2]) - 3)) + '.'
    json.dump({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1, 1],
                           "data": [text]}]}, open(sys.argv[1], "w"))
    sys.exit(0)
t = [101, 1996, 4937, 7777, 2070, 4840, 7852, 2197, 2733, 1012, 102]
words = t[1:-1]
n = int(sys.argv[2])
if n != len(t):
    t = [101] + [words[i % len(words)] for i in range(n - 2)] + [102]
def tensor(name, data):
    return {"name": name, "datatype": "INT64", "shape": [1, len(t)], "data": data}
body = {"inputs": [tensor("input_ids", t), tensor("attention_mask", [1] * len(t)),
                   tensor("token_type_ids", [0] * len(t))],
        "outputs": [{"name": "last_hidden_state"}]}
open(sys.argv[1], "w").write(json.dumps(body))
PY
run() {
  hey -z "${SAT}s" -c "$CONC" -m POST -T application/json -D "$work/body.json" \
    "http://127.0.0.1:$(port "$1")/v2/models/$MODEL/infer" | awk '/Requests\/sec/{print $2}'
}
run on > /dev/null; run off > /dev/null   # warm-up
ratios=()
for i in $(seq "$PAIRS"); do
  if [ $((i % 2)) = 1 ]; then a=$(run on); b=$(run off); else b=$(run off); a=$(run on); fi
  r=$(python3 -c "print(round($a / $b, 3))")
  ratios+=("$r")
  echo "pair $i on=$a off=$b ratio=$r"
done
python3 -c "import statistics,sys; print('median on/off', statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}"
curl -s "http://127.0.0.1:$base/v2/models/$MODEL/drift" > "$work/drift.json"
python3 - "$work/drift.json" "${pids[0]}" <<'PY'
import glob, json, sys
d = json.load(open(sys.argv[1]))
print('observations', d['observations'], 'dropped', d['dropped'],
      'outputs', [f['name'] for f in d['outputs']['features']])
def ticks(stat):
    f = open(stat).read().rsplit(')', 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime
pid = sys.argv[2]
mon = sum(ticks(t + '/stat') for t in glob.glob(f'/proc/{pid}/task/*')
          if open(t + '/comm').read().strip() == 'fulcrum-monitor')
total = ticks(f'/proc/{pid}/stat')
n = max(1, d['observations'])
print(f'monitor thread cpu {mon / 100:.2f} s ({mon * 1e4 / n:.1f} us per observation),'
      f' {100 * mon / max(1, total):.2f} % of the server process cpu')
PY
