#!/usr/bin/env python3
"""gRPC through a proxy (nginx grpc_pass, HAProxy h2) with tritonclient: unary ModelInfer and
ModelStreamInfer, a 6 MB request, a deadline; then a drain: 4 threads of unary calls and one
stream, SIGTERM to the server (PID) after 2 s, every call's outcome counted by status code until
the calls have failed for 2 s. Prints one JSON object.

usage: proxy_grpc.py PORT PID   (the venv's python: /tmp/tritonc-venv/bin/python)
"""
import json
import os
import signal
import sys
import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

port, pid = int(sys.argv[1]), int(sys.argv[2])
URL = f"127.0.0.1:{port}"
ROW = np.array([[1250.0, 3, 0.92, 410.5, 14, 20, 1, 0]], dtype=np.float32)


def inputs(array):
    i = grpcclient.InferInput("features", list(array.shape), "FP32")
    i.set_data_from_numpy(array)
    return [i]


def code(e):
    s = e.status() if isinstance(e, InferenceServerException) else None
    return str(s or type(e).__name__)


def unary(client, array=ROW, timeout=None):
    try:
        client.infer("fraud_classifier", inputs(array), client_timeout=timeout)
        return "OK"
    except Exception as e:  # noqa: BLE001: every outcome is counted
        return code(e)


def add(counts, k):
    counts[k] = counts.get(k, 0) + 1


out = {}
client = grpcclient.InferenceServerClient(URL)
u = {}
for _ in range(50):
    add(u, unary(client))
out["unary_50"] = u

got = {}
done = threading.Event()


def callback(result, error):
    add(got, "OK" if error is None else code(error))
    if sum(got.values()) >= 50:
        done.set()


client.start_stream(callback=callback)
for _ in range(50):
    client.async_stream_infer("fraud_classifier", inputs(ROW))
done.wait(10)
client.stop_stream()
out["stream_50"] = dict(got)

big = np.zeros((1, 6 * 1024 * 1024 // 4), dtype=np.float32)  # 6 MB: refused by the model's shape
try:
    client.infer("fraud_classifier", inputs(big))
    out["6MB_request"] = "OK"
except InferenceServerException as e:
    out["6MB_request"] = f"{e.status()}: {(e.message() or '')[:120]}"
out["deadline_5s"] = unary(client, timeout=5)
out["deadline_1us"] = unary(client, timeout=0.000001)

# The drain behind the proxy.
counts = {}
lock = threading.Lock()
start = time.monotonic()
stop_at = [None]
last_ok = [0.0]


def worker():
    c = grpcclient.InferenceServerClient(URL)
    while True:
        now = time.monotonic()
        if stop_at[0] is not None and now > stop_at[0]:
            break
        if now - start > 30:
            break
        r = unary(c, timeout=10)
        with lock:
            add(counts, f"unary:{r}")
            if r == "OK":
                last_ok[0] = time.monotonic() - start
            elif stop_at[0] is None:
                stop_at[0] = time.monotonic() + 2
        if r != "OK":
            time.sleep(0.05)
    c.close()


stream_counts = {}


def stream_callback(result, error):
    with lock:
        add(stream_counts, "OK" if error is None else code(error))


def streamer():
    c = grpcclient.InferenceServerClient(URL)
    c.start_stream(callback=stream_callback)
    try:
        while time.monotonic() - start < 30 and (stop_at[0] is None or time.monotonic() < stop_at[0]):
            c.async_stream_infer("fraud_classifier", inputs(ROW))
            time.sleep(0.01)
    except Exception as e:  # noqa: BLE001
        with lock:
            add(stream_counts, f"send:{code(e)}")
    c.stop_stream()
    c.close()


threads = [threading.Thread(target=worker) for _ in range(4)] + [threading.Thread(target=streamer)]
for t in threads:
    t.start()
time.sleep(2)
os.kill(pid, signal.SIGTERM)
sigterm_at = time.monotonic() - start
for t in threads:
    t.join()
out["drain"] = {"unary": counts, "stream": stream_counts, "sigterm_at_s": round(sigterm_at, 2),
                "last_ok_s": round(last_ok[0], 2)}
print(json.dumps(out))
