#!/usr/bin/env python3
"""Where one cold start's time went, from the scheduler's view (bench/coldstart_sched.sh runs it).

Reads `perf sched timehist -w --state` of a system-wide `perf sched record -k CLOCK_MONOTONIC`
around one probed start, and the probe's JSON line (t0_monotonic: the spawn; pid; the first
answers' seconds), and prints for the window [spawn, first fraud answer]:
  - core time: the server's threads running, other processes running, idle (2 cores x window);
  - per server thread: running, runnable but not running (waiting for a core), sleeping;
  - a timeline in buckets: cores used by the server / others / idle, and its busiest threads;
  - the wake-up chain back from the first answer: the thread that ran last before the answer,
    what woke it, what woke that, ... (running and runnable time on the chain; a sleep on the
    chain is a wait for the waker).

  coldstart_sched.py TIMEHIST_FILE PROBE_JSON_FILE [--bucket-ms 50] [--answer fraud_classifier]
"""
import argparse
import collections
import json
import re

LINE = re.compile(r"^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(.+?)\[(\d+)(?:/(\d+))?\]\s+(.*)$")
WAKE = re.compile(r"awakened:\s+(.+?)\[(\d+)(?:/(\d+))?\]")


def parse(path):
    """(switch-outs, wakeups, names): switch-outs as (end, cpu, tid, pid, sleep, delay, run, state)."""
    outs, wakes, names = [], [], {}
    for raw in open(path, errors="replace"):
        m = LINE.match(raw)
        if not m:
            continue
        t, cpu, name, tid, pid, rest = m.groups()
        t, tid = float(t), int(tid)
        pid = int(pid) if pid else tid
        names[tid] = (name.strip(), pid)
        w = WAKE.search(rest)
        if w:
            wakes.append((t, tid, int(w.group(2))))  # (time, waker tid, wakee tid)
            continue
        f = rest.split()
        if len(f) >= 3:
            try:
                sleep, delay, run = (float(x) / 1000 for x in f[:3])
            except ValueError:
                continue
            outs.append((t, int(cpu), tid, pid, sleep, delay, run, f[3] if len(f) > 3 else ""))
    return outs, wakes, names


def clip(a, b, lo, hi):
    return max(0.0, min(b, hi) - max(a, lo))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("timehist")
    p.add_argument("probe")
    p.add_argument("--bucket-ms", type=float, default=50)
    p.add_argument("--answer", default="fraud_classifier")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--chain-from", default=r"^fulcrum-http-\d|^node$",
                   help="regex of the thread name the wake-up chain starts from (its last run before "
                        "the answer: the thread that wrote the answer)")
    a = p.parse_args()
    probe = json.loads(open(a.probe).read().strip().splitlines()[-1])
    t0, pid = probe["t0_monotonic"], probe["pid"]
    t1 = t0 + probe[a.answer]
    outs, wakes, names = parse(a.timehist)
    win = t1 - t0
    print(f"window: spawn -> first {a.answer} answer = {win:.3f} s (pid {pid})")

    run_by = collections.Counter()
    delay_by = collections.Counter()
    sleep_by = collections.Counter()
    others = 0.0
    nb = int(win * 1000 / a.bucket_ms) + 1
    bw = a.bucket_ms / 1000
    b_server = [0.0] * nb
    b_other = [0.0] * nb
    b_threads = [collections.Counter() for _ in range(nb)]
    for end, cpu, tid, tpid, sleep, delay, run, _ in outs:
        rs, re_ = end - run, end
        is_idle = names[tid][0].startswith("swapper") or tid == 0
        if is_idle:
            continue
        c = clip(rs, re_, t0, t1)
        if tpid == pid:
            run_by[tid] += c
            delay_by[tid] += clip(rs - delay, rs, t0, t1)
            sleep_by[tid] += clip(rs - delay - sleep, rs - delay, t0, t1)
        else:
            others += c
        for i in range(nb):
            lo, hi = t0 + i * bw, min(t0 + (i + 1) * bw, t1)
            x = clip(rs, re_, lo, hi)
            if x <= 0:
                continue
            if tpid == pid:
                b_server[i] += x
                b_threads[i][names[tid][0]] += x
            else:
                b_other[i] += x
    server = sum(run_by.values())
    idle = a.cores * win - server - others
    print(f"core time in the window ({a.cores} cores x {win:.3f} s = {a.cores * win:.3f} s): "
          f"server {server:.3f} s, other processes {others:.3f} s, idle {idle:.3f} s")
    by_name = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for tid in set(run_by) | set(delay_by):
        n = re.sub(r"(?<=[-\s])[0-9]+|[0-9]+$", "#", names[tid][0])
        v = by_name[n]
        v[0] += run_by[tid]
        v[1] += delay_by[tid]
        v[2] += sleep_by[tid]
        v[3] += 1
    print(f"{'server thread (threads)':32} {'running':>8} {'runnable':>9} {'sleeping':>9}")
    for n, (r, d, s, k) in sorted(by_name.items(), key=lambda kv: -kv[1][0]):
        if r + d >= 0.001:
            print(f"{n + f' ({k})':32} {r:8.3f} {d:9.3f} {s:9.3f}")
    print(f"timeline, {a.bucket_ms:.0f} ms buckets: cores used by the server / others / idle; busiest server threads")
    for i in range(nb):
        lo = i * bw
        span = min(bw, win - lo)
        top = ", ".join(f"{n} {v * 1000:.0f}" for n, v in b_threads[i].most_common(4) if v >= 0.001)
        print(f"  {lo:6.3f} {b_server[i] / span:5.2f} {b_other[i] / span:5.2f} "
              f"{max(0.0, a.cores - (b_server[i] + b_other[i]) / span):5.2f}  {top}")

    # The wake-up chain back from the answer.
    per_tid = collections.defaultdict(list)
    for o in outs:
        per_tid[o[2]].append(o)
    wakes_of = collections.defaultdict(list)
    for t, waker, wakee in wakes:
        wakes_of[wakee].append((t, waker))
    start_re = re.compile(a.chain_from)
    last = max((o for o in outs if o[3] == pid and o[0] - o[6] < t1 and start_re.search(names[o[2]][0])),
               key=lambda o: min(o[0], t1), default=None)
    print("wake-up chain back from the answer (thread: running / runnable on the chain, then what woke it)")
    tid, t = (last[2], min(last[0], t1)) if last else (None, t1)
    steps = 0
    on_run = collections.Counter()
    on_delay = collections.Counter()
    while tid is not None and t > t0 and steps < 60:
        steps += 1
        # the thread's activity back to its latest wake-up before t
        w = [x for x in wakes_of[tid] if x[0] <= t]
        wt, waker = max(w) if w else (t0, None)
        r = d = 0.0
        for end, cpu, ttid, tpid, sleep, delay, run, _ in per_tid[tid]:
            rs = end - run
            r += clip(rs, end, wt, t)
            d += clip(rs - delay, rs, wt, t)
        nm = names[tid][0]
        on_run[nm] += r
        on_delay[nm] += d
        wn = names.get(waker, ("?", 0)) if waker is not None else ("(start)", 0)
        print(f"  {wt - t0:7.4f}-{t - t0:7.4f} {nm}[{tid}]: running {r * 1000:6.1f} ms, runnable "
              f"{d * 1000:6.1f} ms; woken by {wn[0]}[{waker}]{'' if wn[1] == pid else ' (outside the server)'}")
        if waker is None or wn[1] != pid:
            break
        tid, t = waker, wt
    print("on the chain: " + ", ".join(f"{n} run {on_run[n] * 1000:.0f} ms / runnable {on_delay[n] * 1000:.0f} ms"
                                      for n in on_run))


if __name__ == "__main__":
    main()
