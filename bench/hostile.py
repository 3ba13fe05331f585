#!/usr/bin/env python3
"""Hostile-client probe against a running Fulcrum server (loopback only, bounded in count and time).

Reruns the cases of issue #14 item 3 and prints, for each, what the server did, its RSS (from
/proc, given --pid) and a normal request's latency meanwhile:
  slowloris   N connections sending a request head one byte per second
  bodies      M connections declaring a large body and sending part of it, then stalling
  pipeline    one connection with P pipelined GETs
  metrics     a partial request on the metrics port, then a scrape
Usage: bench/hostile.py --port 8000 [--metrics-port 8002] [--pid PID]
"""
import argparse, os, socket, sys, time

HOST = "127.0.0.1"


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


def normal_latency_ms(port, path="/v2/health/ready", timeout=30.0):
    t = time.monotonic()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status = data.split(b" ", 2)[1].decode() if data else "none"
    except OSError as e:
        status = type(e).__name__
    return (time.monotonic() - t) * 1000, status


def closed(s):
    try:
        s.setblocking(False)
        return s.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def report(label, args, extra=""):
    ms, status = normal_latency_ms(args.port)
    rss = rss_mb(args.pid)
    print(f"  {label:28} normal request {status} in {ms:7.1f} ms"
          + (f", RSS {rss} MB" if rss is not None else "") + (f", {extra}" if extra else ""))
    sys.stdout.flush()


def slowloris(args):
    print(f"slowloris: {args.slowloris} connections, one head byte per second, {args.seconds} s")
    socks = []
    for _ in range(args.slowloris):
        try:
            s = socket.create_connection((HOST, args.port), timeout=5)
            s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHo")
            socks.append(s)
        except OSError:
            break
    report("opened", args, f"{len(socks)} slow connections")
    start = time.monotonic()
    while time.monotonic() - start < args.seconds and socks:
        time.sleep(1)
        alive = []
        for s in socks:
            if closed(s):
                s.close()
                continue
            try:
                s.sendall(b"x")
                alive.append(s)
            except OSError:
                s.close()
        socks = alive
        report(f"t={time.monotonic() - start:4.0f} s", args, f"{len(socks)} still open")
    for s in socks:
        s.close()


def bodies(args):
    total = args.body_mb * 1024 * 1024
    sent_each = total // 2
    print(f"bodies: {args.bodies} connections declaring {args.body_mb} MB, sending half, stalling")
    report("before", args)
    socks, refused = [], 0
    chunk = b" " * 65536
    for _ in range(args.bodies):
        try:
            s = socket.create_connection((HOST, args.port), timeout=10)
            s.sendall(f"POST /v2/models/x/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {total}"
                      "\r\n\r\n".encode())
            sent = 0
            while sent < sent_each:
                s.sendall(chunk)
                sent += len(chunk)
            socks.append(s)
        except OSError:
            refused += 1
    time.sleep(1)
    answered = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(65536).startswith(b"HTTP/1.1 503"):
                answered += 1
        except (BlockingIOError, OSError):
            pass
    report("while held", args, f"{answered} answered 503, {refused} cut off while sending")
    for s in socks:
        s.close()
    time.sleep(2)
    report("after the clients left", args)


def pipeline(args):
    n = args.pipeline
    with socket.create_connection((HOST, args.port), timeout=30) as s:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n" * n)
        data, count = b"", 0
        try:
            while count < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                count = data.count(b"HTTP/1.1 200")
        except OSError as e:
            print(f"  pipeline error: {e}")
    print(f"pipeline: {count} of {n} pipelined requests answered")


def metrics(args):
    if not args.metrics_port:
        return
    with socket.create_connection((HOST, args.metrics_port), timeout=5) as stuck:
        stuck.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        ms, status = normal_latency_ms(args.metrics_port, "/metrics")
        print(f"metrics: a scrape behind a partial request: {status} in {ms:.1f} ms")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--metrics-port", type=int, default=0)
    p.add_argument("--pid", type=int, default=0, help="server process, for its RSS")
    p.add_argument("--slowloris", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--bodies", type=int, default=24)
    p.add_argument("--body-mb", type=int, default=60)
    p.add_argument("--pipeline", type=int, default=300)
    args = p.parse_args()
    slowloris(args)
    bodies(args)
    pipeline(args)
    metrics(args)


if __name__ == "__main__":
    main()
