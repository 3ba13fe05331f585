#!/usr/bin/env python3
"""Gives threads of running Java processes a custom EEVDF time slice, from outside (issue #10).

Linux 6.12+ lets a SCHED_OTHER thread ask for a shorter (or longer) slice than the default
(`sched_setattr` with `sched_runtime`, 0.1-100 ms); a woken thread with a shorter slice may preempt
the running one. docs/PERFORMANCE.md ("Latency objectives", session 22) tried it on the REST event
loops, so that they preempt the passes to write an overload's 429s: worse, not kept.

    python3 bench/eevdf_slice.py US PREFIX...   # e.g. 100 fulcrum-http

Every 0.5 s until killed: each thread of each process named `java` whose name starts with one of
the PREFIXes, not seen before, gets a slice of US microseconds (x86-64 syscall 314); prints each
result. Check with `grep se.slice /proc/<pid>/task/<tid>/sched`. Needs no privileges for one's own
processes.
"""
import ctypes
import os
import struct
import sys
import time

SYS_SCHED_SETATTR = 314  # x86-64
libc = ctypes.CDLL(None, use_errno=True)
us, prefixes = int(sys.argv[1]), sys.argv[2:]


def set_slice(tid, ns):
    # struct sched_attr (VER1, 56 bytes): size, policy, flags, nice, priority, runtime, deadline,
    # period, util_min, util_max; policy 0 = SCHED_OTHER, nice 0
    attr = ctypes.create_string_buffer(struct.pack("IIQiIQQQII", 56, 0, 0, 0, 0, ns, 0, 0, 0, 0))
    return libc.syscall(SYS_SCHED_SETATTR, tid, attr, 0), ctypes.get_errno()


seen = set()
while True:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() != "java":
                continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                if (pid, tid) in seen:
                    continue
                name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
                if any(name.startswith(p) for p in prefixes):
                    seen.add((pid, tid))
                    rc, errno = set_slice(int(tid), us * 1000)
                    print(f"{pid}/{tid} {name}: slice {us} us -> {rc} (errno {errno})", flush=True)
        except OSError:
            pass
    time.sleep(0.5)
