"""A model's statistics JSON (GET /v2/models/<m>/stats) on stdin -> "inference_count execution_count"
(the first object holding both, wherever the server nests it); "0 0" when there is none. Used by
bench/peers.sh and bench/c64ratio.sh for the rows a pass carried between two reads."""
import json
import sys


def find(o):
    if isinstance(o, dict):
        if "inference_count" in o and "execution_count" in o:
            return o
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            f = find(v)
            if f:
                return f
    return None


try:
    s = find(json.load(sys.stdin)) or {}
except ValueError:
    s = {}
print(s.get("inference_count", 0), s.get("execution_count", 0))
