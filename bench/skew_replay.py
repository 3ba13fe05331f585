#!/usr/bin/env python3
"""Replay benchmark of training-serving skew detection (issue #11), standard library only.

Sends rows drawn (fixed seeds) from demo/data/fraud_training.csv to a running server, one
request per row, then each kind of skew, and reads GET /v2/models/<m>/drift after every few
requests. Requests-to-detection = the observation that raised the alert (since_observation)
minus the observations before the change (one row per request, sample-rate 1.0, so an
observation is a request). Between scenarios it sends in-distribution rows until every alert
has cleared (hysteresis: clear-after observations without a test firing).

  skew_replay.py --url http://127.0.0.1:8000 [--seeds 3] [--long 100000] [--out FILE]
  skew_replay.py --write-log FILE --rows 1000000   # an in-distribution prediction log
"""
import argparse
import csv
import http.client
import json
import os
import random
import statistics
import struct
import sys
import time
import urllib.parse

MODEL = "fraud_classifier"
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "demo", "data", "fraud_training.csv")
NAMES = ["amount_usd", "hour_of_day", "merchant_risk", "distance_from_home_km",
         "transactions_last_24h", "account_age_days", "is_foreign", "card_present"]
NUMERIC = NAMES[:6]
SWAPS = [("is_foreign", "card_present"), ("distance_from_home_km", "transactions_last_24h"),
         ("amount_usd", "distance_from_home_km")]


def load_rows():
    with open(DATA) as f:
        return [[float(r[n]) for n in NAMES] for r in csv.DictReader(f)]


class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.sent = 0

    def _req(self, method, path, body=None):
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=body,
                                  headers={"Content-Type": "application/json"} if body else {})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise

    def infer(self, row):
        body = json.dumps({"inputs": [{"name": "features", "datatype": "FP32",
                                       "shape": [1, 8], "data": row}]})
        status, data = self._req("POST", f"/v2/models/{MODEL}/infer", body)
        if status != 200:
            raise RuntimeError(f"infer {status}: {data[:200]!r}")
        self.sent += 1

    def drift(self):
        status, data = self._req("GET", f"/v2/models/{MODEL}/drift")
        if status != 200:
            raise RuntimeError(f"drift {status}: {data[:200]!r}")
        return json.loads(data)

    def settled(self):
        """The report once the monitor has seen every request sent."""
        deadline = time.time() + 30
        while True:
            d = self.drift()
            if d["observations"] + d["dropped"] >= self.sent or time.time() > deadline:
                return d
            time.sleep(0.01)


def drifting(report):
    return {f["name"]: f for f in report["features"] if f["status"] == "drift"}


def drifting_outputs(report):
    return {f["name"]: f for f in report["outputs"]["features"] if f["status"] == "drift"}


def scenario(c, rng, rows, change, limit, chunk=5):
    """Sends changed rows until an alert rises (or limit); returns (delay, features, outputs)."""
    base = c.settled()
    assert not drifting(base), f"alerts before the change: {list(drifting(base))}"
    start = base["observations"]
    first = None
    for i in range(limit):
        c.infer(change(list(rng.choice(rows))))
        if (i + 1) % chunk == 0 or i + 1 == limit:
            d = c.settled()
            raised = drifting(d)
            if raised:
                first = min(f["since_observation"] for f in raised.values()) - start
                break
    # a few more rows, so that a second feature of a swap (or a wrong one) can show
    for _ in range(100):
        c.infer(change(list(rng.choice(rows))))
    d = c.settled()
    feats = {n: f["since_observation"] - start for n, f in drifting(d).items()}
    outs = {n: f["since_observation"] - start for n, f in drifting_outputs(d).items()}
    return first, feats, outs


def recover(c, rng, rows, limit=20000):
    """In-distribution rows until no alert is raised."""
    n = 0
    while n < limit:
        for _ in range(250):
            c.infer(list(rng.choice(rows)))
        n += 250
        d = c.settled()
        if not drifting(d) and not drifting_outputs(d):
            return n
    raise RuntimeError("alerts did not clear")


def run(args):
    rows = load_rows()
    sigma = {n: statistics.pstdev(r[i] for r in rows) for i, n in enumerate(NAMES)}
    c = Client(args.url)
    results = {"unit_error": [], "half_sigma": [], "swap": []}
    rng = random.Random(args.seed)
    for _ in range(args.warmup):
        c.infer(list(rng.choice(rows)))
    d = c.settled()
    results["warmup_alerts"] = list(drifting(d)) + list(drifting_outputs(d))
    print(f"warm-up: {args.warmup} in-distribution requests, alerts {results['warmup_alerts']}")

    for seed in range(1, args.seeds + 1):
        rng = random.Random(1000 + seed)

        def cents(r):
            r[0] *= 100
            return r
        delay, feats, outs = scenario(c, rng, rows, cents, 500)
        results["unit_error"].append({"seed": seed, "requests": delay, "features": feats,
                                      "outputs": outs})
        print(f"x100 amount_usd seed {seed}: flagged after {delay} requests; features {feats};"
              f" outputs {outs}")
        recover(c, rng, rows)

        for name in NUMERIC:
            i = NAMES.index(name)
            shift = 0.5 * sigma[name]

            def shifted(r, i=i, shift=shift):
                r[i] += shift
                return r
            delay, feats, outs = scenario(c, rng, rows, shifted, 3000)
            results["half_sigma"].append({"seed": seed, "feature": name, "requests": delay,
                                          "features": feats, "outputs": outs})
            print(f"+0.5 sigma {name} seed {seed}: flagged after {delay} requests; features {feats}")
            recover(c, rng, rows)

        for a, b in SWAPS:
            ia, ib = NAMES.index(a), NAMES.index(b)

            def swapped(r, ia=ia, ib=ib):
                r[ia], r[ib] = r[ib], r[ia]
                return r
            delay, feats, outs = scenario(c, rng, rows, swapped, 1000)
            both = max(feats.get(a, 10**9), feats.get(b, 10**9))
            results["swap"].append({"seed": seed, "pair": [a, b], "requests": delay,
                                    "both_requests": both, "features": feats, "outputs": outs})
            print(f"swap {a}<->{b} seed {seed}: first after {delay}, both after {both};"
                  f" features {feats}")
            recover(c, rng, rows)

    if args.long:
        rng = random.Random(7)
        before = c.settled()
        t0 = time.time()
        alerts = 0
        for i in range(args.long):
            c.infer(list(rng.choice(rows)))
            if (i + 1) % 1000 == 0:
                d = c.settled()
                alerts = max(alerts, len(drifting(d)) + len(drifting_outputs(d)))
        d = c.settled()
        results["long"] = {"requests": args.long, "seconds": round(time.time() - t0, 1),
                           "alerts_seen_in_reports": alerts,
                           "observations": d["observations"] - before["observations"],
                           "dropped": d["dropped"]}
        print(f"long in-distribution run: {results['long']}")

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None
    if not results["unit_error"]:  # --seeds 0: the long run only
        return
    summary = {
        "unit_error_max_requests": max((r["requests"] or 10**9) for r in results["unit_error"]),
        "unit_error_only_amount": all(list(r["features"]) == ["amount_usd"]
                                      for r in results["unit_error"]),
        "half_sigma_median_requests": med([r["requests"] for r in results["half_sigma"]]),
        "half_sigma_max_requests": max((r["requests"] or 10**9) for r in results["half_sigma"]),
        "swap_both_max_requests": max(r["both_requests"] for r in results["swap"]),
    }
    results["summary"] = summary
    print("summary:", json.dumps(summary))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


def write_log(args):
    """An in-distribution prediction log (inputs only), for fulcrum skew-check."""
    rows = load_rows()
    rng = random.Random(args.seed)
    t = 1_700_000_000.0
    with open(args.write_log, "w") as f:
        for i in range(args.rows):
            row = [struct.unpack("<f", struct.pack("<f", x))[0] for x in rng.choice(rows)]
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + i / 1000)) + "Z"
            f.write(json.dumps({"time": stamp, "model": MODEL, "version": "1", "id": str(i),
                                "latency_us": 0, "inputs": {"features": {
                                    "shape": [1, 8], "data": row}}, "outputs": {}},
                               separators=(",", ":")) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3000)
    p.add_argument("--long", type=int, default=0)
    p.add_argument("--out")
    p.add_argument("--write-log")
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    if args.write_log:
        write_log(args)
    else:
        run(args)


if __name__ == "__main__":
    sys.exit(main())
