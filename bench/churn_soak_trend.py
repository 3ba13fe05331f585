#!/usr/bin/env python3
"""The trend of a bench/churn_soak.sh run: each footprint column's first and last value and its
least-squares slope per hour over the last 40 minutes (or the last two thirds of a shorter run),
the NMT categories and thread groups that changed, and the answers by status per client.

  python3 bench/churn_soak_trend.py bench/results/<time>-churn-soak [--window-min 40]
"""
import argparse
import csv
import json
import os


def slope_per_hour(xs, ys):
    n = len(xs)
    if n < 2:
        return float("nan")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 3600 if sxx else float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--window-min", type=float, default=40)
    a = p.parse_args()
    rows = list(csv.DictReader(open(os.path.join(a.dir, "samples.csv"))))
    t_end = float(rows[-1]["elapsed_s"])
    start = max(t_end - a.window_min * 60, t_end / 3)
    win = [r for r in rows if float(r["elapsed_s"]) >= start]
    print(f"{len(rows)} samples over {t_end / 60:.1f} min; slopes over {start / 60:.1f}-{t_end / 60:.1f} min")
    cols = ["rss_kb", "rss_anon_kb", "heap_used_kb", "heap_after_gc_kb", "nmt_committed_kb",
            "proc_threads", "java_threads", "fds", "metric_series", "metrics_bytes", "stats_bytes",
            "log_lines", "cpu_s"]
    print(f"{'column':20} {'first':>12} {'window start':>12} {'last':>12} {'slope/h':>12}")
    for c in cols:
        pts = [(float(r["elapsed_s"]), float(r[c])) for r in win if r[c] != ""]
        allpts = [float(r[c]) for r in rows if r[c] != ""]
        if not pts:
            continue
        s = slope_per_hour([x for x, _ in pts], [y for _, y in pts])
        print(f"{c:20} {allpts[0]:12.0f} {pts[0][1]:12.0f} {pts[-1][1]:12.0f} {s:12.1f}")
    for col, label in (("nmt_categories", "NMT committed KB"), ("java_thread_groups", "Java threads"),
                       ("native_thread_groups", "OS threads (comm)")):
        first, w0, last = (json.loads(r[col]) for r in (rows[0], win[0], rows[-1]))
        changed = {k: (first.get(k, 0), w0.get(k, 0), last.get(k, 0))
                   for k in sorted(set(first) | set(last)) if first.get(k, 0) != last.get(k, 0)
                   or w0.get(k, 0) != last.get(k, 0)}
        print(f"{label} changed (first, window start, last): {changed}")
    print("answers:", rows[-1]["answers"])
    print("problems:", rows[-1]["problems"])
    print("sse:", rows[-1]["sse"])


if __name__ == "__main__":
    main()
