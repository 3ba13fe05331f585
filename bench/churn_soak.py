#!/usr/bin/env python3
"""Long soak with churn against a running Fulcrum server: low open-loop load plus the operations a
platform team runs for weeks (reloads, unload/load, scrapes, dashboards, drift), sampling the
server's footprint every 30 s so that a leak shows as a slope. Started by bench/churn_soak.sh
(which starts the server and says the command); run directly only against a server you started:

  PYTHONPATH=<grpc stubs> python3 bench/churn_soak.py --pid PID --port P --grpc-port P+1 \
      --metrics-port P+2 --log SERVER_LOG --out DIR [--minutes 60] [--scale 1.0]

Load (open loop, each at its rate, latency from the scheduled send time):
  fraud JSON 150/s (minutes 25-30 of a 60-minute run: amounts in cents, drift), REST binary 50/s,
  gRPC ModelInfer 50/s, MiniLM token ids 3/s, minilm_text pipeline 2/s, bad requests ~5 % of the
  total (wrong shape, NaN in binary FP32, unknown model: each must be a 4xx with an OIP body).
Churn: every 30 s reload fraud_classifier (load API, alternately with a config override: a real swap); every 2 min unload + load all_minilm_l6_v2;
every 10 s scrape /metrics, /v2/models/stats and /v2/models/fraud_classifier/slo; one dashboard
SSE client for the whole run and one that connects for 15 s every 20 s.
Written to DIR: samples.csv (every 30 s: RSS, heap, NMT, threads, fds, metric series, log lines,
answers by status per client), latency.csv (per minute per client: count, p50, p99, max),
control.csv (each reload/unload/load: status, duration), jcmd-*.txt (class histograms, NMT,
thread dumps at 2 min, the middle and the end), metrics-*.txt (the first and the last scrape).
Needs grpcio and stubs generated from fulcrum-server/src/main/proto on PYTHONPATH.
"""
import argparse
import asyncio
import collections
import csv
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import time

import grpc
import grpc_service_pb2 as pb
import grpc_service_pb2_grpc as pbg

FEATURES = 8
# demo/models/fraud_classifier/config.yaml as JSON, with max-batch-size 32 instead of 64.
FRAUD_OVERRIDE = {
    "platform": "onnxruntime_onnx", "max-batch-size": 32,
    "inputs": [{"name": "features", "datatype": "FP32", "dims": [8]}],
    "outputs": [{"name": "probabilities", "datatype": "FP32", "dims": [2], "labels": "classes.txt"},
                {"name": "label", "datatype": "INT64", "dims": []}],
    "version-policy": {"latest": 1}, "instance-count": 1,
    "monitoring": {"enabled": True, "baseline": "baseline.json", "sample-rate": 1.0, "features": {
        "features": ["amount_usd", "hour_of_day", "merchant_risk", "distance_from_home_km",
                     "transactions_last_24h", "account_age_days", "is_foreign", "card_present"]}}}


def load_rows(path):
    rows = []
    with open(path) as f:
        next(f)
        for line in f:
            vals = line.strip().split(",")
            if len(vals) >= FEATURES:
                rows.append([float(v) for v in vals[:FEATURES]])
    return rows


class Stats:
    """Answers by status per client (cumulative) and latencies per client for the current minute."""

    def __init__(self):
        self.status = collections.defaultdict(collections.Counter)
        self.lat = collections.defaultdict(list)
        self.problems = collections.Counter()  # e.g. a 4xx without an OIP error body

    def record(self, client, status, latency_s):
        self.status[client][str(status)] += 1
        self.lat[client].append(latency_s)


class Conn:
    """One HTTP/1.1 keep-alive connection (one request at a time)."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.r = self.w = None

    async def request(self, method, path, body=b"", headers=None):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}"]
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        self.w.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            await self.w.drain()
            raw = await self.r.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            hdrs = {}
            for ln in lines[1:]:
                if ":" in ln:
                    k, v = ln.split(":", 1)
                    hdrs[k.strip().lower()] = v.strip()
            if "content-length" in hdrs:
                data = await self.r.readexactly(int(hdrs["content-length"]))
            elif hdrs.get("transfer-encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int((await self.r.readuntil(b"\r\n")).strip(), 16)
                    data += await self.r.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                data = b""
            if hdrs.get("connection", "").lower() == "close":
                self.close()
            return status, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.w is not None:
            try:
                self.w.close()
            except Exception:
                pass
        self.r = self.w = None


class Soak:
    def __init__(self, a):
        self.a = a
        self.stats = Stats()
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.end = self.t0 + a.minutes * 60
        self.rows = load_rows(a.data)
        self.minilm_down = False
        self.last_metrics = (0, 0, "")
        self.sse = collections.Counter()
        self.control = open(os.path.join(a.out, "control.csv"), "w", newline="")
        self.control_w = csv.writer(self.control)
        self.control_w.writerow(["elapsed_s", "action", "status", "duration_ms", "body"])
        self.drift_from = a.minutes * 60 * 25 / 60
        self.drift_to = a.minutes * 60 * 30 / 60

    def elapsed(self):
        return time.monotonic() - self.t0

    def log_control(self, action, status, dur, body=b""):
        self.control_w.writerow([f"{self.elapsed():.1f}", action, status, f"{dur * 1000:.1f}",
                                 body[:200].decode("utf-8", "replace") if status != 200 else ""])
        self.control.flush()

    # ---- open-loop load ----
    async def ticker(self, q, rate, workers):
        """Puts each request's intended send time on q at `rate` a second (open loop) until the
        end, then one None per worker."""
        start = time.monotonic()
        i = 0
        while time.monotonic() < self.end:
            due = int((time.monotonic() - start) * rate)
            while i < due:
                q.put_nowait(start + i / rate)
                i += 1
            await asyncio.sleep(0.02)
        for _ in range(workers):
            q.put_nowait(None)

    async def open_loop(self, rate, workers, make, name):
        q = asyncio.Queue()

        async def worker():
            conn = Conn("127.0.0.1", self.a.port)
            while True:
                sched = await q.get()
                if sched is None:
                    conn.close()
                    return
                await make(conn, sched)

        await asyncio.gather(self.ticker(q, rate, workers), *[worker() for _ in range(workers)])

    def fraud_row(self):
        row = list(random.choice(self.rows))
        e = self.elapsed()
        if self.drift_from <= e < self.drift_to:
            row[0] *= 100.0  # dollars sent as cents
        return row

    async def fraud_json(self, conn, sched):
        r = random.random()
        if r < 0.02:
            client, path = "bad_shape", "/v2/models/fraud_classifier/infer"
            body = json.dumps({"inputs": [{"name": "features", "shape": [1, 7], "datatype": "FP32",
                                           "data": self.fraud_row()[:7]}]}).encode()
        elif r < 0.04:
            client, path = "bad_model", "/v2/models/no_such_model/infer"
            body = json.dumps({"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32",
                                           "data": self.fraud_row()}]}).encode()
        else:
            client, path = "fraud_json", "/v2/models/fraud_classifier/infer"
            body = json.dumps({"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32",
                                           "data": self.fraud_row()}]}).encode()
        await self.send(conn, sched, client, path, body, {"Content-Type": "application/json"})

    async def fraud_binary(self, conn, sched):
        row = self.fraud_row()
        client = "fraud_binary"
        if random.random() < 0.1:  # ~5/s, the NaN share of the bad requests
            row[2] = float("nan")
            client = "bad_nan"
        header = json.dumps({"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32",
                                         "parameters": {"binary_data_size": 32}}],
                             "outputs": [{"name": "probabilities",
                                          "parameters": {"binary_data": True}}]}).encode()
        body = header + struct.pack("<8f", *row)
        await self.send(conn, sched, client, "/v2/models/fraud_classifier/infer", body,
                        {"Content-Type": "application/octet-stream",
                         "Inference-Header-Content-Length": str(len(header))})

    async def minilm(self, conn, sched):
        client = "minilm_unloaded" if self.minilm_down else "minilm"
        body = json.dumps({"inputs": [
            {"name": "input_ids", "shape": [1, 4], "datatype": "INT64", "data": [101, 7592, 2088, 102]},
            {"name": "attention_mask", "shape": [1, 4], "datatype": "INT64", "data": [1, 1, 1, 1]},
            {"name": "token_type_ids", "shape": [1, 4], "datatype": "INT64", "data": [0, 0, 0, 0]}]}).encode()
        await self.send(conn, sched, client, "/v2/models/all_minilm_l6_v2/infer", body,
                        {"Content-Type": "application/json"})

    async def pipeline(self, conn, sched):
        client = "pipeline_minilm_unloaded" if self.minilm_down else "pipeline"
        words = ["fraud", "card", "payment", "merchant", "hello", "world", "vector", "server"]
        text = " ".join(random.choice(words) for _ in range(random.randint(3, 12)))
        body = json.dumps({"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES",
                                       "data": [text]}]}).encode()
        await self.send(conn, sched, client, "/v2/models/minilm_text/infer", body,
                        {"Content-Type": "application/json"})

    async def send(self, conn, sched, client, path, body, headers):
        try:
            status, data = await asyncio.wait_for(conn.request("POST", path, body, headers), 30)
        except Exception as e:
            status, data = "conn_" + type(e).__name__, b""
        lat = time.monotonic() - sched
        self.stats.record(client, status, lat)
        if isinstance(status, int) and 400 <= status < 500:
            try:
                if "error" not in json.loads(data):
                    self.stats.problems[f"{client}:{status}:no_error_field"] += 1
            except Exception:
                self.stats.problems[f"{client}:{status}:not_json"] += 1
        if client.startswith("bad_") and status not in (400, 404):
            self.stats.problems[f"{client}:{status}:unexpected"] += 1

    async def grpc_load(self, rate, workers):
        ch = grpc.aio.insecure_channel(f"127.0.0.1:{self.a.grpc_port}")
        stub = pbg.GRPCInferenceServiceStub(ch)
        q = asyncio.Queue()

        async def worker():
            while True:
                sched = await q.get()
                if sched is None:
                    return
                req = pb.ModelInferRequest(model_name="fraud_classifier")
                inp = req.inputs.add()
                inp.name, inp.datatype = "features", "FP32"
                inp.shape.extend([1, FEATURES])
                req.raw_input_contents.append(struct.pack("<8f", *self.fraud_row()))
                try:
                    await stub.ModelInfer(req, timeout=30)
                    code = "OK"
                except grpc.aio.AioRpcError as e:
                    code = e.code().name
                except Exception as e:
                    code = "exc_" + type(e).__name__
                self.stats.record("grpc", code, time.monotonic() - sched)

        await asyncio.gather(self.ticker(q, rate, workers), *[worker() for _ in range(workers)])
        await ch.close()

    # ---- churn ----
    async def every(self, period, fn, first=None):
        nxt = self.t0 + (period if first is None else first)
        while True:
            await asyncio.sleep(max(0, nxt - time.monotonic()))
            if time.monotonic() >= self.end:
                return
            try:
                await fn()
            except Exception as e:
                self.log_control(fn.__name__, "exc_" + type(e).__name__, 0, str(e).encode())
            nxt += period

    async def control_call(self, action, path, body=b""):
        conn = Conn("127.0.0.1", self.a.port)
        t = time.monotonic()
        try:
            status, data = await asyncio.wait_for(conn.request("POST", path, body), 120)
        finally:
            conn.close()
        self.log_control(action, status, time.monotonic() - t, data)
        return status

    async def reload_fraud(self):
        # A load of an unchanged model is a no-op (ModelManager: nothing changed, nothing reloads),
        # so the reloads alternate between a configuration override (max-batch-size 32, the rest
        # as config.yaml) and config.yaml itself: each one loads a copy beside the serving one,
        # swaps and drains the old one, under traffic.
        self.reloads = getattr(self, "reloads", 0) + 1
        body = b""
        if self.reloads % 2:
            body = json.dumps({"parameters": {"config": json.dumps(FRAUD_OVERRIDE)}}).encode()
        await self.control_call("load fraud_classifier" + (" (override)" if body else ""),
                                "/v2/repository/models/fraud_classifier/load", body)

    async def cycle_minilm(self):
        self.minilm_down = True
        try:
            await self.control_call("unload all_minilm_l6_v2", "/v2/repository/models/all_minilm_l6_v2/unload")
            await asyncio.sleep(1)
            await self.control_call("load all_minilm_l6_v2", "/v2/repository/models/all_minilm_l6_v2/load")
        finally:
            self.minilm_down = False

    async def scrape(self):
        for port, path, name in ((self.a.metrics_port, "/metrics", "metrics"),
                                 (self.a.port, "/v2/models/stats", "stats"),
                                 (self.a.port, "/v2/models/fraud_classifier/slo", "slo")):
            conn = Conn("127.0.0.1", port)
            try:
                status, data = await asyncio.wait_for(conn.request("GET", path), 30)
            except Exception as e:
                status, data = "conn_" + type(e).__name__, b""
            finally:
                conn.close()
            self.stats.record("scrape_" + name, status, 0)
            if name == "metrics" and status == 200:
                text = data.decode("utf-8", "replace")
                series = sum(1 for ln in text.splitlines() if ln and not ln.startswith("#"))
                self.last_metrics = (series, len(data), text)
                if not os.path.exists(os.path.join(self.a.out, "metrics-first.txt")):
                    with open(os.path.join(self.a.out, "metrics-first.txt"), "w") as f:
                        f.write(text)
            if name == "stats":
                self.last_stats_bytes = len(data)

    async def sse_client(self, name, hold_s, pause_s):
        while time.monotonic() < self.end:
            try:
                r, w = await asyncio.open_connection("127.0.0.1", self.a.port)
                w.write(f"GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1:{self.a.port}\r\n"
                        "Accept: text/event-stream\r\n\r\n".encode())
                await w.drain()
                self.sse[name + "_connects"] += 1
                stop = min(self.end, time.monotonic() + hold_s)
                while True:
                    left = stop - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        chunk = await asyncio.wait_for(r.read(65536), left)
                    except asyncio.TimeoutError:
                        break
                    if not chunk:
                        self.sse[name + "_server_closed"] += 1
                        break
                    self.sse[name + "_bytes"] += len(chunk)
                    self.sse[name + "_events"] += chunk.count(b"\n\n")
                w.close()
            except Exception as e:
                self.sse[name + "_err_" + type(e).__name__] += 1
            if pause_s:
                await asyncio.sleep(pause_s)
            elif time.monotonic() < self.end:
                await asyncio.sleep(1)

    # ---- sampling ----
    def jcmd(self, commands):
        path = os.path.join(self.a.out, ".jcmd-cmds")
        with open(path, "w") as f:
            f.write("\n".join(commands) + "\n")
        try:
            return subprocess.run([self.a.jcmd, str(self.a.pid), "-f", path], capture_output=True,
                                  text=True, timeout=60).stdout
        except Exception as e:
            return f"jcmd failed: {e}"

    def proc_threads(self):
        groups = collections.Counter()
        n = 0
        for tid in os.listdir(f"/proc/{self.a.pid}/task"):
            try:
                with open(f"/proc/{self.a.pid}/task/{tid}/comm") as f:
                    groups[re.sub(r"\d+", "N", f.read().strip())] += 1
                n += 1
            except OSError:
                pass
        return n, groups

    @staticmethod
    def kb(v, unit):
        return float(v) * {"K": 1, "M": 1024, "G": 1024 * 1024, "B": 1 / 1024}.get(unit[:1].upper(), 1)

    async def sampler(self):
        f = open(os.path.join(self.a.out, "samples.csv"), "w", newline="")
        w = csv.writer(f)
        w.writerow(["elapsed_s", "rss_kb", "rss_anon_kb", "heap_used_kb", "heap_after_gc_kb",
                    "metaspace_used_kb", "nmt_committed_kb", "nmt_categories", "proc_threads",
                    "java_threads", "java_thread_groups", "native_thread_groups", "fds",
                    "metric_series", "metrics_bytes", "stats_bytes", "log_lines", "sse", "answers",
                    "problems", "cpu_s"])
        n = 0
        special = {4: "2min", int(self.a.minutes): "middle"}  # sample index (every 30 s) -> tag
        while True:
            nxt = self.t0 + 30 * (n + 1)
            await asyncio.sleep(max(0, nxt - time.monotonic()))
            n += 1
            last = time.monotonic() >= self.end - 1
            gc = n % 4 == 0 or last
            tag = "end" if last else special.get(n)
            cmds = (["GC.run"] if gc else []) + ["GC.heap_info", "VM.native_memory summary",
                                                  "Thread.print"]
            out = await asyncio.to_thread(self.jcmd, cmds)
            if tag:
                extra = await asyncio.to_thread(self.jcmd, ["GC.class_histogram"])
                with open(os.path.join(self.a.out, f"jcmd-{tag}.txt"), "w") as jf:
                    jf.write(out + "\n" + extra)
            heap = re.search(r"garbage-first heap\s+total reserved \d+K, committed \d+K, used (\d+)K", out)
            heap_kb = int(heap.group(1)) if heap else ""
            meta = re.search(r"Metaspace\s+used (\d+)K", out)
            tot = re.search(r"Total: reserved=(\d+)KB, committed=(\d+)KB", out)
            cats = {}
            for m in re.finditer(r"-\s+([A-Za-z ]+?) \(reserved=(\d+)KB, committed=(\d+)KB", out):
                cats[m.group(1).strip()] = int(m.group(3))
            jgroups = collections.Counter()
            for m in re.finditer(r'^"([^"]*)"', out, re.M):
                jgroups[re.sub(r"\d+", "N", m.group(1))] += 1
            with open(f"/proc/{self.a.pid}/status") as sf:
                st = sf.read()
            rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1))
            anon = int(re.search(r"RssAnon:\s+(\d+)", st).group(1))
            with open(f"/proc/{self.a.pid}/stat") as sf:
                fields = sf.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            nthreads, ngroups = self.proc_threads()
            fds = len(os.listdir(f"/proc/{self.a.pid}/fd"))
            with open(self.a.log, "rb") as lf:
                log_lines = sum(1 for _ in lf)
            w.writerow([f"{self.elapsed():.0f}", rss, anon, heap_kb, heap_kb if gc else "",
                        meta.group(1) if meta else "", tot.group(2) if tot else "",
                        json.dumps(cats, sort_keys=True), nthreads, sum(jgroups.values()),
                        json.dumps(dict(sorted(jgroups.items()))),
                        json.dumps(dict(sorted(ngroups.items()))), fds, self.last_metrics[0],
                        self.last_metrics[1], getattr(self, "last_stats_bytes", ""), log_lines,
                        json.dumps(dict(sorted(self.sse.items()))),
                        json.dumps({k: dict(v) for k, v in sorted(self.stats.status.items())}),
                        json.dumps(dict(self.stats.problems)), f"{cpu:.1f}"])
            f.flush()
            print(f"[{self.elapsed():6.0f}s] rss {rss // 1024} MB heap {heap_kb} K threads {nthreads} "
                  f"fds {fds} series {self.last_metrics[0]} cpu {cpu:.0f}s", flush=True)
            if last:
                with open(os.path.join(self.a.out, "metrics-last.txt"), "w") as mf:
                    mf.write(self.last_metrics[2])
                return

    async def latency_writer(self):
        f = open(os.path.join(self.a.out, "latency.csv"), "w", newline="")
        w = csv.writer(f)
        w.writerow(["minute", "client", "count", "p50_ms", "p99_ms", "max_ms"])
        minute = 0
        while True:
            await asyncio.sleep(max(0, self.t0 + 60 * (minute + 1) - time.monotonic()))
            minute += 1
            lat, self.stats.lat = self.stats.lat, collections.defaultdict(list)
            for client, xs in sorted(lat.items()):
                if client.startswith("scrape_"):
                    continue
                xs.sort()
                q = lambda p: xs[min(len(xs) - 1, int(math.ceil(p * len(xs))) - 1)] * 1000
                w.writerow([minute, client, len(xs), f"{q(0.5):.2f}", f"{q(0.99):.2f}", f"{xs[-1] * 1000:.2f}"])
            f.flush()
            if time.monotonic() >= self.end - 1:
                return

    async def run(self):
        s = self.a.scale
        tasks = [
            self.open_loop(150 * s, 4, self.fraud_json, "fraud_json"),
            self.open_loop(50 * s, 2, self.fraud_binary, "fraud_binary"),
            self.grpc_load(50 * s, 2),
            self.open_loop(3 * s, 2, self.minilm, "minilm"),
            self.open_loop(2 * s, 2, self.pipeline, "pipeline"),
            self.every(30, self.reload_fraud),
            self.every(120, self.cycle_minilm, first=60),
            self.every(10, self.scrape, first=1),
            self.sse_client("sse_steady", self.a.minutes * 60, 0),
            self.sse_client("sse_churn", 15, 5),
            self.sampler(),
            self.latency_writer(),
        ]
        await asyncio.gather(*tasks)
        print(json.dumps({"answers": {k: dict(v) for k, v in self.stats.status.items()},
                          "problems": dict(self.stats.problems), "sse": dict(self.sse)}, indent=1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--grpc-port", type=int, required=True)
    p.add_argument("--metrics-port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every request rate")
    p.add_argument("--data", default="demo/data/fraud_training.csv")
    p.add_argument("--jcmd", default=os.path.join(os.environ.get("JAVA_HOME", "/usr"), "bin", "jcmd"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    asyncio.run(Soak(a).run())


if __name__ == "__main__":
    sys.exit(main())
