#!/usr/bin/env python3
"""The load step of bench/slo.sh runs, read per run and per arm (session 19, issue #10).

    python3 bench/slo_step.py [--warmup 10 --duration 30 --low 8 --high 20] bench/results/<run>-slo ...

For each run, medians over the step's 1 s windows from 2 s after it: admitted/s, admitted p99, the
refusals' p99 at arrival from the intended send (the issue's figure), from the client's write, and
the server's share (write to the 429 in the client's kernel), windows with the server's share under
5 ms, the client's late sends a second, and from the trace (minilm-slo-trace.jsonl, the step's last
HIGH-2 samples) the REST event loops' run-queue wait and the compute threads' CPU (engine threads
and ONNX Runtime's pool), ms a second. Runs are labelled by their switches.txt (SERVER_JAVA_OPTS,
SLO_EXTRA, MINILM_BINARY, RENICE) and medians printed per label.
"""
import argparse
import json
import statistics


def med(v):
    return statistics.median(v) if v else float("nan")


def switches(d):
    try:
        kv = [l.split("=", 1) for l in open(f"{d}/switches.txt").read().splitlines() if "=" in l]
    except OSError:
        return "?"
    return " ".join(f"{k}={v}" for k, v in kv if v and v != "0") or "(none)"


def run(d, a):
    w = json.load(open(f"{d}/minilm-slo-run.json"))["windows"]
    after = [x for x in w if x["second"] >= a.warmup + a.duration + a.low + 2]

    def f(k):
        return med([x[k] for x in after if x.get(k, -1) >= 0])

    srv = [x["arrival_refused_p99_server_ms"] for x in after if x.get("arrival_refused_p99_server_ms", -1) >= 0]
    tr = [json.loads(l) for l in open(f"{d}/minilm-slo-trace.jsonl") if l.strip()]
    tr = [t for t in tr if isinstance(t.get("threads"), dict)][-(a.high - 1):]

    def g(t, pre, i):
        return sum(v[i] for k, v in t["threads"].items() if k.startswith(pre))

    wait, cpu = [], []
    for p, q in zip(tr, tr[1:]):
        dt = float(q["t"]) - float(p["t"])
        wait.append((g(q, "fulcrum-http-", 1) - g(p, "fulcrum-http-", 1)) / 1e6 / dt)
        cpu.append(sum(g(q, k, 0) - g(p, k, 0) for k in ("fulcrum-exec", "fulcrum-load")) / 1e6 / dt)
    load = [float(t["load"]) for t in tr] or [float("nan")]
    return dict(load=f"{min(load):.1f}-{max(load):.1f}", ok=f("ok"), okp99=f("ok_p99_ms"),
                intended=f("arrival_refused_p99_ms"), write=f("arrival_refused_p99_from_send_ms"),
                server=f("arrival_refused_p99_server_ms"), under5=f"{sum(v < 5 for v in srv)}/{len(srv)}",
                late=f("late_sends"), wait=med(wait), cpu=med(cpu))


COLS = ("ok", "okp99", "intended", "write", "server", "late", "wait", "cpu")
HEAD = ("admitted/s", "admitted p99", "from intended", "from write", "server", "late/s", "loops' wait", "compute CPU")


def main():
    ap = argparse.ArgumentParser()
    for k, v in (("warmup", 10), ("duration", 30), ("low", 8), ("high", 20)):
        ap.add_argument(f"--{k}", type=int, default=v)
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    arms = {}
    print("| run | switches | load | " + " | ".join(HEAD[:5]) + " | server < 5 ms | " + " | ".join(HEAD[5:]) + " |")
    print("|---" * 13 + "|")
    for d in a.runs:
        d = d.rstrip("/")
        try:
            r = run(d, a)
        except (OSError, ValueError, KeyError) as e:
            print(f"| {d} | unreadable: {e} |")
            continue
        s = switches(d)
        arms.setdefault(s, []).append(r)
        v = [f"{r[k]:.0f}" if k in ("ok", "late", "wait", "cpu") else f"{r[k]:.2f}" for k in COLS]
        print(f"| `{d.split('/')[-1]}` | {s} | {r['load']} | " + " | ".join(v[:5]) + f" | {r['under5']} | " + " | ".join(v[5:]) + " |")
    print("\nmedians per arm:\n")
    print("| switches | runs | " + " | ".join(HEAD) + " |")
    print("|---" * 10 + "|")
    for s, rs in arms.items():
        v = [med([r[k] for r in rs]) for k in COLS]
        print(f"| {s} | {len(rs)} | " + " | ".join(f"{x:.0f}" if k in ("ok", "late", "wait", "cpu") else f"{x:.2f}"
                                                 for k, x in zip(COLS, v)) + " |")


if __name__ == "__main__":
    main()
