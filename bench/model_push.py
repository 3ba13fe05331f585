"""Pushes the demo's MiniLM file N times over REST while hey sends fraud inference; samples the
server's RSS. Used by bench/model_push.sh; prints one JSON line of what it measured."""
import base64, http.client, json, sys, threading, time

port, pid, model_file, pushes, gap = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                      int(sys.argv[4]), float(sys.argv[5]))
onnx = open(model_file, "rb").read()
config = json.dumps({"platform": "onnxruntime_onnx", "max-batch-size": 16})


def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


peak = {"rss": rss_kib()}
start_rss = peak["rss"]
stop = threading.Event()


def sample():
    while not stop.is_set():
        peak["rss"] = max(peak["rss"], rss_kib())
        time.sleep(0.02)


threading.Thread(target=sample, daemon=True).start()
times, codes = [], []
b64 = base64.b64encode(onnx).decode()
for v in range(1, pushes + 1):
    body = json.dumps({"parameters": {"config": config, f"file:{v}/model.onnx": b64}}).encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.monotonic()
    c.request("POST", "/v2/repository/models/minilm_pushed/load", body,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    times.append(time.monotonic() - t0)
    codes.append(r.status)
    c.close()
    del body
    time.sleep(gap)
stop.set()
print(json.dumps({"body_mib": round(len(b64) / 2**20, 1), "codes": codes,
                  "push_s": [round(t, 2) for t in times], "rss_before_mib": start_rss // 1024,
                  "rss_peak_mib": peak["rss"] // 1024, "rss_end_mib": rss_kib() // 1024}))
