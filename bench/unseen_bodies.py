#!/usr/bin/env python3
"""Request bodies for the unseen models (bench/make_unseen_models.sh), seeded, one row each.

  python3 bench/unseen_bodies.py OUTDIR
writes OUTDIR/<model>.json (REST JSON), OUTDIR/<model>.bin + OUTDIR/<model>.hcl (REST binary:
the JSON header then the raw little-endian tensors; .hcl holds the header's length) for
cnn_image, mixed_tabular and fixed_window.
"""
import json
import os
import random
import struct
import sys

PACK = {"FP32": "f", "FP64": "d", "INT64": "q", "INT32": "i"}


def tensors(model, rows, rng):
    if model == "cnn_image":
        return [("image", "FP32", [rows, 3, 32, 32], [round(rng.uniform(0, 1), 4) for _ in range(rows * 3 * 32 * 32)])]
    if model == "mixed_tabular":
        return [("category_ids", "INT64", [rows, 4], [rng.randrange(1000) for _ in range(rows * 4)]),
                ("numeric", "FP32", [rows, 16], [round(rng.gauss(0, 1), 4) for _ in range(rows * 16)])]
    if model == "fixed_window":
        return [("window", "FP64", [4, 32], [round(rng.uniform(-1, 1), 6) for _ in range(4 * 32)])]
    raise SystemExit(f"unknown model {model}")


def main():
    out = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    os.makedirs(out, exist_ok=True)
    for model in ("cnn_image", "mixed_tabular", "fixed_window"):
        ts = tensors(model, rows, random.Random(19))
        body = {"inputs": [{"name": n, "shape": s, "datatype": t, "data": d} for n, t, s, d in ts]}
        json.dump(body, open(f"{out}/{model}.json", "w"), separators=(",", ":"))
        header = json.dumps({
            "inputs": [{"name": n, "shape": s, "datatype": t,
                        "parameters": {"binary_data_size": len(d) * struct.calcsize(PACK[t])}}
                       for n, t, s, d in ts],
            "parameters": {"binary_data_output": False}}, separators=(",", ":")).encode()
        raw = b"".join(struct.pack(f"<{len(d)}{PACK[t]}", *d) for _, t, _, d in ts)
        open(f"{out}/{model}.bin", "wb").write(header + raw)
        open(f"{out}/{model}.hcl", "w").write(str(len(header)))


if __name__ == "__main__":
    main()
