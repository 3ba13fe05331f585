#!/usr/bin/env python3
"""MLflow scoring clients' and SageMaker's requests against a served Fulcrum, with the stdlib only.

Posts to `/invocations` the bodies MLflow's clients and pandas write, byte for byte as they write
them without needing either here: `mlflow.pyfunc`'s scoring client and `mlflow.deployments`
(`json.dumps({"dataframe_split": df.to_dict(orient="split")})`: index, columns, data, with
json.dumps' spacing), `df.to_json(orient="split")` and `orient="records"` (pandas' compact JSON),
`df.to_csv(index=False)` as `text/csv` (a float frame: every number with a decimal point),
`{"inputs": ndarray.tolist()}` and `{"instances": ...}`, with and without `"params"`; SageMaker's
`invoke_endpoint` with `TargetModel` (the `X-Amzn-SageMaker-Target-Model` header) for the demo's
text models. Each answer is compared with what `/v2/models/<m>/infer` gives for the same data;
then `GET /ping`, `/health`, `/version`, and the errors in MLflow's shape. Prints PASS / FAIL per
check; exits non-zero on a FAIL. With --rate N, also times N sequential one-row requests of
/invocations (dataframe_split) and of infer on one connection.

  python3 bench/mlflow_client.py --http 127.0.0.1:8000 [--token T] [--rate 2000]

bench/mlflow_client.sh starts `./fulcrum serve --invocations-model fraud_classifier` and runs it.
"""

import argparse
import json
import sys

import tfserving_client as tfs
from tfserving_client import FRAUD_ROWS, INFER_ONE_ROW, Client, check, close, flat, oip, timed

COLUMNS = ["amount_usd", "hour_of_day", "merchant_risk", "distance_from_home_km",
           "transactions_last_24h", "account_age_days", "is_foreign", "card_present"]

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}


def target(model):
    """SageMaker's multi-model header, as invoke_endpoint(TargetModel="<model>.tar.gz") sends it."""
    return {"X-Amzn-SageMaker-Target-Model": model + ".tar.gz"}


def compact(v):
    """pandas' to_json: no spaces."""
    return json.dumps(v, separators=(",", ":")).encode()


def float_csv(columns, rows):
    """df.to_csv(index=False) of a float64 frame: a header, each number with a decimal point."""
    lines = [",".join(columns)]
    lines += [",".join(repr(float(x)) for x in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def invoke(c, raw, headers):
    status, body, text = c.call("POST", "/invocations", raw=raw, headers=headers)
    return status, (body or {}).get("predictions") if isinstance(body, dict) else None, text


def fraud(c):
    want = oip(c, "fraud_classifier", [{"name": "features", "datatype": "FP32",
                                        "shape": [3, 8], "data": flat(FRAUD_ROWS)}])
    probs, labels = want["probabilities"]["data"], want["label"]["data"]

    def records_match(preds):
        return (isinstance(preds, list) and len(preds) == 3
                and close(flat([p.get("probabilities") for p in preds]), probs)
                and [p.get("label") for p in preds] == labels)

    split = {"index": [0, 1, 2], "columns": COLUMNS, "data": FRAUD_ROWS}
    frames = [
        ("mlflow client dataframe_split", json.dumps({"dataframe_split": split}).encode(), JSON),
        ("dataframe_split with params",
         json.dumps({"dataframe_split": split, "params": {"threshold": 0.5}}).encode(), JSON),
        ("pandas to_json(orient=split)",
         b'{"dataframe_split":' + compact({"columns": COLUMNS, "index": [0, 1, 2],
                                           "data": FRAUD_ROWS}) + b"}", JSON),
        ("pandas to_json(orient=records)",
         b'{"dataframe_records":' + compact([dict(zip(COLUMNS, r)) for r in FRAUD_ROWS]) + b"}",
         JSON),
        ("pandas to_csv(index=False)", float_csv(COLUMNS, FRAUD_ROWS), CSV),
        ("to_csv, CRLF lines", float_csv(COLUMNS, FRAUD_ROWS).replace(b"\n", b"\r\n"), CSV),
    ]
    for name, raw, headers in frames:
        status, preds, text = invoke(c, raw, headers)
        check(f"fraud {name}: 200, one record per row as infer's",
              status == 200 and records_match(preds), text[:200])

    for name, body in (("inputs (ndarray.tolist())", {"inputs": FRAUD_ROWS}),
                       ("instances", {"instances": FRAUD_ROWS}),
                       ("inputs by name", {"inputs": {"features": FRAUD_ROWS}})):
        status, preds, text = invoke(c, json.dumps(body).encode(), JSON)
        ok = (status == 200 and isinstance(preds, dict)
              and close(flat(preds.get("probabilities")), probs)
              and flat(preds.get("label")) == labels)
        check(f"fraud {name}: 200, each output whole as infer's", ok, text[:200])

    status, preds, text = invoke(c, json.dumps({"dataframe_split": split}).encode(),
                                 dict(JSON, **target("fraud_classifier")))
    check("fraud with the target-model header: 200", status == 200 and records_match(preds),
          text[:200])


def text_models(c):
    sentences = ["the cat sat, then slept", 'she said "hi"', "Ok"]
    want = oip(c, "minilm_text", [{"name": "text", "datatype": "BYTES", "shape": [3, 1],
                                   "data": sentences}])
    vec = flat(want["embedding"]["data"])
    split = {"index": [0, 1, 2], "columns": ["text"], "data": [[s] for s in sentences]}
    csv = "text\n" + "".join('"' + s.replace('"', '""') + '"\n' for s in sentences)
    for name, raw, headers in (
            ("dataframe_split", json.dumps({"dataframe_split": split}).encode(), JSON),
            ("dataframe_records",
             compact({"dataframe_records": [{"text": s} for s in sentences]}), JSON),
            ("quoted CSV", csv.encode(), CSV)):
        status, preds, text = invoke(c, raw, dict(headers, **target("minilm_text")))
        ok = status == 200 and isinstance(preds, list) and len(preds) == 3 and close(
            flat(preds), vec, 1e-5)
        check(f"minilm_text {name}: 200, one vector per row as infer's", ok, text[:200])

    rows = [[101, 7592, 2088, 102]]
    want = oip(c, "all_minilm_l6_v2", [
        {"name": "input_ids", "datatype": "INT64", "shape": [1, 4], "data": flat(rows)},
        {"name": "attention_mask", "datatype": "INT64", "shape": [1, 4], "data": [1] * 4},
        {"name": "token_type_ids", "datatype": "INT64", "shape": [1, 4], "data": [0] * 4}])
    hidden = flat(want["last_hidden_state"]["data"])
    records = [{"input_ids": rows[0], "attention_mask": [1] * 4, "token_type_ids": [0] * 4}]
    for name, body in (("dataframe_records, a column per input", {"dataframe_records": records}),
                       ("inputs by name", {"inputs": {k: [v] for k, v in records[0].items()}})):
        status, preds, text = invoke(c, json.dumps(body).encode(),
                                     dict(JSON, **target("all_minilm_l6_v2")))
        check(f"all_minilm_l6_v2 {name}: 200, as infer's",
              status == 200 and close(flat(preds), hidden, 1e-5), text[:200])


def probes(c):
    for path in ("/ping", "/health"):
        status, _, raw = c.call("GET", path)
        check(f"GET {path}: 200", status == 200, raw[:200])
    status, _, raw = c.call("GET", "/version")
    check("GET /version: 200 and a version", status == 200 and raw.strip() != b"", raw[:200])


def errors(c, hostport):
    def error(name, status, code, raw, headers, want_status):
        ok = (status == want_status and isinstance(raw, dict) and raw.get("error_code") == code
              and isinstance(raw.get("message"), str))
        check(f"error {name}: {want_status} {code}", ok, str(raw)[:200])

    for name, raw, headers, st, code in (
            ("malformed JSON", b'{"dataframe_split": ', JSON, 400, "BAD_REQUEST"),
            ("no input field", b'{"data": [[1]]}', JSON, 400, "BAD_REQUEST"),
            ("two input fields", b'{"inputs": [[1]], "instances": [[1]]}', JSON, 400, "BAD_REQUEST"),
            ("ragged rows", json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [
                FRAUD_ROWS[0], FRAUD_ROWS[1][:5]]}}).encode(), JSON, 400, "BAD_REQUEST"),
            ("a non-numeric CSV cell", b"a,b\n1,x\n", CSV, 400, "BAD_REQUEST"),
            ("seven features", json.dumps({"inputs": [FRAUD_ROWS[0][:7]]}).encode(), JSON, 400,
             "BAD_REQUEST"),
            ("an unsupported content type", b"<x/>", {"Content-Type": "application/xml"}, 415,
             "BAD_REQUEST"),
            ("an unknown target model", json.dumps({"inputs": FRAUD_ROWS}).encode(),
             dict(JSON, **target("fraud")), 404, "RESOURCE_DOES_NOT_EXIST")):
        status, body, text = c.call("POST", "/invocations", raw=raw, headers=headers)
        error(name, status, code, body, headers, st)
    anonymous = Client(hostport, "")
    status, body, text = anonymous.call("POST", "/invocations", {"inputs": FRAUD_ROWS})
    if c.headers.get("Authorization"):
        error("no token", status, "UNAUTHENTICATED", body, JSON, 401)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", default="127.0.0.1:8000")
    ap.add_argument("--token", default="")
    ap.add_argument("--rate", type=int, default=0, help="time N requests of each endpoint")
    a = ap.parse_args()
    c = Client(a.http, a.token)
    probes(c)
    fraud(c)
    text_models(c)
    errors(c, a.http)
    if a.rate:
        split = {"dataframe_split": {"columns": COLUMNS, "data": [FRAUD_ROWS[0]]}}
        timed(c, "invocations", "/invocations", a.rate, split)
        timed(c, "infer", "/v2/models/fraud_classifier/infer", a.rate, INFER_ONE_ROW)
    print(f"{tfs.passes} passed, {tfs.failures} failed")
    sys.exit(1 if tfs.failures else 0)


if __name__ == "__main__":
    main()
