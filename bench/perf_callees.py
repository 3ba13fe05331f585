"""Splits one frame's samples by its callees, on the event loops (issue 12, session 18).

Usage: python3 bench/perf_callees.py PERF_SCRIPT REQUESTS FRAME [DEPTH]
PERF_SCRIPT is a `perf script -F comm,tid,ip,sym,dso` file as bench/c64ratio.sh's PERF=1 writes
(perf-<arm>-<load>.script), REQUESTS the requests completed in its window (.count). For samples
on the fulcrum-http-* threads whose stack holds a frame containing FRAME (the innermost such frame
counts), prints the µs per request (999 Hz samples) under it, split by its next DEPTH callees.
"""
import sys, re, collections
path, count, pat = sys.argv[1], int(sys.argv[2]), sys.argv[3]
depth = int(sys.argv[4]) if len(sys.argv)>4 else 1
us = 1e6/999/count
c = collections.Counter(); tot=0
def flush(comm, frames):
    global tot
    if not comm.startswith('fulcrum-http'): return
    for i,f in enumerate(frames):
        if pat in f:
            tot+=1
            key = " <- ".join(x[:90] for x in reversed(frames[max(0,i-depth):i])) or "(self)"
            c[key]+=1
            return
comm=None; frames=[]
for line in open(path, errors='replace'):
    if not line.strip():
        if comm is not None: flush(comm, frames)
        comm=None; frames=[]; continue
    if not line.startswith('\t'):
        comm=line.split()[0] if line.split() else ''; frames=[]; continue
    parts=line.strip().split(' ',1)
    sym=parts[1] if len(parts)>1 else '?'
    sym=re.sub(r'\s*\(/tmp/perf-\d+\.map\)|\s*\(\[kernel.kallsyms\]\)','',sym)
    sym=re.sub(r'^(\S+ )?','',sym) if False else sym
    sym=re.sub(r'^[\w.$<>\[\]]+ (?=[\w.$]+\()','',sym)  # drop return type
    sym=re.sub(r'\(.*','',sym)
    frames.append(sym)
if comm is not None: flush(comm, frames)
print("%s total %.2f us/req" % (pat, tot*us))
for k,v in c.most_common(30): print("%6.2f %s" % (v*us, k))
