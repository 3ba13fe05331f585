#!/usr/bin/env python3
"""TF Serving / KServe v1 REST clients' requests against a served Fulcrum, with the stdlib only.

Posts what `tensorflow_serving` REST clients (and KServe v1's) post -- `requests.post(url,
data=json.dumps({"signature_name": "serving_default", "instances": x.tolist()}))` -- to
`/v1/models/<m>[/versions/<v>]:predict` on the demo models, and compares each answer with what
`/v2/models/<m>/infer` gives for the same data: fraud_classifier (rows and columns),
all_minilm_l6_v2 (rows of named INT64 token inputs), minilm_text (BYTES rows, as text and as
{"b64": ...}); then the model status, metadata and GET /v1/models/<m>, and the errors. Prints PASS /
FAIL per check; exits non-zero on a FAIL. With --rate N, also times N sequential predict and infer
requests of one fraud row each (a latency comparison of the two codecs on one connection).

  python3 bench/tfserving_client.py --http 127.0.0.1:8000 [--token T] [--rate 2000]

bench/tfserving_client.sh starts `./fulcrum serve` and runs it.
"""

import argparse
import base64
import http.client
import json
import sys
import time

FRAUD_ROWS = [
    [120.5, 14, 0.2, 3.1, 2, 400, 0, 1],
    [5400.0, 3, 0.9, 850.0, 14, 12, 1, 0],
    [42.0, 11, 0.1, 1.0, 1, 2000, 0, 1],
]

failures = 0
passes = 0


def check(name, ok, detail=""):
    global failures, passes
    if ok:
        passes += 1
        print(f"PASS {name}")
    else:
        failures += 1
        print(f"FAIL {name} {detail}")


class Client:
    """One keep-alive HTTP/1.1 connection, as a requests.Session holds."""

    def __init__(self, hostport, token):
        host, port = hostport.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token

    def call(self, method, path, body=None, raw=None, headers=None):
        """A request of `body` as JSON, or of the bytes `raw`; `headers` added to the client's."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sent = dict(self.headers, **(headers or {}))
        self.conn.request(method, path, body=data, headers=sent)
        r = self.conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return r.status, parsed, raw


def flat(v):
    if isinstance(v, list):
        out = []
        for x in v:
            out.extend(flat(x))
        return out
    return [v]


def oip(c, model, inputs):
    status, body, raw = c.call("POST", f"/v2/models/{model}/infer", {"inputs": inputs})
    if status != 200:
        raise SystemExit(f"infer failed: {status} {raw[:300]}")
    return {o["name"]: o for o in body["outputs"]}


def close(a, b, tol=1e-6):
    return len(a) == len(b) and all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b))


def fraud(c):
    want = oip(c, "fraud_classifier", [{"name": "features", "datatype": "FP32",
                                        "shape": [3, 8], "data": flat(FRAUD_ROWS)}])
    status, body, raw = c.call("POST", "/v1/models/fraud_classifier:predict",
                               {"signature_name": "serving_default", "instances": FRAUD_ROWS})
    check("fraud rows: 200", status == 200, raw[:200])
    preds = (body or {}).get("predictions", [])
    check("fraud rows: one prediction per instance", len(preds) == 3, raw[:200])
    probs = flat([p.get("probabilities") for p in preds])
    labels = [p.get("label") for p in preds]
    check("fraud rows: probabilities as infer's", close(probs, want["probabilities"]["data"]))
    check("fraud rows: labels as infer's", labels == want["label"]["data"])

    status, body, raw = c.call("POST", "/v1/models/fraud_classifier/versions/1:predict",
                               {"inputs": {"features": FRAUD_ROWS}})
    out = (body or {}).get("outputs", {})
    check("fraud columns: 200", status == 200, raw[:200])
    check("fraud columns: outputs as infer's",
          close(flat(out.get("probabilities")), want["probabilities"]["data"])
          and flat(out.get("label")) == want["label"]["data"], raw[:200])


def minilm(c):
    rows = [[101, 7592, 2088, 102], [101, 2204, 2851, 102]]
    instances = [{"input_ids": r, "attention_mask": [1] * 4, "token_type_ids": [0] * 4} for r in rows]
    status, body, raw = c.call("POST", "/v1/models/all_minilm_l6_v2:predict", {"instances": instances})
    check("minilm named rows: 200", status == 200, raw[:200])
    want = oip(c, "all_minilm_l6_v2", [
        {"name": "input_ids", "datatype": "INT64", "shape": [2, 4], "data": flat(rows)},
        {"name": "attention_mask", "datatype": "INT64", "shape": [2, 4], "data": [1] * 8},
        {"name": "token_type_ids", "datatype": "INT64", "shape": [2, 4], "data": [0] * 8}])
    preds = (body or {}).get("predictions", [])
    ok = len(preds) == 2
    for name, o in want.items():
        got = flat([p if len(want) == 1 else p.get(name) for p in preds])
        ok = ok and close(got, o["data"], 1e-5)
    check("minilm named rows: every output as infer's", ok)


def text(c):
    sentences = ["hello world", "Ok"]
    want = oip(c, "minilm_text", [{"name": "text", "datatype": "BYTES", "shape": [2, 1],
                                   "data": sentences}])
    vec = flat(next(iter(want.values()))["data"])
    for form, rows in (("strings", [[s] for s in sentences]),
                       ("b64", [[{"b64": base64.b64encode(s.encode()).decode()}] for s in sentences])):
        status, body, raw = c.call("POST", "/v1/models/minilm_text:predict", {"instances": rows})
        preds = (body or {}).get("predictions", [])
        got = flat([p if not isinstance(p, dict) else list(p.values())[0] for p in preds])
        check(f"minilm_text rows of {form}: vectors as infer's",
              status == 200 and close(got, vec, 1e-5), raw[:200])


def status_and_metadata(c):
    status, body, raw = c.call("GET", "/v1/models/fraud_classifier/versions/1")
    v = (body or {}).get("model_version_status", [{}])[0]
    check("status: AVAILABLE, OK", status == 200 and v.get("state") == "AVAILABLE"
          and v.get("status", {}).get("error_code") == "OK", raw[:200])
    status, body, raw = c.call("GET", "/v1/models/fraud_classifier")
    check("GET /v1/models/<m>: OpenAI, KServe v1 and TF Serving fields",
          status == 200 and body.get("id") == "fraud_classifier" and body.get("ready") is True
          and body.get("model_version_status"), raw[:200])
    status, body, raw = c.call("GET", "/v1/models/fraud_classifier/metadata")
    sig = (((body or {}).get("metadata") or {}).get("signature_def") or {}).get("signature_def", {})
    feats = sig.get("serving_default", {}).get("inputs", {}).get("features", {})
    check("metadata: serving_default, features DT_FLOAT [-1, 8]",
          feats.get("dtype") == "DT_FLOAT"
          and [d["size"] for d in feats["tensor_shape"]["dim"]] == ["-1", "8"], raw[:300])


def errors(c):
    def error(path, body, want, contains=""):
        status, parsed, raw = c.call("POST", path, body)
        ok = (status == want and isinstance(parsed, dict) and isinstance(parsed.get("error"), str)
              and contains in parsed["error"])
        check(f"error {want} {contains or path}", ok, f"{status} {raw[:200]}")

    p = "/v1/models/fraud_classifier:predict"
    error("/v1/models/nope:predict", {"instances": FRAUD_ROWS}, 404)
    error(p, {"instances": [[1, 2, 3]]}, 400)
    error(p, {"instances": [FRAUD_ROWS[0], [1, 2]]}, 400, "instance 1")
    error(p, {"instances": [{"feature": FRAUD_ROWS[0]}]}, 400, "no input 'feature'")
    error(p, {"instances": [["NaN"] + FRAUD_ROWS[0][1:]]}, 400, "non-finite")
    error(p, {"instances": FRAUD_ROWS * 22}, 400, "at most 64 instances")
    error(p, {"instances": FRAUD_ROWS, "signature_name": "other"}, 400, "no signature")


def timed(c, name, path, n, body=None, raw=None, headers=None):
    """n sequential requests (after 200 unmeasured) on the client's one connection: p50 and p99."""
    for _ in range(200):
        c.call("POST", path, body, raw, headers)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        c.call("POST", path, body, raw, headers)
        lat.append(time.perf_counter() - t)
    lat.sort()
    print(f"TIME {name}: n={n} p50={lat[n // 2] * 1e6:.0f}us p99={lat[int(n * 0.99)] * 1e6:.0f}us")


def timing(c, n):
    """n sequential requests of one fraud row, predict then infer, on the same connection."""
    row = {"instances": [FRAUD_ROWS[0]]}
    timed(c, "predict", "/v1/models/fraud_classifier:predict", n, row)
    timed(c, "infer", "/v2/models/fraud_classifier/infer", n, INFER_ONE_ROW)


INFER_ONE_ROW = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 8],
                             "data": FRAUD_ROWS[0]}]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", default="127.0.0.1:8000")
    ap.add_argument("--token", default="")
    ap.add_argument("--rate", type=int, default=0, help="time N requests of each codec")
    a = ap.parse_args()
    c = Client(a.http, a.token)
    fraud(c)
    minilm(c)
    text(c)
    status_and_metadata(c)
    errors(c)
    if a.rate:
        timing(c, a.rate)
    print(f"{passes} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
