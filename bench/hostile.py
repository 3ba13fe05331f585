#!/usr/bin/env python3
"""Hostile-client probe against a running Fulcrum server (loopback only, bounded in count and time).

Reruns the cases of issue #14 and counts every answer. For each case it prints the normal
request's latency meanwhile (p50/p99/max and every status seen; a separate process sends one
normal request on a new connection every --probe-interval seconds), when the hostile connections
were closed (seconds after they opened), and the server's RSS before / peak / after (from /proc,
given --pid) against the stated bound (--bound-mb; hostile.sh passes the buffered-bytes budget +
300 MB):

  timeouts   an idle connection, a partial request head, a partial body (REST), a gRPC connection
             that never sends its preface, a partial request on the metrics port: when each closed
  slowloris  N connections sending a request head one byte per second (--slowloris 20000;
             split over --workers processes so that each stays under its file limit), run
             --slowloris-rounds times (2) on the same server: the first meets a fresh JVM, the
             later a warm one; the p99 is judged on every round; each round also reports
             where the normal requests' time went (the connect: a SYN dropped by a full accept queue is resent after 1 s; the
             answer after it), the accept queue's peak (ss) and the kernel's listen-drop
             counters (ListenOverflows / ListenDrops, whole machine)
  h2         one h2c connection with --h2-streams unfinished streams, each declaring --h2-mb MB
             (h2 and grpc: each stream's sending bounded by --stream-timeout, the case by
             --case-timeout, so a client starved of flow-control credit reports, never hangs)
  grpc       one gRPC connection with --grpc-calls calls, each a partial --grpc-mb MB message
             (answered: ended by the server, e.g. RESOURCE_EXHAUSTED over the buffered-bytes budget)
  http1      --http1-conns HTTP/1.1 connections, each declaring --http1-mb MB and sending it slowly
             enough to stall, stopping when answered
  pipeline   one connection with --pipeline pipelined GETs: how many are answered
  metrics    a scrape behind a partial request on the metrics port

Usage: bench/hostile.py --port 8000 --grpc-port 8001 --metrics-port 8002 --pid PID [--cases ...]
The normal request is honest about first contact: a new connection each time, timed from the
start of its connect to the end of the answer (never a connection opened before the attack).

Exit status 1 when a number the issue sets is missed (normal p99 >= 100 ms in any slowloris
round, a non-200 answer in any, a partial connection open past the header timeout + 2 s counted
from its handshake's completion, RSS peak over the bound), else 0. Each slowloris round also
prints the handshakes' times (a SYN dropped at a full accept queue is resent after 1 s, then 3 s)
and the partial heads' closes from the connect() call. --warm-connections N opens N connections
(one byte each) before the first round.
"""
import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import select
import socket
import statistics
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
FRAUD = (b'{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":'
         b'[120.5,14,0.2,3.5,2,400,0,1]}]}')
FAILED = []


def fail(msg):
    FAILED.append(msg)
    print(f"  MISSED: {msg}")


def out(msg=""):
    print(msg)
    sys.stdout.flush()


# ---------------------------------------------------------------- RSS

def rss_mb(pid):
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None


class RssWatch:
    """Samples the server's RSS every 100 ms on a thread; reports the peak since start()."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop_ = pid, 0, threading.Event()

    def __enter__(self):
        self.before = rss_mb(self.pid) or 0
        self.peak = self.before
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        return self

    def run(self):
        while not self.stop_.wait(0.1):
            r = rss_mb(self.pid)
            if r:
                self.peak = max(self.peak, r)

    def __exit__(self, *exc):
        self.stop_.set()
        self.t.join()

    def settle(self, seconds):
        """RSS after the clients left: the lowest of the samples over `seconds`."""
        low = rss_mb(self.pid) or 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.5)
            low = min(low, rss_mb(self.pid) or low)
        return low


def thread_cpu(pid):
    """CPU seconds of each of the server's threads so far, summed by name with its numbers
    dropped (fulcrum-http-accept-3-1 and -3-2 are one row): {name: seconds}."""
    rows = {}
    if not pid:
        return rows
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return rows
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        name = name.rstrip("0123456789#-").rstrip() or name
        rows[name] = rows.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return rows


def thread_cpu_line(label, before, after):
    used = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    top = sorted(((v, k) for k, v in used.items() if v >= 0.01), reverse=True)[:8]
    if top:
        out(f"  server CPU {label}: {sum(used.values()):.2f} s; "
            + ", ".join(f"{k} {v:.2f}" for v, k in top))


def rss_line(args, w, after):
    if not args.pid:
        return
    bound = args.bound_mb
    verdict = "within" if w.peak <= bound else "OVER"
    out(f"  RSS before {w.before} MB, peak {w.peak} MB ({verdict} the bound of {bound} MB),"
        f" after the clients left {after} MB")
    if w.peak > bound:
        fail(f"RSS peak {w.peak} MB over the bound {bound} MB")


# ---------------------------------------------------------------- the listening socket

LISTEN_COUNTERS = ("ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies",
                   "SyncookiesSent")


def listen_counters():
    """The kernel's TcpExt counters of SYNs and handshakes a listener dropped (whole machine)."""
    try:
        with open("/proc/net/netstat") as f:
            lines = [line.split() for line in f if line.startswith("TcpExt:")]
        return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:]) if k in LISTEN_COUNTERS}
    except (OSError, IndexError, ValueError):
        return {}


class AcceptQueueWatch:
    """Samples the port's accept queue every 100 ms with `ss` (Recv-Q of a listening socket: the
    connections the kernel completed and the server has not accepted yet; Send-Q: its backlog),
    and the kernel's listen-drop counters before and after. The counters are the machine's:
    another process's listener dropping meanwhile counts too."""

    def __init__(self, port):
        self.port, self.peak, self.backlogs, self.sockets = port, 0, set(), 0
        self.stop_ = threading.Event()
        self.timeline = []  # (seconds since the watch started, queued, ListenOverflows so far)

    def __enter__(self):
        self.before = listen_counters()
        self.t0 = time.monotonic()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        return self

    def run(self):
        import subprocess
        while not self.stop_.wait(0.1):
            try:
                rows = subprocess.run(["ss", "-Hltn", f"sport = :{self.port}"],
                                      capture_output=True, text=True, timeout=5).stdout
            except (OSError, subprocess.SubprocessError):
                return
            queued = 0
            rows = [r.split() for r in rows.splitlines() if r.strip()]
            for r in rows:
                queued += int(r[1])
                self.backlogs.add(int(r[2]))
            self.sockets = max(self.sockets, len(rows))
            self.peak = max(self.peak, queued)
            self.timeline.append((time.monotonic() - self.t0, queued,
                                  listen_counters().get("ListenOverflows", 0)
                                  - self.before.get("ListenOverflows", 0)))

    def __exit__(self, *exc):
        self.stop_.set()
        self.t.join()
        after = listen_counters()
        self.delta = {k: after[k] - self.before.get(k, 0) for k in after}

    def report(self):
        backlog = "/".join(str(b) for b in sorted(self.backlogs)) or "?"
        drops = ", ".join(f"{k} +{v}" for k, v in self.delta.items()) or "not readable"
        out(f"  accept queue: {self.sockets} listening socket(s), backlog {backlog}, peak"
            f" {self.peak} waiting (ss, every 100 ms); kernel listen counters (whole machine):"
            f" {drops}")
        # When the queue was full and the kernel dropped (a SYN, or the handshake's last ACK):
        # per quarter second from the watch's start (the probes start with it, the attack 1 s in).
        cells, last_drops = [], 0
        for q in range(24):
            rows = [r for r in self.timeline if q * 0.25 <= r[0] < (q + 1) * 0.25]
            if not rows:
                continue
            peak, drops_now = max(r[1] for r in rows), rows[-1][2]
            if peak or drops_now > last_drops:
                cells.append(f"+{q * 0.25:.2f} q{peak} d{drops_now - last_drops}")
            last_drops = drops_now
        if cells:
            out(f"    queue peak (q) and ListenOverflows (d) per 0.25 s, from the probes' start:"
                f" {', '.join(cells)}")


# ---------------------------------------------------------------- the normal request

def normal_request(port, timeout=30.0):
    """One inference on a new connection, as a client's first contact: (milliseconds from the
    connect's start to the whole answer, status, milliseconds the connect took). A connect of
    about 1 s or more is a SYN the server's full accept queue dropped and the client resent."""
    t = time.monotonic()
    connect_ms = float("nan")
    phase = "connect"
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            connect_ms = (time.monotonic() - t) * 1000
            phase = "send"
            s.sendall(b"POST /v2/models/fraud_classifier/infer HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nConnection: close\r\n"
                      + f"Content-Length: {len(FRAUD)}\r\n\r\n".encode() + FRAUD)
            data = b""
            phase = "read"
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status = data.split(b" ", 2)[1].decode() if data else "closed"
    except OSError as e:
        # Where it failed says who failed it: a reset at the connect is a refusal by the kernel,
        # at the send or read the server closed an accepted connection (its cap, its timeouts).
        status = f"{type(e).__name__} at the {phase}"
    return (time.monotonic() - t) * 1000, status, connect_ms


class KeptConnection:
    """The same inference on one keep-alive connection, opened when the probe starts (before the
    attack): a client already connected, whose requests never wait in the accept queue. Only the
    server's event loops, the inference and the machine's CPU are in its time. A diagnostic beside
    the judged new-connection probe, not judged itself."""

    REQUEST = (b"POST /v2/models/fraud_classifier/infer HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               + f"Content-Length: {len(FRAUD)}\r\n\r\n".encode() + FRAUD)

    def __init__(self, port):
        self.port, self.s, self.buf = port, None, b""

    def request(self, timeout=30.0):
        """(milliseconds for the answer, status, NaN: no connect timed); reconnects after a close."""
        t = time.monotonic()
        phase = "send"
        try:
            if self.s is None:
                phase = "connect"
                self.s, self.buf = socket.create_connection((HOST, self.port), timeout=timeout), b""
                t = time.monotonic()  # the connect is not what this probe measures
                phase = "send"
            self.s.sendall(self.REQUEST)
            phase = "read"
            while b"\r\n\r\n" not in self.buf:
                self.recv()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(self.buf) < length:
                self.recv()
            self.buf = self.buf[length:]
            status = head.split(b" ", 2)[1].decode()
        except OSError as e:
            status = f"{type(e).__name__} at the {phase} (kept connection)"
            self.close()
        return (time.monotonic() - t) * 1000, status, float("nan")

    def recv(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed by the server")
        self.buf += chunk

    def close(self):
        if self.s is not None:
            self.s.close()
        self.s = None


def probe_loop(port, interval, stop, results, kept=False):
    """In its own process (no shared GIL with the attack): a normal request every interval, each on
    a new connection, or with kept=True all on one keep-alive connection (KeptConnection)."""
    lat = []
    conn = KeptConnection(port) if kept else None
    t0 = time.monotonic()
    while not stop.is_set():
        start = time.monotonic()
        lat.append((conn.request() if kept else normal_request(port)) + (start - t0,))
        time.sleep(max(0.0, interval - (time.monotonic() - start)))
    if conn is not None:
        conn.close()
    results.put(lat)


class Probe:
    def __init__(self, args, kept=False):
        self.args, self.kept = args, kept

    def __enter__(self):
        self.stop, self.q = mp.Event(), mp.Queue()
        self.p = mp.Process(target=probe_loop,
                            args=(self.args.port, self.args.probe_interval, self.stop, self.q,
                                  self.kept))
        self.p.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.lat = self.q.get(timeout=60)
        self.p.join()

    def report(self, what, p99_limit_ms=None, all_200=None):
        lat = self.lat
        if not lat:
            out(f"  normal requests {what}: none sent")
            return
        ms = sorted(m for m, _, _, _ in lat)
        codes = {}
        for _, s, _, _ in lat:
            codes[s] = codes.get(s, 0) + 1
        p50, p99 = pct(ms, 50), pct(ms, 99)
        out(f"  normal requests {what}: {len(lat)} sent, answers {dict(sorted(codes.items()))},"
            f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")
        # Where the time went: the connect (the accept queue: a dropped SYN is resent after 1 s)
        # or the answer after it (the event loops).
        connects = sorted(c for _, _, c, _ in lat if c == c)
        after = sorted(m - c for m, _, c, _ in lat if c == c)
        slow = [m for m in ms if m >= 100]
        if connects:
            resent = sum(c >= 900 for c in connects)
            slow_connects = sum(c >= 100 for c in connects)
            out(f"    connect p50 {pct(connects, 50):.1f} ms, p99 {pct(connects, 99):.1f} ms,"
                f" max {connects[-1]:.1f} ms ({resent} over 0.9 s: a SYN resent);"
                f" answer after the connect p50 {pct(after, 50):.1f} ms, p99"
                f" {pct(after, 99):.1f} ms, max {after[-1]:.1f} ms; {len(slow)} requests"
                f" >= 100 ms; {slow_connects} connects >= 100 ms")
        if slow:
            # When in the round the slow ones came (seconds from the probe's start; the attack
            # starts 1 s in): a cold JIT's opening burst, or spread over the attack.
            at = [f"+{t:.2f} s ({m:.0f} ms)" for m, _, _, t in lat if m >= 100]
            out(f"    slow requests at: {', '.join(at[:12])}{' ...' if len(at) > 12 else ''}")
        if p99_limit_ms is not None and p99 >= p99_limit_ms:
            fail(f"normal p99 {p99:.1f} ms >= {p99_limit_ms} ms {what}")
        if (all_200 if all_200 is not None else p99_limit_ms is not None) and set(codes) != {"200"}:
            fail(f"normal requests answered {codes} {what}")


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def closes_line(label, lifetimes, still_open, limit_s=None):
    if lifetimes:
        s = sorted(lifetimes)
        out(f"  {label}: {len(s)} closed by the server, after {s[0]:.1f} s (first) /"
            f" {pct(s, 50):.1f} s (median) / {s[-1]:.1f} s (last); {still_open} still open")
    else:
        out(f"  {label}: none closed by the server; {still_open} still open")
    if limit_s is not None and (still_open or (lifetimes and max(lifetimes) > limit_s)):
        fail(f"{label}: open past {limit_s:.0f} s")


# ---------------------------------------------------------------- timeouts

def wait_closed(s, limit):
    """Seconds until the peer closes s (reading and dropping what it sends), or None."""
    start = time.monotonic()
    s.settimeout(0.5)
    while time.monotonic() - start < limit:
        try:
            if s.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def timeouts(args):
    out(f"timeouts (REST header {args.header_timeout} s / body {args.body_timeout} s /"
        f" idle {args.idle_timeout} s; gRPC handshake {args.grpc_handshake_timeout} s)")
    cases = [
        ("REST, a partial request head", args.port, b"GET /v2/health/live HTTP/1.1\r\nHo",
         args.header_timeout),
        ("REST, a partial body", args.port,
         b"POST /v2/models/fraud_classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000"
         b"\r\n\r\n{\"in", args.body_timeout),
        ("REST, idle after a request", args.port,
         b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", args.idle_timeout),
        ("gRPC, no HTTP/2 preface", args.grpc_port, b"", args.grpc_handshake_timeout),
        ("metrics, a partial request head", args.metrics_port, b"GET /metrics HTTP/1.1\r\nHo",
         args.header_timeout),
    ]
    results = []

    def one(label, port, data, limit):
        if not port:
            return
        with socket.create_connection((HOST, port), timeout=5) as s:
            if data:
                s.sendall(data)
            results.append((label, wait_closed(s, limit + 15), limit))

    threads = [threading.Thread(target=one, args=c) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for label, took, limit in sorted(results):
        if took is None:
            out(f"  {label}: still open after {limit + 15} s")
            fail(f"{label}: not closed")
        else:
            out(f"  {label}: closed after {took:.1f} s")
            if took > limit + 2:
                fail(f"{label}: closed after {took:.1f} s, timeout {limit} s")


# ---------------------------------------------------------------- slowloris

def slowloris_worker(port, n, seconds, results, nice=0):
    """Opens n connections, sends one head byte a second on each; returns what happened."""
    if nice:
        os.nice(nice)  # --attack-nice: the attacker yields the shared cores (a diagnostic)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, max(n + 256, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # then opens what it can
    ep = select.epoll()
    socks, opened, lifetimes, failed = {}, 0, [], 0
    cpu0 = cpu_seconds()

    def events(timeout):
        """Records the connections the server closed (their lifetime from the connect() call, how
        many bytes they had sent, and how long the handshake took: the first EPOLLOUT, None if the
        server closed it before the client saw it complete)."""
        for fd, ev in ep.poll(timeout):
            entry = socks.get(fd)
            if entry is None:
                continue
            s, t0, sent, took = entry
            now = time.monotonic()
            if took is None and ev & (select.EPOLLOUT | select.EPOLLIN):
                took = now - t0
                socks[fd] = (s, t0, sent, took)
            if ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                try:
                    closed = ev & (select.EPOLLHUP | select.EPOLLERR) or s.recv(4096) == b""
                except OSError:
                    closed = True
                if closed:
                    lifetimes.append((now - t0, sent, took))
                    ep.unregister(fd)
                    del socks[fd]
                    s.close()
                    continue
            if ev & select.EPOLLOUT:
                ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)

    start = time.monotonic()
    for i in range(n):
        if i % 100 == 0:
            events(0)  # opening takes a while on a slow machine: closes are timed meanwhile
        try:
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((HOST, port))
            except BlockingIOError:
                pass
            socks[s.fileno()] = (s, time.monotonic(), 0, None)
            ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)
            opened += 1
        except OSError:
            failed += 1
    head = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100000
    opening = time.monotonic() - start
    cpu_opening = cpu_seconds() - cpu0
    start = next_tick = time.monotonic()
    while time.monotonic() - start < seconds and socks:
        events(0.05)
        if time.monotonic() >= next_tick:
            next_tick += 1.0
            for fd, (s, t0, sent, took) in list(socks.items()):
                try:
                    s.send(head[sent:sent + 1])
                    socks[fd] = (s, t0, sent + 1, took)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    lifetimes.append((time.monotonic() - t0, sent, took))
                    ep.unregister(fd)
                    del socks[fd]
                    s.close()
    still = len(socks)
    for s, _, _, _ in socks.values():
        s.close()
    results.put((opened, failed, lifetimes, still, opening, cpu_opening, cpu_seconds() - cpu0))


def cpu_seconds():
    """This process's CPU time so far (user + system), seconds."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def warm_connections(port, n, batch=200):
    """Opens n connections before the first round, batch at a time, each sending one byte and
    closing: the server's accept, admission, registration, first-bytes and close paths run n times
    before the attack (an experiment: does a fresh JVM's first burst go better after that?)."""
    start = time.monotonic()
    done = 0
    while done < n:
        socks = []
        for _ in range(min(batch, n - done)):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect((HOST, port))
                socks.append(s)
            except OSError:
                s.close()
        for s in socks:
            try:
                s.send(b"G")
            except OSError:
                pass
        for s in socks:
            s.close()
        done += batch
    out(f"warm-up: {n} connections opened, one byte each, closed in {time.monotonic() - start:.1f} s")
    time.sleep(1)


def slowloris(args):
    """--slowloris-rounds attacks on the same server, one after the other. The first meets the
    connection path of a fresh JVM (interpreted, then profiled C1 code, with C2 compiling
    meanwhile on the same cores); the later ones a server that has accepted connections before, as
    any server in service has. Every round is reported, must answer every normal request and is
    judged on the < 100 ms p99: a fresh server is attacked too."""
    rounds = max(1, args.slowloris_rounds)
    if args.warm_connections:
        warm_connections(args.port, args.warm_connections)
    for r in range(1, rounds + 1):
        if rounds > 1:
            what = ("the server's first connections, cold JIT"
                    if r < rounds else "the same attack again on the now warm server")
            out(f"slowloris round {r} of {rounds} ({what})")
        slowloris_round(args, judged=True)
        if r < rounds:
            time.sleep(2)  # the round's connections closed; let the server settle
            out()


def slowloris_round(args, judged):
    n, workers = args.slowloris, max(1, args.workers)
    out(f"slowloris: {n} connections ({workers} processes), one head byte a second,"
        f" {args.seconds} s; header timeout {args.header_timeout} s")
    q = mp.Queue()
    cpu_opening = {}
    with Probe(args) as base:
        time.sleep(args.baseline)
    base.report(f"before the attack ({args.baseline:.0f} s, same machine)")
    with contextlib.ExitStack() as stack:
        w = stack.enter_context(RssWatch(args.pid))
        queue = stack.enter_context(AcceptQueueWatch(args.port))
        probe = stack.enter_context(Probe(args))
        kept = stack.enter_context(Probe(args, kept=True)) if args.kept_probe else None
        time.sleep(1)
        cpu_start = thread_cpu(args.pid)
        threading.Timer(3.0, lambda: cpu_opening.update(thread_cpu(args.pid))).start()
        procs = [mp.Process(target=slowloris_worker,
                            args=(args.port, n // workers + (i < n % workers), args.seconds, q,
                                  args.attack_nice))
                 for i in range(workers)]
        for p in procs:
            p.start()
        parts = [q.get(timeout=args.seconds + 120) for _ in procs]
        for p in procs:
            p.join()
        cpu_end = thread_cpu(args.pid)
    opened = sum(p[0] for p in parts)
    failed = sum(p[1] for p in parts)
    still = sum(p[3] for p in parts)
    lifetimes = [lt for p in parts for lt in p[2]]
    # Closed before its second byte, within 1.5 s of its connect: refused at the connection cap,
    # or evicted at the cap as the slowest unstarted connection past the grace.
    refused = [t for t, sent, _ in lifetimes if sent <= 1 and t < 1.5]
    partial = [(t, took) for t, sent, took in lifetimes if not (sent <= 1 and t < 1.5)]
    out(f"  opened {opened} ({failed} failed to open) in {max(p[4] for p in parts):.1f} s;"
        f" closed within 1.5 s before their second byte (refused or evicted at the cap):"
        f" {len(refused)}")
    out(f"  attack client CPU ({len(parts)} processes): {sum(p[5] for p in parts):.2f} s while"
        f" opening, {sum(p[6] for p in parts):.2f} s in all")
    if cpu_opening:
        thread_cpu_line("in the attack's first 3 s", cpu_start, cpu_opening)
    thread_cpu_line("over the whole attack", cpu_start, cpu_end)
    # The handshake's time: a SYN the kernel dropped at a full accept queue is resent after 1 s,
    # then 3 s; until then there is no connection for the server to time. The header timeout is
    # judged from the handshake's completion (the client's first EPOLLOUT); the time from the
    # connect() call is printed beside it.
    handshakes = sorted(took for _, _, took in lifetimes if took is not None)
    if handshakes:
        out(f"  handshakes (connect() to its completion, all closed connections): median"
            f" {pct(handshakes, 50) * 1000:.0f} ms, p99 {pct(handshakes, 99) * 1000:.0f} ms, max"
            f" {handshakes[-1] * 1000:.0f} ms; >= 0.9 s (a SYN resent):"
            f" {sum(1 for t in handshakes if t >= 0.9)}")
    closes_line("partial heads, from the connect() call", [t for t, _ in partial], still)
    closes_line("partial heads, from the handshake's completion",
                [t - (took or 0.0) for t, took in partial], still, args.header_timeout + 2)
    probe.report("during the attack", p99_limit_ms=100 if judged else None, all_200=True)
    if kept is not None:
        kept.report("on one keep-alive connection opened before the attack (diagnostic, not"
                    " judged)", all_200=False)
    queue.report()
    rss_line(args, w, w.settle(3))


# ---------------------------------------------------------------- HTTP/2 by hand (h2c and gRPC)

def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(
        ">I", stream) + payload


def hpack_literal(headers):
    """Literal header fields without indexing, new names, no Huffman (RFC 7541 6.2.2)."""
    b = bytearray()
    for k, v in headers:
        k, v = k.encode(), v.encode()
        b.append(0)
        b += hpack_int(len(k)) + k + hpack_int(len(v)) + v
    return bytes(b)


def hpack_int(n, prefix=7):
    if n < (1 << prefix) - 1:
        return bytes([n])
    b = bytearray([(1 << prefix) - 1])
    n -= (1 << prefix) - 1
    while n >= 128:
        b.append(n % 128 + 128)
        n //= 128
    b.append(n)
    return bytes(b)


class H2Conn:
    """A minimal HTTP/2 client: sends HEADERS and DATA within the peer's flow-control windows, and
    records per stream whether the server answered (HEADERS) or reset it."""

    def __init__(self, port, stall_wait):
        self.s = socket.create_connection((HOST, port), timeout=stall_wait)
        self.stalled = False  # a send made no progress for stall_wait: the server stopped reading
        self.error = None  # why the reader stopped, when not the server's close
        self.lock = threading.Condition()
        self.write_lock = threading.Lock()  # frames from both threads, never interleaved
        self.conn_window, self.initial_window, self.windows = 65535, 65535, {}
        self.answered, self.reset, self.goaway, self.closed = set(), set(), None, False
        self.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def write(self, data):
        with self.write_lock:
            self.s.sendall(data)

    def read(self):
        buf = b""
        try:
            while True:
                try:
                    chunk = self.s.recv(1 << 16)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 9:
                    length = int.from_bytes(buf[:3], "big")
                    if len(buf) < 9 + length:
                        break
                    ftype, flags = buf[3], buf[4]
                    sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                    payload, buf = buf[9:9 + length], buf[9 + length:]
                    self.on_frame(ftype, flags, sid, payload)
        except OSError:
            pass
        except Exception as e:  # a frame this client misread: report it, never leave senders waiting
            self.error = f"{type(e).__name__}: {e}"
        with self.lock:
            self.closed = True
            self.lock.notify_all()

    def on_frame(self, ftype, flags, sid, payload):
        with self.lock:
            if ftype == 4 and not flags & 1:  # SETTINGS
                for i in range(0, len(payload), 6):
                    ident, value = struct.unpack(">HI", payload[i:i + 6])
                    if ident == 4:
                        delta = value - self.initial_window
                        self.initial_window = value
                        for k in self.windows:
                            self.windows[k] += delta
                self.write(frame(4, 1, 0))
            elif ftype == 8:  # WINDOW_UPDATE
                inc = struct.unpack(">I", payload)[0] & 0x7FFFFFFF
                if sid == 0:
                    self.conn_window += inc
                elif sid in self.windows:
                    self.windows[sid] += inc
            elif ftype == 1:  # HEADERS: an answer (status or trailers)
                self.answered.add(sid)
            elif ftype == 3:  # RST_STREAM
                self.reset.add(sid)
            elif ftype == 7:  # GOAWAY
                self.goaway = payload[:8]
            elif ftype == 6 and not flags & 1:  # PING
                self.write(frame(6, 1, 0, payload))
            self.lock.notify_all()

    def open(self, sid, headers):
        with self.lock:
            self.windows[sid] = self.initial_window
        self.write(frame(1, 4, sid, hpack_literal(headers)))

    def send(self, sid, data, wait=2.0, limit=60.0):
        """Sends what the windows allow; returns (bytes sent, whether it gave up at `limit`): stops
        when stalled for `wait`, and after `limit` seconds in all, however the window trickles."""
        sent, mv = 0, memoryview(data)
        give_up = time.monotonic() + limit
        while sent < len(data):
            if time.monotonic() >= give_up:
                return sent, True
            with self.lock:
                deadline = min(time.monotonic() + wait, give_up)
                while (min(self.conn_window, self.windows[sid]) <= 0 and not self.closed
                       and sid not in self.reset and sid not in self.answered):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return sent, time.monotonic() >= give_up
                    self.lock.wait(left)
                if self.closed or sid in self.reset or sid in self.answered:
                    return sent, False
                n = min(16384, len(data) - sent, self.conn_window, self.windows[sid])
                self.conn_window -= n
                self.windows[sid] -= n
            try:
                self.write(frame(0, 0, sid, bytes(mv[sent:sent + n])))
            except socket.timeout:
                self.stalled = True
                return sent, False
            except OSError:
                return sent, False
            sent += n
        return sent, False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def h2_bodies(args, label, port, streams, mb, headers_of, prefix):
    total = mb * 1024 * 1024
    part = total - 1024 * 1024  # all but the last MB: every stream stays unfinished
    out(f"{label}: one connection, {streams} streams declaring {mb} MB each, sending"
        f" {part // (1024 * 1024)} MB of each and stalling")
    with RssWatch(args.pid) as w, Probe(args) as probe:
        c = H2Conn(port, args.stall_wait)
        sent_total, stalled, slow, opened = 0, 0, 0, 0
        body = prefix(total) + b" " * (part - len(prefix(total)))
        case_end = time.monotonic() + args.case_timeout
        for i in range(streams):
            sid = 1 + 2 * i
            left = case_end - time.monotonic()
            if left <= 0:
                break
            opened += 1
            try:
                c.open(sid, headers_of(total))
            except OSError:
                break
            n, gave_up = c.send(sid, body, wait=args.stall_wait,
                                limit=min(args.stream_timeout, left))
            sent_total += n
            slow += gave_up
            if n < len(body) and not gave_up and sid not in c.answered and sid not in c.reset:
                stalled += 1
            if c.closed or c.stalled:
                break
        time.sleep(1)
        held = w.peak
        out(f"  sent {sent_total / 2**20:.0f} MB in all; streams answered {len(c.answered)},"
            f" reset {len(c.reset)}, stalled by flow control {stalled};"
            f" connection {'closed' if c.closed else 'open'}"
            f"{f', the server stopped reading after {i + 1} streams' if c.stalled else ''}"
            f"{', GOAWAY' if c.goaway else ''}; RSS peak while held {held} MB")
        if slow or opened < streams:
            out(f"  bounded: {slow} streams given up after --stream-timeout"
                f" {args.stream_timeout:g} s; {streams - opened} streams not opened within"
                f" --case-timeout {args.case_timeout:g} s")
        if c.error:
            out(f"  the client's reader stopped: {c.error}")
        c.close()
    probe.report("meanwhile")
    rss_line(args, w, w.settle(args.settle))


def h2c(args):
    h2_bodies(
        args, "h2c bodies", args.port, args.h2_streams, args.h2_mb,
        lambda total: [(":method", "POST"), (":scheme", "http"),
                       (":path", "/v2/models/fraud_classifier/infer"), (":authority", "x"),
                       ("content-type", "application/json"), ("content-length", str(total))],
        lambda total: b"")


def grpc(args):
    if not args.grpc_port:
        return
    h2_bodies(
        args, "gRPC messages", args.grpc_port, args.grpc_calls, args.grpc_mb,
        lambda total: [(":method", "POST"), (":scheme", "http"),
                       (":path", "/inference.GRPCInferenceService/ModelInfer"),
                       (":authority", "x"), ("content-type", "application/grpc"),
                       ("te", "trailers")],
        lambda total: b"\x00" + struct.pack(">I", total))


# ---------------------------------------------------------------- HTTP/1.1 bodies

def http1(args):
    n, total = args.http1_conns, args.http1_mb * 1024 * 1024
    out(f"http1 bodies: {n} connections declaring {args.http1_mb} MB each, sending until"
        " answered or stalled")
    chunk = b" " * (1 << 20)
    counts = {"503": 0, "413": 0, "other answer": 0, "closed": 0, "stalled": 0}
    socks = []
    with RssWatch(args.pid) as w, Probe(args) as probe:
        def one(_):
            s = socket.create_connection((HOST, args.port), timeout=10)
            s.sendall(b"POST /v2/models/fraud_classifier/infer HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\n"
                      + f"Content-Length: {total}\r\n\r\n".encode())
            s.settimeout(args.stall_wait)
            sent = 0
            try:
                while sent < total - len(chunk):
                    r, _, _ = select.select([s], [], [], 0)
                    if r:
                        break
                    s.sendall(chunk)
                    sent += len(chunk)
                s.settimeout(2)
                data = s.recv(64)
                key = ("closed" if not data else data[9:12].decode()
                       if data[9:12] in (b"503", b"413") else "other answer")
            except socket.timeout:
                key = "stalled"
            except OSError:
                key = "closed"
            counts[key] += 1
            socks.append(s)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for i in range(0, n, 16):  # 16 at a time: the machine has few cores
            for t in threads[i:i + 16]:
                t.start()
            for t in threads[i:i + 16]:
                t.join()
        out(f"  answers: {counts}; RSS peak while held {w.peak} MB")
        for s in socks:
            s.close()
    probe.report("meanwhile")
    rss_line(args, w, w.settle(args.settle))


# ---------------------------------------------------------------- pipelining, metrics

def pipeline(args):
    n = args.pipeline
    count, how = 0, "all answered"
    with socket.create_connection((HOST, args.port), timeout=30) as s:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n" * n)
        data = b""
        try:
            while count < n:
                chunk = s.recv(65536)
                if not chunk:
                    how = "then the server closed"
                    break
                data += chunk
                count = data.count(b"HTTP/1.1 ")
        except OSError as e:
            how = f"then {type(e).__name__}"
    ok = data.count(b"HTTP/1.1 200")
    out(f"pipeline: {count} of {n} pipelined requests answered ({ok} with 200), {how}")
    if count < n:
        fail(f"pipeline: {n - count} requests unanswered")


def metrics(args):
    if not args.metrics_port:
        return
    lat = []
    with socket.create_connection((HOST, args.metrics_port), timeout=5) as stuck:
        stuck.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        for _ in range(5):
            t = time.monotonic()
            try:
                with socket.create_connection((HOST, args.metrics_port), timeout=30) as s:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while (chunk := s.recv(65536)):
                        data += chunk
                status = data.split(b" ", 2)[1].decode() if data else "closed"
            except OSError as e:
                status = type(e).__name__
            lat.append(((time.monotonic() - t) * 1000, status))
    ms = ", ".join(f"{m:.1f}" for m, _ in lat)
    out(f"metrics: 5 scrapes behind a partial request: {[s for _, s in lat]} in {ms} ms")
    if any(s != "200" for _, s in lat):
        fail("metrics: a scrape was not answered 200 behind a partial request")


CASES = {"timeouts": timeouts, "slowloris": slowloris, "h2": h2c, "grpc": grpc, "http1": http1,
         "pipeline": pipeline, "metrics": metrics}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=0)
    p.add_argument("--metrics-port", type=int, default=0)
    p.add_argument("--pid", type=int, default=0, help="server process, for its RSS")
    p.add_argument("--bound-mb", type=int, default=1024 + 300,
                   help="the stated RSS bound: buffered-bytes budget + 300 MB")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated, in this order")
    p.add_argument("--header-timeout", type=float, default=10)
    p.add_argument("--body-timeout", type=float, default=30)
    p.add_argument("--idle-timeout", type=float, default=60)
    p.add_argument("--grpc-handshake-timeout", type=float, default=10)
    p.add_argument("--slowloris", type=int, default=20000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=int, default=20, help="attack length, once all are open")
    p.add_argument("--attack-nice", type=int, default=0,
                   help="slowloris: the attack processes' nice value (a diagnostic: how much of a"
                        " normal request's time is the attacker's own CPU on the same cores; a"
                        " real attacker runs elsewhere)")
    p.add_argument("--warm-connections", type=int, default=0,
                   help="connections opened (one byte each) and closed before the first slowloris"
                        " round, to warm the server's connection path")
    p.add_argument("--slowloris-rounds", type=int, default=2,
                   help="the same attack this many times on one server; the first meets a fresh"
                        " JVM, the later a warm one; each is judged")
    p.add_argument("--baseline", type=float, default=5,
                   help="seconds of normal requests alone before the slowloris attack")
    p.add_argument("--probe-interval", type=float, default=0.05,
                   help="seconds between normal requests")
    p.add_argument("--kept-probe", action="store_true",
                   help="slowloris: a second probe, the same request every interval on one"
                        " keep-alive connection opened before the attack (never in the accept"
                        " queue); reported beside the judged one, not judged")
    p.add_argument("--h2-streams", type=int, default=100)
    p.add_argument("--h2-mb", type=int, default=20)
    p.add_argument("--grpc-calls", type=int, default=100)
    p.add_argument("--grpc-mb", type=int, default=15)
    p.add_argument("--http1-conns", type=int, default=110)
    p.add_argument("--http1-mb", type=int, default=60)
    p.add_argument("--stream-timeout", type=float, default=60.0,
                   help="h2c/gRPC: seconds one stream may take to send its body, however slowly the"
                        " server grants flow-control credit; then the next stream")
    p.add_argument("--case-timeout", type=float, default=300.0,
                   help="h2c/gRPC: seconds for the whole case; streams not opened by then are"
                        " reported, not waited for")
    p.add_argument("--stall-wait", type=float, default=2.0,
                   help="seconds without flow-control credit or progress that count as stalled")
    p.add_argument("--settle", type=float, default=25.0,
                   help="seconds to watch RSS fall after the clients left (serve trims the native"
                        " heap once nothing was answered for 10-20 s: --native-heap-trim-secs)")
    p.add_argument("--pipeline", type=int, default=300)
    args = p.parse_args()
    for name in args.cases.split(","):
        CASES[name.strip()](args)
        out()
    if FAILED:
        out(f"{len(FAILED)} number(s) missed:")
        for f in FAILED:
            out(f"  {f}")
        sys.exit(1)
    out("every number met")


if __name__ == "__main__":
    main()
