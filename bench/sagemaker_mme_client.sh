#!/usr/bin/env bash
# SageMaker's side of a multi-model endpoint, played against a Fulcrum from this checkout: N copies
# of the demo fraud model are laid out under a root as SageMaker extracts them
# (<root>/<hash>/model/{config.yaml,1/model.onnx}); each is loaded (POST /models), found in the
# list (GET /models, paged by 7), described (GET /models/<m>), invoked (POST /models/<m>/invoke,
# JSON and CSV, checked against v2/models/<m>/infer), unloaded (DELETE /models/<m>) and invoked
# again (404 expected); two folders out of the root first (400), then a load past
# --sagemaker-mme-max-models (507 expected) and a second load of a name (409). Prints the pass
# counts, the load, invoke and unload times (p50/p99, ms, as the client saw them) and, for a
# server it started, the server's RSS before the loads, after them and after the unloads.
#
#   bash bench/sagemaker_mme_client.sh [N models, default 50]
#
# Needs a built dist (./mvnw -B -ntp -DskipTests package; touch fulcrum-tools/target/dist/.built)
# and python3 (stdlib only). Ports: MME_PORT (HTTP, default 24200), +1 gRPC, +2 metrics.
# MME_URL=http://host:port uses a server already running instead (its root must be MME_ROOT, and
# its --sagemaker-mme-max-models MME_CAP). Behaviour first: on a shared machine the times are what
# this client saw, nothing more.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=${1:-50}
PORT=${MME_PORT:-24200}
CAP=${MME_CAP:-$N}
WORK=$(mktemp -d)
MME_ROOT=${MME_ROOT:-$WORK/models}
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$MME_ROOT" "$WORK/repository" "$WORK/outside"
for ((i = 0; i < N + 1; i++)); do
  mkdir -p "$MME_ROOT/m$i"
  cp -r "$ROOT/demo/models/fraud_classifier" "$MME_ROOT/m$i/model"
done
cp -r "$ROOT/demo/models/fraud_classifier" "$WORK/outside/model"

URL=${MME_URL:-}
if [ -z "$URL" ]; then
  . "$ROOT/bin/find-java.sh"
  fulcrum_find_java
  . "$ROOT/bench/lib.sh"
  FULCRUM_NO_BUILD=1 FULCRUM_NO_AOT=1 FULCRUM_HOME="$ROOT" "$ROOT/fulcrum" serve \
    --model-repository "$WORK/repository" --model-control-mode explicit \
    --sagemaker-mme-root "$MME_ROOT" --sagemaker-mme-max-models "$CAP" \
    --host 127.0.0.1 --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
    >"$WORK/server.log" 2>&1 &
  SERVER=$!
  bench_wait_ready "$PORT" 120 "$SERVER" || { tail -20 "$WORK/server.log"; exit 1; }
  URL="http://127.0.0.1:$PORT"
fi

python3 - "$URL" "$MME_ROOT" "$N" "$CAP" "$WORK/outside/model" "${SERVER:-}" <<'PY'
import json, sys, time, urllib.error, urllib.request

url, root, n, cap, outside, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]

def rss_mib():  # the server's resident memory, when this script started it
    if not pid:
        return float("nan")
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")

rss = [("before the loads", rss_mib())]
ROWS = [[120.5, 14, 0.2, 3.1, 2, 400, 0, 1], [5400.0, 3, 0.9, 850.0, 14, 12, 1, 0]]
CSV = "a,b,c,d,e,f,g,h\n" + "\n".join(",".join(str(v) for v in r) for r in ROWS) + "\n"

def call(method, path, body=None, ctype="application/json", headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else body.encode())
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

passed, failed = {}, {}
def check(what, ok, detail=""):
    (passed if ok else failed)[what] = (passed if ok else failed).get(what, 0) + 1
    if not ok and failed[what] <= 3:
        print(f"FAIL {what}: {detail}", file=sys.stderr)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")

# before the loads: at the cap a load is refused 507 before its folder is looked at
s, b = call("POST", "/models", json.dumps({"model_name": "escape", "url": f"{root}/../x/model"}))
check("'..' refused 400", s == 400, f"{s} {b[:200]!r}")
s, b = call("POST", "/models", json.dumps({"model_name": "escape", "url": outside}))
check("folder out of the root 400", s == 400, f"{s} {b[:200]!r}")
loads, unloads, invokes = [], [], []
names = [f"fraud-{i:04d}" for i in range(n)]
for i, name in enumerate(names):
    t = time.perf_counter()
    s, b = call("POST", "/models", json.dumps({"model_name": name, "url": f"{root}/m{i}/model"}))
    loads.append((time.perf_counter() - t) * 1000)
    check("load 200", s == 200, f"{s} {b[:200]!r}")

rss.append((f"after {n} loads", rss_mib()))
listed, token, pages = [], "", 0
while True:
    s, b = call("GET", "/models?limit=7" + (f"&next_page_token={token}" if token else ""))
    check("list 200", s == 200, f"{s} {b[:200]!r}")
    body = json.loads(b)
    listed += [m["modelName"] for m in body["models"]]
    pages += 1
    token = body.get("nextPageToken", "")
    if not token or pages > n:
        break
check("list holds every model once", sorted(listed) == names, f"{len(listed)} listed")

for i, name in enumerate(names):
    s, b = call("GET", f"/models/{name}")
    check("describe 200", s == 200 and json.loads(b) == {"modelName": name, "modelUrl": f"{root}/m{i}/model"}, f"{s} {b[:200]!r}")
    s, b = call("POST", f"/v2/models/{name}/infer", json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 8], "data": ROWS}]}))
    want = next(o["data"] for o in json.loads(b)["outputs"] if o["name"] == "probabilities")
    t = time.perf_counter()
    s, b = call("POST", f"/models/{name}/invoke", json.dumps({"inputs": ROWS}), headers={"X-Amzn-SageMaker-Target-Model": f"{name}.tar.gz"})
    invokes.append((time.perf_counter() - t) * 1000)
    got = []
    if s == 200:
        p = json.loads(b)["predictions"]
        got = [v for row in (p["probabilities"] if isinstance(p, dict) else [r["probabilities"] for r in p]) for v in row]
    check("invoke JSON = infer", s == 200 and got == want, f"{s} {b[:200]!r}")
    s, b = call("POST", f"/models/{name}/invoke", CSV, ctype="text/csv")
    check("invoke CSV 200", s == 200, f"{s} {b[:200]!r}")

if cap <= n:
    s, b = call("POST", "/models", json.dumps({"model_name": "one-too-many", "url": f"{root}/m{n}/model"}))
    check("load past the cap 507", s == 507, f"{s} {b[:200]!r}")
s, b = call("POST", "/models", json.dumps({"model_name": names[0], "url": f"{root}/m1/model"}))
check("second load 409", s == 409, f"{s} {b[:200]!r}")

for name in names:
    t = time.perf_counter()
    s, b = call("DELETE", f"/models/{name}")
    unloads.append((time.perf_counter() - t) * 1000)
    check("unload 200", s == 200, f"{s} {b[:200]!r}")
    s, b = call("POST", f"/models/{name}/invoke", json.dumps({"inputs": ROWS}))
    check("invoke after unload 404", s == 404, f"{s} {b[:200]!r}")
rss.append((f"after {n} invokes and unloads", rss_mib()))
s, b = call("GET", "/models")
check("list empty at the end", s == 200 and json.loads(b)["models"] == [], f"{s} {b[:200]!r}")

for k in sorted(set(passed) | set(failed)):
    print(f"{k:32s} pass {passed.get(k, 0):5d}  fail {failed.get(k, 0):3d}")
print(f"models {n}  list pages {pages}")
for what, xs in (("load", loads), ("invoke", invokes), ("unload", unloads)):
    print(f"{what:7s} ms  p50 {pct(xs, 50):8.2f}  p99 {pct(xs, 99):8.2f}  max {max(xs):8.2f}")
for what, mib in rss:
    print(f"server RSS {what}: {mib:.0f} MiB")
sys.exit(1 if failed else 0)
PY
