#!/usr/bin/env python3
"""Serves the unseen models (bench/make_unseen_models.sh) the way a new user would and checks them.

For each config mode (none: the .onnx file alone; minimal: a config.yaml of `platform:` only;
batch16: `max-batch-size: 16` on the models with a batch dimension) it starts Fulcrum on a
repository of those models and the Java peer (bench/peers/java: ONNX Runtime called directly), then
per model: metadata and config endpoints, REST JSON (1 row and 8 rows) and REST binary compared
with the peer's outputs, and bad inputs (wrong datatype, wrong shape, missing input, an id out of
the embedding table) that must be 4xx. Prints one line per check; exit 1 if any failed.
  python3 bench/unseen_check.py [--port 25000] [--modes none,minimal,batch16] [--launcher ./fulcrum]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unseen_bodies  # noqa: E402

MODELS = ("cnn_image", "mixed_tabular", "fixed_window")
failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail else ""), flush=True)
    if not ok:
        failures.append(what)


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def infer_json(base, model, body):
    return http("POST", f"{base}/v2/models/{model}/infer", json.dumps(body).encode(),
                {"Content-Type": "application/json"})


def outputs(raw):
    return {o["name"]: o for o in json.loads(raw)["outputs"]}


def flat(x):
    if isinstance(x, list):
        for v in x:
            yield from flat(v)
    else:
        yield x


def compare(what, got, want):
    for name, w in want.items():
        g = got.get(name)
        if g is None:
            check(False, what, f"no output {name}")
            continue
        gd, wd = list(flat(g["data"])), list(flat(w["data"]))
        diff = max((abs(a - b) for a, b in zip(gd, wd)), default=0)
        check(g["shape"] == w["shape"] and g["datatype"] == w["datatype"] and len(gd) == len(wd)
              and diff <= 1e-5, f"{what} {name}",
              f"shape {g['shape']} {g['datatype']} vs peer {w['shape']} {w['datatype']}, max |diff| {diff:.2e}")


def wait_ready(base, secs=240):
    end = time.time() + secs
    while time.time() < end:
        try:
            if http("GET", f"{base}/v2/health/ready")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def start(cmd, log):
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(p.pid, signal.SIGKILL)


def write_repo(src, dst, mode):
    for m in MODELS:
        os.makedirs(f"{dst}/{m}", exist_ok=True)
        link = f"{dst}/{m}/1"
        if not os.path.exists(link):
            os.symlink(os.path.abspath(f"{src}/{m}/1"), link)
        cfg = None
        if mode == "minimal":
            cfg = "platform: onnxruntime_onnx\n"
        elif mode == "batch16" and m != "fixed_window":
            cfg = "max-batch-size: 16\n"
        if cfg:
            open(f"{dst}/{m}/config.yaml", "w").write(cfg)


def run_mode(a, mode, tmp, java, cp):
    repo = f"{tmp}/{mode}/repo"
    write_repo(a.models, repo, mode)
    fport, pport = a.port, a.port + 10
    base, peer_base = f"http://127.0.0.1:{fport}", f"http://127.0.0.1:{pport}"
    f = start([a.launcher, "serve", "--model-repository", repo, "--http-port", str(fport),
               "--grpc-port", str(fport + 1), "--metrics-port", str(fport + 2)], f"{tmp}/{mode}/fulcrum.log")
    p = start([java, "--enable-native-access=ALL-UNNAMED", "-cp", cp, "Peer", "--port", str(pport),
               "--models", repo], f"{tmp}/{mode}/peer.log")
    try:
        check(wait_ready(base) and wait_ready(peer_base), f"[{mode}] both servers ready")
        for m in MODELS:
            tag = f"[{mode}] {m}"
            st, meta = http("GET", f"{base}/v2/models/{m}")
            check(st == 200, f"{tag} metadata 200", meta.decode()[:300])
            st, cfg = http("GET", f"{base}/v2/models/{m}/config")
            check(st == 200, f"{tag} config 200")
            c = json.loads(cfg) if st == 200 else {}
            batch = c.get("max_batch_size")
            want_batch = 0 if m == "fixed_window" else (16 if mode == "batch16" else 32)
            check(batch == want_batch, f"{tag} max_batch_size {batch}", f"want {want_batch}")
            print(f"     config: max_batch_size={batch} dynamic_batching={json.dumps(c.get('dynamic_batching'))} "
                  f"instance_group={json.dumps(c.get('instance_group'))} parameters={json.dumps(c.get('parameters'))} "
                  f"inputs={[(i['name'], i['data_type'], i['dims']) for i in c.get('input', [])]} "
                  f"outputs={[(o['name'], o['data_type'], o['dims']) for o in c.get('output', [])]}")
            for rows in ((1, 8) if m != "fixed_window" else (1,)):
                body = {"inputs": [{"name": n, "shape": s, "datatype": t, "data": d}
                                   for n, t, s, d in unseen_bodies.tensors(m, rows, __import__("random").Random(rows))]}
                st, got = infer_json(base, m, body)
                pst, want = infer_json(peer_base, m, body)
                check(st == 200 and pst == 200, f"{tag} REST JSON {rows} row(s) 200", f"{st} {got[:200]!r} / peer {pst}")
                if st == 200 and pst == 200:
                    compare(f"{tag} REST JSON {rows} row(s) vs ORT", outputs(got), outputs(want))
            # REST binary in, JSON out
            binbody = open(f"{a.bodies}/{m}.bin", "rb").read()
            hcl = open(f"{a.bodies}/{m}.hcl").read()
            st, got = http("POST", f"{base}/v2/models/{m}/infer", binbody,
                           {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": hcl})
            pst, want = infer_json(peer_base, m, json.load(open(f"{a.bodies}/{m}.json")))
            check(st == 200, f"{tag} REST binary 200", got[:200])
            if st == 200 and pst == 200:
                compare(f"{tag} REST binary vs ORT", outputs(got), outputs(want))
            # bad inputs
            good = json.load(open(f"{a.bodies}/{m}.json"))
            bad = {}
            b = json.loads(json.dumps(good)); b["inputs"][0]["datatype"] = "INT32" if b["inputs"][0]["datatype"] != "INT32" else "FP32"
            bad["wrong datatype"] = b
            b = json.loads(json.dumps(good)); s = b["inputs"][0]["shape"]; s[-1] += 1
            b["inputs"][0]["data"] = b["inputs"][0]["data"] + [0] * (len(b["inputs"][0]["data"]) // max(1, s[-1] - 1))
            bad["wrong shape"] = b
            if len(good["inputs"]) > 1:
                b = json.loads(json.dumps(good)); b["inputs"].pop()
                bad["missing input"] = b
            if m == "mixed_tabular":
                b = json.loads(json.dumps(good)); b["inputs"][0]["data"][0] = 5000
                bad["id out of the embedding table"] = b
                b = json.loads(json.dumps(good)); b["inputs"][0]["data"][0] = -7
                bad["negative id"] = b
            b = json.loads(json.dumps(good)); b["inputs"][0]["data"] = b["inputs"][0]["data"][:-1]
            bad["too few values"] = b
            for what, body in bad.items():
                st, got = infer_json(base, m, body)
                check(400 <= st < 500, f"{tag} {what} -> {st}", got.decode()[:220])
        # metadata of the whole server: the three models listed ready
        st, idx = http("POST", f"{base}/v2/repository/index", b"{}", {"Content-Type": "application/json"})
        print(f"     repository index: {st} {idx.decode()[:300]}")
    finally:
        stop(f)
        stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=25000)
    ap.add_argument("--modes", default="none,minimal,batch16")
    ap.add_argument("--launcher", default="./fulcrum")
    ap.add_argument("--models", default="bench/models/unseen")
    a = ap.parse_args()
    java = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java")
    classes = "bench/peers/java/target/classes"
    dist = "fulcrum-tools/target/dist/lib/*"
    os.makedirs(classes, exist_ok=True)
    subprocess.run([java.replace("/java", "/javac"), "-d", classes, "-cp", dist, "bench/peers/java/Peer.java"], check=True)
    tmp = tempfile.mkdtemp(prefix="unseen-check-")
    a.bodies = f"{tmp}/bodies"
    sys.argv = ["unseen_bodies", a.bodies]
    unseen_bodies.main()
    for mode in a.modes.split(","):
        run_mode(a, mode, tmp, java, f"{classes}:{dist}")
    print(f"{len(failures)} failed; logs in {tmp}")
    for f in failures:
        print("  FAIL " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
