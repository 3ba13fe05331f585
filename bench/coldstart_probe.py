#!/usr/bin/env python3
"""One fresh start of a server, timed from the outside (bench/coldstart.sh runs it).

Spawns the command given after `--`, then polls tightly (every --interval-ms) until
GET /v2/health/ready answers 200 and each model's POST /v2/models/<m>/infer answers 200, and
prints one JSON line: seconds from just before the spawn to each first success, and the
server process's CPU time (user + system) at that moment as cpu_<name> (a figure a loaded
machine disturbs less than wall time). The server is
then sent SIGTERM (its whole process group) and reaped.

  coldstart_probe.py --port 8000 [--timeout 60] -- ./fulcrum serve --http-port 8000
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import time

FRAUD = json.dumps({"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32",
                                "data": [1250.0, 3, 0.92, 410.5, 14, 20, 1, 0]}]})
MINILM = json.dumps({"inputs": [
    {"name": n, "shape": [1, 4], "datatype": "INT64", "data": d}
    for n, d in (("input_ids", [101, 7592, 2088, 102]), ("attention_mask", [1, 1, 1, 1]),
                 ("token_type_ids", [0, 0, 0, 0]))]})
PROBES = {
    "ready": ("GET", "/v2/health/ready", None),
    "fraud_classifier": ("POST", "/v2/models/fraud_classifier/infer", FRAUD),
    "all_minilm_l6_v2": ("POST", "/v2/models/all_minilm_l6_v2/infer", MINILM),
}


def cpu_seconds(pid):
    """User + system CPU time of process pid so far (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, IndexError, ValueError):
        return None


def try_once(port, method, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--interval-ms", type=float, default=5)
    p.add_argument("--log", default=os.devnull)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    pending = dict(PROBES)
    found = {}
    with open(a.log, "ab") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while pending and time.monotonic() - t0 < a.timeout and proc.poll() is None:
                for name, (method, path, body) in list(pending.items()):
                    if try_once(a.port, method, path, body):
                        found[name] = round(time.monotonic() - t0, 4)
                        found["cpu_" + name] = cpu_seconds(proc.pid)
                        del pending[name]
                if pending:
                    time.sleep(a.interval_ms / 1000)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    found.update({name: None for name in pending})
    print(json.dumps(found))
    return 0 if not pending else 1


if __name__ == "__main__":
    sys.exit(main())
