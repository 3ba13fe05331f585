#!/usr/bin/env python3
"""One fresh start of a server, timed from the outside (bench/coldstart.sh runs it).

Spawns the command given after `--`, then polls tightly (every --interval-ms) until
GET /v2/health/ready answers 200 and each model's POST /v2/models/<m>/infer answers 200, and
prints one JSON line: seconds from just before the spawn to each first success, and the
server process's CPU time (user + system) at that moment as cpu_<name> (a figure a loaded
machine disturbs less than wall time). The server is
then sent SIGTERM (its whole process group) and reaped.

For the timeline (docs/PERFORMANCE.md, "Cold start"), at the first fraud answer it can also record
each thread's CPU time, summed by thread name with digits folded (--threads: "threads" in the
JSON line), and how many lines a log file has then (--count-lines FILE, e.g. the server's
-Xlog:class+load file: the classes loaded by that moment, as "lines_at_fraud").

  coldstart_probe.py --port 8000 [--timeout 60] [--threads] -- ./fulcrum serve --http-port 8000
"""
import argparse
import http.client
import json
import os
import re
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


def thread_cpu(pid):
    """CPU seconds of each thread of pid, summed by name with digit runs folded to '#'."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = re.sub(r"(?<=[-\s])[0-9]+|[0-9]+$", "#", raw[raw.index("(") + 1:raw.rindex(")")])
        fields = raw.rsplit(")", 1)[1].split()
        out[name] = round(out.get(name, 0) + (int(fields[11]) + int(fields[12])) / tick, 2)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def try_once(port, method, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except (OSError, http.client.HTTPException):
        # HTTPException: a port in the ephemeral range (32768-60999 here) with nothing listening
        # yet can be connected to itself (TCP simultaneous open) and reads back its own request
        return False
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--interval-ms", type=float, default=5)
    p.add_argument("--log", default=os.devnull)
    p.add_argument("--threads", action="store_true")
    p.add_argument("--count-lines")
    p.add_argument("--only", help="comma-separated probes (default: all), e.g. ready,fraud_classifier"
                   " for a server that serves only the fraud model (bench/coldstart_bound.sh)")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    pending = dict(PROBES)
    if a.only:
        pending = {k: v for k, v in PROBES.items() if k in a.only.split(",")}
    found = {}
    with open(a.log, "ab") as log:
        t0 = time.monotonic()
        t0_wall = time.time()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while pending and time.monotonic() - t0 < a.timeout and proc.poll() is None:
                for name, (method, path, body) in list(pending.items()):
                    if try_once(a.port, method, path, body):
                        found[name] = round(time.monotonic() - t0, 4)
                        found["cpu_" + name] = cpu_seconds(proc.pid)
                        if name == "fraud_classifier":
                            if a.threads:
                                found["threads"] = thread_cpu(proc.pid)
                            if a.count_lines:
                                found["lines_at_fraud"] = count_lines(a.count_lines)
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
    found["t0_monotonic"] = round(t0, 6)  # CLOCK_MONOTONIC of the spawn: perf -k monotonic's clock
    found["t0_wall"] = round(t0_wall, 6)  # the same moment on the wall clock (the server log's)
    found["pid"] = proc.pid
    print(json.dumps(found))
    return 0 if not pending else 1


if __name__ == "__main__":
    sys.exit(main())
