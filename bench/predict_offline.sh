#!/usr/bin/env bash
# Rows per second of `fulcrum predict` (offline, in process) against the same rows POSTed to a
# served Fulcrum's /invocations, in one run: N generated fraud rows (a CSV with a header), scored
# by `fulcrum predict --model fraud_classifier` into JSON lines, then by `fulcrum serve
# --invocations-model fraud_classifier` (the model alone, explicit mode) in text/csv chunks of
# CHUNK rows from CLIENTS stdlib-Python clients, each on its own keep-alive connection, after a
# warm-up pass of WARM rows. Prints both rates and their ratio; predict's rate is its own summary
# (model loaded, JVM started), its wall time with the start is shown beside it.
#   N=200000 CHUNK=64 CLIENTS=4 PORT=24300 bash bench/predict_offline.sh
# Results: bench/results/<time>-predict_offline/summary.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
N=${N:-200000}
CHUNK=${CHUNK:-64}
CLIENTS=${CLIENTS:-4}
WARM=${WARM:-20000}
PORT=${PORT:-24300}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-predict_offline"
mkdir -p "$OUT"
export FULCRUM_NO_BUILD=${FULCRUM_NO_BUILD:-1} FULCRUM_NO_AOT=${FULCRUM_NO_AOT:-1}

python3 - "$N" "$OUT/rows.csv" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
r = random.Random(45)
with open(path, "w") as f:
    f.write("amount_usd,hour_of_day,merchant_risk,distance_from_home_km,"
            "transactions_last_24h,account_age_days,is_foreign,card_present\n")
    for _ in range(n):
        f.write("%.2f,%d,%.2f,%.1f,%d,%d,%d,%d\n" % (
            r.uniform(1, 5000), r.randint(0, 23), r.random(), r.uniform(0, 900),
            r.randint(0, 20), r.randint(1, 3000), r.randint(0, 1), r.randint(0, 1)))
PY

start=$(date +%s.%N)
./fulcrum predict --model-repository demo/models --model fraud_classifier \
  --input "$OUT/rows.csv" --output "$OUT/offline.jsonl" 2>"$OUT/predict.err"
end=$(date +%s.%N)
offline=$(grep -o 'predict: [0-9]* rows, [0-9]* errors in [0-9.]* s: [0-9]* rows/s' "$OUT/predict.err" | tail -1)
offline_rate=$(echo "$offline" | sed -E 's/.*: ([0-9]+) rows\/s/\1/')
offline_wall=$(python3 -c "print(f'{$end - $start:.2f}')")

bench_fulcrum_serve --model-repository demo/models --model-control-mode explicit \
  --load-model fraud_classifier --invocations-model fraud_classifier
served=$(python3 - "$PORT" "$OUT/rows.csv" "$CHUNK" "$CLIENTS" "$WARM" <<'PY'
import http.client, sys, threading, time
port, path, chunk, clients, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open(path) as f:
    header = f.readline()
    rows = f.readlines()
bodies = [(header + "".join(rows[i:i + chunk])).encode() for i in range(0, len(rows), chunk)]
def run(bs):
    lock = threading.Lock()
    it = iter(bs)
    failed = []
    def client():
        c = http.client.HTTPConnection("127.0.0.1", int(port))
        while True:
            with lock:
                b = next(it, None)
            if b is None:
                break
            c.request("POST", "/invocations", b, {"Content-Type": "text/csv"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                failed.append(r.status)
        c.close()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in ts: t.start()
    for t in ts: t.join()
    return time.perf_counter() - t0, failed
run(bodies[:max(1, warm // chunk)])
secs, failed = run(bodies)
print("%d %.2f %.0f %d" % (len(rows), secs, len(rows) / secs, len(failed)))
PY
)
read -r served_rows served_secs served_rate served_failed <<<"$served"
{
  echo "rows: $N (fraud_classifier), nproc: $(nproc)"
  echo "offline: fulcrum predict: $offline (wall with JVM start and model load: ${offline_wall} s)"
  echo "served:  /invocations text/csv, $CHUNK rows a request, $CLIENTS python clients: $served_rows rows in $served_secs s: $served_rate rows/s ($served_failed failed requests)"
  python3 -c "print('ratio offline/served rows/s: %.2f' % ($offline_rate / $served_rate))"
} | tee "$OUT/summary.txt"
