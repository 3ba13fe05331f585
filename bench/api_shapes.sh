#!/usr/bin/env bash
# The same fraud rows sent through each REST API Fulcrum speaks, in one run against one server:
# OIP's `POST /v2/models/fraud_classifier/infer`, TF Serving's `POST /v1/models/fraud_classifier:predict`
# (`instances`) and MLflow's / SageMaker's `POST /invocations` (`dataframe_split`), with wrk, the
# APIs interleaved round by round; prints each API's req/s and p99 and its median ratio to /infer
# (what a client pays for its API's JSON shape on this server).
#   bash bench/api_shapes.sh
#   ROWS="1 64" ROUNDS=3 DUR=8s CONNECTIONS=8 PORT=23500 bash bench/api_shapes.sh
# FULCRUM_HOME / FULCRUM_NO_BUILD as for ./fulcrum (bench_fulcrum_serve). Results:
# bench/results/<time>-api-shapes/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/bench/lib.sh"
PORT=${PORT:-23500}
ROWS=(${ROWS:-1 64})
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-8s}
CONNECTIONS=${CONNECTIONS:-8}
WARM=${WARM:-5s}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-api-shapes"
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "api_shapes.sh needs wrk (apt-get install wrk)" >&2; exit 1; }

bench_fulcrum_serve --invocations-model fraud_classifier
BASE="http://127.0.0.1:$PORT"
declare -A PATHS=([infer]=/v2/models/fraud_classifier/infer
  [predict]=/v1/models/fraud_classifier:predict [invocations]=/invocations)
APIS=(infer predict invocations)

for n in "${ROWS[@]}"; do
  python3 - "$n" "$OUT" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
columns = ["amount_usd", "hour_of_day", "merchant_risk", "distance_from_home_km",
           "transactions_last_24h", "account_age_days", "is_foreign", "card_present"]
rows = [[1250.0 + i, 3, 0.92, 410.5, 14, 20, 1, 0] for i in range(n)]
bodies = {
    "infer": {"inputs": [{"name": "features", "shape": [n, 8], "datatype": "FP32",
                          "data": [v for r in rows for v in r]}]},
    "predict": {"instances": rows},
    "invocations": {"dataframe_split": {"columns": columns, "data": rows}},
}
for api, body in bodies.items():
    open(f"{out}/{api}-{n}.json", "w").write(json.dumps(body, separators=(",", ":")))
PY
  for api in "${APIS[@]}"; do
    bench_wrk_lua "$OUT/$api-$n.json" "$OUT/$api-$n.lua"
    code=$(curl -s -o "$OUT/$api-$n.answer" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary "@$OUT/$api-$n.json" "$BASE${PATHS[$api]}")
    [ "$code" = 200 ] || { echo "FAIL $api with $n rows answered $code: $(head -c 300 "$OUT/$api-$n.answer")"; exit 1; }
    wrk -t1 -c"$CONNECTIONS" -d"$WARM" -s "$OUT/$api-$n.lua" "$BASE${PATHS[$api]}" >/dev/null
  done
done

printf 'rows\tround\tapi\treq_s\tp50_ms\tp99_ms\n' | tee "$OUT/results.tsv"
for n in "${ROWS[@]}"; do
  for ((r = 1; r <= ROUNDS; r++)); do
    # Each round starts with a different API, so that no API always follows the same one.
    for ((i = 0; i < ${#APIS[@]}; i++)); do
      api=${APIS[$(((i + r - 1) % ${#APIS[@]}))]}
      wrk -t1 -c"$CONNECTIONS" -d"$DUR" --latency -s "$OUT/$api-$n.lua" "$BASE${PATHS[$api]}" \
        >"$OUT/wrk-$api-$n-$r.txt"
      read -r p50 p99 rps _ < <(bench_wrk_figures "$OUT/wrk-$api-$n-$r.txt")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$r" "$api" "$rps" "$p50" "$p99" | tee -a "$OUT/results.tsv"
    done
  done
done

python3 - "$OUT/results.tsv" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
for n in sorted({int(r["rows"]) for r in rows}):
    by = {}
    for r in rows:
        if int(r["rows"]) == n:
            by.setdefault(r["api"], []).append(r)
    infer = {r["round"]: float(r["req_s"]) for r in by["infer"]}
    for api, rs in by.items():
        ratio = statistics.median(float(r["req_s"]) / infer[r["round"]] for r in rs)
        print(f"{n} rows  {api:12s} req/s median {statistics.median(float(r['req_s']) for r in rs):9.0f}"
              f"  p99 median {statistics.median(float(r['p99_ms']) for r in rs):6.2f} ms"
              f"  / infer (same round) median {ratio:.3f}")
PY
echo "results: $OUT"
