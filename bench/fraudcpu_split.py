"""Splits bench/fraudcpu.sh's measurements of one warm server (issue 12).

Usage: python3 bench/fraudcpu_split.py OUT OK_PROC OK_SYSCALLS OK_PERF
OUT holds proc-before.json, proc-after.json, proc-syscalls.json, syscalls.csv and perf.script;
the OK_* are the requests completed in each window. Prints, per completed request: CPU and
context switches by thread group (/proc), system calls by call and by thread group (perf stat),
and the perf samples converted to µs by thread group, by the leaf's kind (kernel, libjvm, Java,
ONNX Runtime...), by the system call the kernel was in, and by component (the innermost frame of
the stack that names one).
"""

import collections
import json
import os
import re
import sys

out = sys.argv[1]
ok = [max(1, int(x)) if x and x.isdigit() else 1 for x in sys.argv[2:5]]
TCK = os.sysconf("SC_CLK_TCK")


def group(name):
    """A thread's group: the kernel keeps 15 characters of its name."""
    n = re.sub(r"[-_#]?\d+(-\d+)?$", "", name)
    for prefix, g in (
        ("fulcrum-http-ac", "fulcrum-http-accept"),
        ("fulcrum-http", "fulcrum-http-* (event loops)"),
        ("fulcrum-exec", "fulcrum-exec-* (engine)"),
        ("fulcrum-grpc", "fulcrum-grpc-*"),
        ("fulcrum-load", "fulcrum-load-* (ORT pools)"),
        ("C1 Compiler", "JIT compilers"),
        ("C2 Compiler", "JIT compilers"),
        ("GC Thread", "GC"),
        ("G1 ", "GC"),
        ("VM Thread", "VM thread"),
    ):
        if n.startswith(prefix):
            return g
    return n if n.startswith("fulcrum-") else "other JVM (" + n + ")"


def proc_table():
    b = json.load(open(f"{out}/proc-before.json"))
    a = json.load(open(f"{out}/proc-after.json"))
    n = ok[0]
    rows = collections.defaultdict(lambda: [0, 0, 0])
    for tid, (name, vol, inv, t) in a["threads"].items():
        _, vol0, inv0, t0 = b["threads"].get(tid, [name, 0, 0, 0])
        r = rows[group(name)]
        r[0] += (t - t0) / TCK * 1e6 / n
        r[1] += (vol - vol0) / n
        r[2] += (inv - inv0) / n
    total = (a["cpu"] - b["cpu"]) / TCK * 1e6 / n
    print(f"== /proc, {n} requests: server CPU {total:.1f} us per request")
    print(f"{'thread group':36} {'CPU us':>8} {'vol sw':>7} {'invol sw':>8}  (per request)")
    for g, (c, v, i) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
        if c >= 0.05 or v >= 0.005 or i >= 0.005:
            print(f"{g:36} {c:8.1f} {v:7.3f} {i:8.3f}")


def syscall_table():
    path = f"{out}/syscalls.csv"
    if not os.path.exists(path):
        return
    names = {tid: v[0] for tid, v in json.load(open(f"{out}/proc-syscalls.json"))["threads"].items()}
    n = ok[1]
    by_call = collections.Counter()
    by_group = collections.defaultdict(collections.Counter)
    for line in open(path):
        parts = line.strip().split(",")  # comm-tid,count,unit,event,...
        if len(parts) < 4 or not parts[1].replace(".", "").isdigit():
            continue
        thread, count = parts[0], float(parts[1])
        if count == 0:
            continue
        m = re.search(r"sys_enter_(\w+)", parts[3])
        call = m.group(1) if m else "ALL" if "raw_syscalls" in parts[3] else None
        if call is None:
            continue
        tid = thread.rsplit("-", 1)[-1]
        g = group(names.get(tid, thread.rsplit("-", 1)[0]))
        by_call[call] += count
        by_group[g][call] += count
    total = by_call.pop("ALL", 0)
    by_call["(others)"] = total - sum(by_call.values())
    print(f"\n== system calls, {n} requests: {total / n:.2f} per request")
    for call, c in by_call.most_common(15):
        print(f"  {call:24} {c / n:7.3f}")
    print("  by thread group:")
    for g, calls in sorted(by_group.items(), key=lambda kv: -kv[1]["ALL"]):
        s = calls.pop("ALL", 0)
        if s / n >= 0.005:
            top = ", ".join(f"{k} {v / n:.2f}" for k, v in calls.most_common(5))
            print(f"  {g:36} {s / n:7.3f}  ({top})")


# Components, matched against each frame from the leaf to the root: the first that matches wins.
COMPONENTS = [
    ("ONNX Runtime (native)", re.compile(r"libonnxruntime")),
    ("ORT Java binding", re.compile(r"ai[./]onnxruntime")),
    ("decode (JSON -> tensors)", re.compile(r"InferRequestDecoder|JsonTensorReader")),
    ("encode (response JSON)", re.compile(r"InferResponseEncoder|TensorJson")),
    ("stats + metrics", re.compile(
        r"ServerMetrics|ModelStatistics|VersionTrack|SloAccounting|ComputeLedger|prometheus"
        r"|HdrHistogram|SchedulerObserver")),
    ("monitoring (drift)", re.compile(r"DriftMonitor|ModelMonitor|fulcrum[./]monitoring")),
    ("engine (runtime-onnx)", re.compile(r"fulcrum[./]runtime")),
    ("core scheduler + service", re.compile(
        r"ModelScheduler|RequestQueue|BatchAssembler|BatchingPolicy|InferenceService"
        r"|RequestValidator|PassTimeModel|fulcrum[./]core")),
    ("futures", re.compile(r"CompletableFuture")),
    ("dispatch + handlers", re.compile(r"HttpDispatcher|InferHandler|fulcrum[./]server[./]http")),
    ("Netty HTTP codec", re.compile(r"netty[./]handler[./]codec")),
    ("Netty buffers", re.compile(r"netty[./]buffer|netty[./]util[./]Recycler")),
    ("Netty epoll + channel", re.compile(r"netty[./]channel")),
    ("Netty other", re.compile(r"io[./]netty")),
    ("Jackson", re.compile(r"jackson")),
]


def perf_tables():
    path = f"{out}/perf.script"
    if not os.path.exists(path):
        return
    n = ok[2]
    per = 1e6 / float(os.environ.get("FREQ", "999"))  # µs of CPU per sample
    samples = []
    comm, stack = None, []
    for line in open(path, errors="replace"):
        if not line.strip():
            if comm is not None:
                samples.append((comm, stack))
            comm, stack = None, []
            continue
        if not line.startswith((" ", "\t")):
            comm = line.split()[0] if line.split() else "?"
            m = re.match(r"^(.*?)\s+(\d+)\s*$", line.rstrip())
            if m:
                comm = m.group(1).strip()
            continue
        parts = line.strip().split(None, 1)
        rest = parts[1] if len(parts) > 1 else ""
        m = re.match(r"^(.*)\s+\((.*)\)$", rest)
        sym, dso = (m.group(1), m.group(2)) if m else (rest, "")
        stack.append((sym, dso))
    if comm is not None:
        samples.append((comm, stack))
    total = len(samples)
    print(f"\n== perf record, {n} requests, {total} samples ({total * per / n:.1f} us per request)")
    by_group = collections.Counter(group(c) for c, _ in samples)
    print("  by thread group (us per request):")
    for g, c in by_group.most_common(14):
        print(f"  {g:36} {c * per / n:7.1f}")

    def leaf_kind(stack):
        if not stack:
            return "?"
        sym, dso = stack[0]
        if "kernel" in dso or dso.startswith("[k"):
            return "kernel"
        if "libjvm" in dso:
            return "libjvm"
        if "onnxruntime" in dso:
            return "ONNX Runtime"
        if "perf-" in dso or "[JIT]" in dso:
            return "interpreter" if "Interpreter" in sym else "Java (JIT code)"
        if "libc" in dso:
            return "libc"
        return os.path.basename(dso) or "?"

    def syscall(stack):
        syms = [sym for sym, _ in stack]
        if any(re.search(r"__schedule", x) for x in syms):
            # The thread's own switch in or out (in a VM, also the wake-up's cost).
            for x in syms:
                m = re.search(r"__x64_sys_(\w+)", x)
                if m:
                    return "context switch, in " + m.group(1)
            return "context switch, preempted"
        for sym, _ in stack:
            m = re.search(r"(?:__x64_sys_|__do_sys_|__se_sys_|ksys_)(\w+)", sym)
            if m:
                return m.group(1)
        for sym, _ in stack:
            if re.search(r"irq|softirq|apic|do_idle|schedule|page_fault|exc_", sym):
                return "not a syscall: " + sym
        return "not a syscall: " + (stack[0][0] if stack else "?")

    def component(stack):
        for sym, dso in stack:
            for name, rx in COMPONENTS:
                if rx.search(sym) or (name.startswith("ONNX") and rx.search(dso)):
                    return name
        return "other"

    for g in ("fulcrum-http-* (event loops)", "fulcrum-exec-* (engine)"):
        mine = [s for c, s in samples if group(c) == g]
        if not mine:
            continue
        print(f"\n  {g}: {len(mine) * per / n:.1f} us per request")
        kinds = collections.Counter(leaf_kind(s) for s in mine)
        print("    leaf: " + ", ".join(f"{k} {v * per / n:.1f}" for k, v in kinds.most_common()))
        kern = collections.Counter(syscall(s) for s in mine if leaf_kind(s) == "kernel")
        print("    kernel by system call (us per request):")
        for k, v in kern.most_common(10):
            print(f"      {k:48} {v * per / n:6.1f}")
        comps = collections.Counter(component(s) for s in mine if leaf_kind(s) != "kernel")
        print("    user space by component (innermost named frame; us per request):")
        for k, v in comps.most_common(16):
            print(f"      {k:48} {v * per / n:6.1f}")
        tops = collections.Counter(s[0][0] for s in mine if s and leaf_kind(s) != "kernel")
        print("    top user-space leaves:")
        for k, v in tops.most_common(15):
            print(f"      {k[:90]:90} {v * per / n:5.1f}")


proc_table()
syscall_table()
perf_tables()
