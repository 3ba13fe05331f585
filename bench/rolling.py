#!/usr/bin/env python3
"""A rolling update's view from the client side, as a load balancer in front of two servers sees
it: CLIENTS threads send fraud_classifier requests at RATE a second in all, round robin over the
servers in the balancer's list, each thread on its own kept-alive connection per server; a poller
takes a server out of the list when its /v2/health/ready stops answering 200, LAG seconds after it
sees that (how late an endpoint's removal reaches kube-proxy or an ingress), and never puts it back.
At KILL_AT seconds the first server's process gets SIGTERM. Every request's outcome is counted:
200, another HTTP status, or a transport error (refused, reset). Prints one JSON line.

usage: rolling.py PID PORT_A PORT_B BODY_FILE  (env: RATE, CLIENTS, DURATION, KILL_AT, LAG, POLL)
"""
import http.client
import json
import os
import signal
import sys
import threading
import time

pid, port_a, port_b, body_file = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
RATE = float(os.environ.get("RATE", "200"))
CLIENTS = int(os.environ.get("CLIENTS", "8"))
DURATION = float(os.environ.get("DURATION", "15"))
KILL_AT = float(os.environ.get("KILL_AT", "3"))
LAG = float(os.environ.get("LAG", "2"))
POLL = float(os.environ.get("POLL", "0.5"))
BODY = open(body_file, "rb").read()
PATH = "/v2/models/fraud_classifier/infer"

servers = [port_a, port_b]  # the balancer's list, replaced whole (readers take a reference)
lock = threading.Lock()
counts = {}  # (port, outcome) -> n
start = time.monotonic()
removed_at = {}


def count(port, outcome):
    with lock:
        counts[(port, outcome)] = counts.get((port, outcome), 0) + 1


def poller():
    global servers
    unready_since = {}
    while time.monotonic() - start < DURATION:
        for port in list(servers):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/v2/health/ready")
                ready = c.getresponse().status == 200
                c.close()
            except OSError:
                ready = False
            now = time.monotonic()
            if ready:
                unready_since.pop(port, None)
            else:
                unready_since.setdefault(port, now)
                if now - unready_since[port] >= LAG and port in servers:
                    servers = [p for p in servers if p != port]
                    removed_at[port] = round(now - start, 2)
        time.sleep(POLL)


def client(i):
    conns = {}
    interval = CLIENTS / RATE
    n = 0
    next_send = start + i * interval / CLIENTS
    while True:
        now = time.monotonic()
        if now - start >= DURATION:
            break
        if now < next_send:
            time.sleep(next_send - now)
        next_send += interval
        pool = servers
        if not pool:
            count(0, "no server")
            continue
        port = pool[(n + i) % len(pool)]
        n += 1
        c = conns.get(port)
        if c is None:
            c = conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request("POST", PATH, BODY, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            count(port, str(r.status))
            if r.getheader("connection", "").lower() == "close":
                c.close()
                conns.pop(port, None)
        except (OSError, http.client.HTTPException) as e:
            count(port, type(e).__name__)
            c.close()
            conns.pop(port, None)


def killer():
    time.sleep(max(0.0, KILL_AT - (time.monotonic() - start)))
    os.kill(pid, signal.SIGTERM)


threads = [threading.Thread(target=poller), threading.Thread(target=killer)]
threads += [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
total = sum(counts.values())
ok = sum(n for (_, o), n in counts.items() if o == "200")
print(json.dumps({
    "requests": total,
    "ok": ok,
    "failed": total - ok,
    "outcomes": {f"{p}:{o}": n for (p, o), n in sorted(counts.items())},
    "removed_at_s": {str(p): t for p, t in removed_at.items()},
    "kill_at_s": KILL_AT,
    "lag_s": LAG,
}))
