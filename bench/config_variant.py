#!/usr/bin/env python3
"""Rewrites a copied model's config.yaml for a benchmark variant (bench/slo.sh, bench/slo_pairs.sh):
drops its `monitoring:` section (the variants measure batching, or monitoring off: bench/overhead.sh)
and replaces each top-level key that EXTRA (may be empty) sets with EXTRA's value.
    python3 bench/config_variant.py <copy>/config.yaml "$(printf 'max-batch-size: 16\\n...')"
"""
import sys

path, extra = sys.argv[1], sys.argv[2]
out, skip = [], False
for l in open(path).read().splitlines():
    if l.startswith("monitoring:"):
        skip = True
        continue
    if skip and (l.startswith(" ") or not l.strip()):
        continue
    skip = False
    out.append(l)
keys = {e.split(":")[0].strip() for e in extra.splitlines() if e and not e.startswith(" ")}
out = [l for l in out if l.split(":")[0].strip() not in keys or l.startswith(" ")]
open(path, "w").write("\n".join(out) + "\n" + (extra + "\n" if extra else ""))
