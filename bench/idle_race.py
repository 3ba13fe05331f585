# Usage: start a server with a short idle timeout, e.g. `fulcrum serve --http-port 26010 --http-idle-timeout-secs 1`,
# then `python3 bench/idle_race.py 26010 0.9,0.99,1.0,1.005 20` (port, idle gaps in seconds, rounds per gap).
# A pooled client (a load balancer) reuses a kept-alive connection after an idle gap near the
# server's idle timeout: count requests lost (no answer) when the server closes first.
import socket, sys, time, json
port = int(sys.argv[1]); gaps = [float(x) for x in sys.argv[2].split(',')]; rounds = int(sys.argv[3])
body = json.dumps({"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32", "data": [0.1]*8}]}).encode()
req = (b"POST /v2/models/fraud_classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
def exchange(s):
    s.sendall(req); buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d: return None
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(rest) < n:
        d = s.recv(65536)
        if not d: return None
        rest += d
    return head.split(b" ")[1]
for gap in gaps:
    lost = 0
    for i in range(rounds):
        s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5)
        assert exchange(s) == b"200"
        time.sleep(gap)
        try:
            r = exchange(s)
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            r = None
        if r != b"200": lost += 1
        s.close()
    print(f"gap {gap:.3f} s: {lost} of {rounds} reused-connection requests lost")
