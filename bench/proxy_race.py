#!/usr/bin/env python3
"""The keep-alive race through a proxy: one fraud request at a time through the proxy on PORT, each
on a new client connection, with an idle gap before each (so the proxy reuses its upstream
connection after that gap). For each gap in GAPS (seconds, comma-separated), one warm-up request
and ROUNDS counted ones; prints one JSON object: gap -> {status or error: count}.

usage: proxy_race.py PORT GAPS ROUNDS
"""
import http.client
import json
import os
import sys
import time

port, gaps, rounds = int(sys.argv[1]), [float(g) for g in sys.argv[2].split(",")], int(sys.argv[3])
BODY = open(os.path.join(os.path.dirname(__file__), "bodies", "fraud.json"), "rb").read()


def infer():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", "/v2/models/fraud_classifier/infer", BODY,
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return str(r.status)
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__
    finally:
        c.close()


result = {}
for gap in gaps:
    counts = {}
    infer()
    for _ in range(rounds):
        time.sleep(gap)
        outcome = infer()
        counts[outcome] = counts.get(outcome, 0) + 1
    result[f"{gap:g}"] = counts
print(json.dumps(result))
