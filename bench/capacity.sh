#!/usr/bin/env bash
# Is the capacity a server states (GET .../slo "capacity", fulcrum_slo_capacity_requests_per_second:
# the highest rate its instances serve within the objective, from the pass times the SLO policy
# learned; docs/DEPLOYMENT.md "Scaling") the rate it really holds the objective at?
#
# For each model (fraud_classifier with slo {latency-ms: 10}, all_minilm_l6_v2 with {latency-ms:
# 100}; MODELS selects), in its own server with only that objective added to its config:
#   1. warm-up, not measured: WARM s closed loop at 64 connections (JIT, ONNX Runtime's first
#      passes at each shape; the saturated queue makes the policy run and measure large batches),
#      then 3 s idle so the 10 s window empties; the capacity it then states: C (after warm-up;
#      where the warm-up refused more than the objective allows, the observed bound it holds, so
#      the summary's "bound" says which)
#   2. the highest open-loop Poisson rate at which >= TARGET (default 99 %, the objective's
#      percentile) of the requests sent are answered 2xx within the objective (refusals, errors and
#      unanswered requests are misses), by geometric bisection (BISECT probes of PROBE s after 1 s
#      of warm-up) between LO_FRAC x the lower and HI_FRAC x the higher of C and the closed-loop
#      throughput K (the bisection does not trust C: it brackets the truth either way); after each
#      probe the server's capacity, offered rate and load ratio as /slo states them
#   3. the ratio: highest rate holding the objective / C, and / the capacity stated at the end
# Load: bench/openloop (the open-loop client of bench/slo.sh, compiled here), its rate measured from
# the intended send times, so a client that falls behind shows as late sends, not hidden.
# A ratio below 1 is expected: the pass bound assumes full batches at an even rate, Poisson arrivals
# do not give that (see SloCapacity's class comment), and the CPU bound (the offered rate over the
# process's load on its CPU budget: its limit, or its CPUs less what other processes use, or where
# Linux reports CPU pressure its use plus the rest of its allowance in the share of the time it did
# not wait for a CPU; what binds a model whose passes are microseconds, like fraud) counts the
# client beside it at what it uses now (or at the waits it causes), and the client's use grows
# with the rate. Results:
# bench/results/<date>-capacity/summary.txt.
#   bench/capacity.sh                    # both models
#   MODELS=minilm BISECT=7 PROBE=8 bench/capacity.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
PORT=${PORT:-$((20000 + RANDOM % 12000))} # below the ephemeral range (32768-)
MODELS=${MODELS:-"fraud minilm"}
WARM=${WARM:-15}          # closed-loop warm-up, s
PROBE=${PROBE:-6}         # one bisection probe: 1 s warm-up + PROBE s measured
BISECT=${BISECT:-6}       # probes per bisection
TARGET=${TARGET:-0.99}    # the share within the objective a probe must reach
LO_FRAC=${LO_FRAC:-0.05}
HI_FRAC=${HI_FRAC:-1.3}
CONNS=${CONNS:-512}       # the open loop's connection pool
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-capacity"
mkdir -p "$OUT"
URL="http://127.0.0.1:$PORT"
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
CP=${FULCRUM_CP:-fulcrum-tools/target/dist/lib/*}
if [ -z "${FULCRUM_CP:-}" ] && ! ls fulcrum-tools/target/dist/lib/*.jar >/dev/null 2>&1; then
  ./mvnw -B -ntp -q -DskipTests -Dspotless.check.skip=true package
fi
LOAD="$OUT/openloop"
bench_openloop "$LOAD"
printf 'nproc=%s\nload average at start: %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/machine.txt"

SERVER=
stop() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; SERVER=; }
trap stop EXIT

serve() { # model-dir slo-ms -> a server on a copy of that one model with that objective
  bench_serve_model "$1" "$OUT/repo-$1" "slo: {latency-ms: $2}" "$OUT/server-$1.log"
}
slo_doc() { curl -sf "$URL/v2/models/$1/slo"; } # model -> the /slo document
capacity() { python3 -c "import json,sys; c=json.load(sys.stdin)['capacity']; print(c['requests_per_s'] or 0)"; }
meets() { python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))['within_slo_fraction'] >= float(sys.argv[2]) else 1)" "$1" "$TARGET"; }

for m in $MODELS; do
  case $m in
    fraud) MODEL=fraud_classifier; SLO=10; BODY="$BENCH_FRAUD_BODY" ;;
    minilm) MODEL=all_minilm_l6_v2; SLO=100; BODY="$BENCH_MINILM_BODY"; bench_need_minilm capacity.sh ;;
    *) echo "unknown model $m"; exit 2 ;;
  esac
  echo "== $m: slo {latency-ms: $SLO}" >&2
  serve "$MODEL" "$SLO"
  "$LOAD" --url "$URL/v2/models/$MODEL/infer" --body "$BODY" --slo-ms "$SLO" --closed \
    --connections 64 --duration $((WARM + 1)) --warmup 1 --out "$OUT/$m-warm.json" 2>>"$OUT/openloop.log"
  sleep 3
  slo_doc "$MODEL" >"$OUT/$m-slo-warm.json"
  C=$(capacity <"$OUT/$m-slo-warm.json")
  K=$(python3 -c "import json; print(json.load(open('$OUT/$m-warm.json'))['ok_per_second'])")
  read -r lo hi < <(python3 -c "c, k = $C, $K; print(max(1, $LO_FRAC * min(c or k, k)), $HI_FRAC * max(c, k))")
  echo "   after warm-up: stated capacity $C/s; closed-loop throughput $K/s; bisection $lo..$hi/s" >&2
  best=0
  : >"$OUT/$m-probes.tsv"
  for i in $(seq "$BISECT"); do
    r=$(python3 -c "print(max(1, int(($lo * $hi) ** 0.5)))")
    "$LOAD" --url "$URL/v2/models/$MODEL/infer" --body "$BODY" --slo-ms "$SLO" --rate "$r" \
      --duration $((PROBE + 1)) --warmup 1 --connections "$CONNS" --drain 5 \
      --out "$OUT/$m-probe$i-$r.json" 2>>"$OUT/openloop.log"
    slo_doc "$MODEL" >"$OUT/$m-slo-probe$i.json"
    python3 - "$OUT/$m-probe$i-$r.json" "$OUT/$m-slo-probe$i.json" "$r" >>"$OUT/$m-probes.tsv" <<'PY'
import json, sys
run, doc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
c = doc["capacity"]
print("\t".join(str(x) for x in (sys.argv[3], run["sent_per_second"], run["within_slo_fraction"],
      run["refused"], run["late_fraction"], c["requests_per_s"], c["batch_size"], c["offered_per_s"],
      c["load_ratio"], c["bound"], c["cpu"]["load"], c["cpu"]["budget_cores"], c["cpu"]["others_busy"])))
PY
    if meets "$OUT/$m-probe$i-$r.json"; then best=$r; lo=$r; else hi=$r; fi
  done
  slo_doc "$MODEL" >"$OUT/$m-slo-end.json"
  stop
  printf '%s\t%s\t%s\t%s\n' "$C" "$K" "$best" "$(capacity <"$OUT/$m-slo-end.json")" >"$OUT/$m.tsv"
done

python3 - "$OUT" "$TARGET" $MODELS <<'PY' | tee "$OUT/summary.txt"
import json, sys
out, target, models = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
print(open(f"{out}/machine.txt").read().strip())
slos = {"fraud": 10, "minilm": 100}
for m in models:
    c, k, best, c_end = (float(x) for x in open(f"{out}/{m}.tsv").read().split())
    print(f"== {m} (slo {slos[m]} ms; a probe holds the objective when >= {target * 100:g} % of the requests sent "
          f"are answered 2xx within it)")
    table = json.load(open(f"{out}/{m}-slo-warm.json"))["policy"]["pass_times"]
    print("  pass times learned in the warm-up (batch: mean/planned ms, samples): " + "; ".join(
        f"{t['batch_size']}: {t['mean_us'] / 1e3:.2f}/{t['planned_us'] / 1e3:.2f}, {t['samples']}"
        for t in table if t["samples"] > 0))
    warm = json.load(open(f"{out}/{m}-slo-warm.json"))["capacity"]
    print(f"  stated after the warm-up: {c:.0f}/s (bound {warm['bound']}: passes {warm['passes_requests_per_s'] or 0:.0f}/s, "
          f"cpu {warm['cpu_requests_per_s'] or 0:.0f}/s ({warm['cpu']['state']}) at {(warm['cpu']['load'] or 0) * 100:.0f} % of a budget of "
          f"{warm['cpu']['budget_cores'] or 0:.2f} cores: {warm['cpu']['cores_allowed']:g} allowed, others {warm['cpu']['others_busy'] or 0:.2f} busy; "
          f"batch {warm['batch_size']}); closed-loop throughput of the "
          f"warm-up (64 connections): {k:.0f}/s")
    print(f"  {'rate/s':>8} {'sent/s':>8} {'within':>8} {'refused':>8} {'late':>6} {'stated/s':>9} {'batch':>5} "
          f"{'offered/s':>9} {'load ratio':>10} {'bound':>6} {'cpu':>5} {'budget':>6} {'others':>6}")
    for l in open(f"{out}/{m}-probes.tsv").read().split("\n"):
        if not l:
            continue
        r, sent, within, refused, late, cap, batch, offered, ratio, bound, u, budget, others = l.split("\t")
        f = lambda x, p: "-" if x == "None" else f"{float(x):.{p}f}"
        print(f"  {r:>8} {f(sent, 0):>8} {float(within) * 100:>7.2f}% {refused:>8} {float(late) * 100:>5.1f}% "
              f"{f(cap, 0):>9} {batch:>5} {f(offered, 0):>9} {f(ratio, 3):>10} {bound:>6} {f(u, 2):>5} {f(budget, 2):>6} {f(others, 2):>6}")
    ratio = lambda cap: f"{best / cap:.3f}" if cap > 0 else "- (0 stated: too tight, or still learning)"
    if best > 0:
        print(f"  highest rate holding the objective: {best:.0f}/s; / stated after warm-up ({c:.0f}/s) {ratio(c)}; "
              f"/ stated at the end ({c_end:.0f}/s) {ratio(c_end)}")
    else:
        print(f"  highest rate holding the objective: none of the rates probed held it (the lowest: "
              f"{min(float(l.split()[0]) for l in open(f'{out}/{m}-probes.tsv') if l.strip()):.0f}/s); "
              f"stated after warm-up {c:.0f}/s, at the end {c_end:.0f}/s")
    late = [float(l.split("\t")[4]) for l in open(f"{out}/{m}-probes.tsv") if l.strip()]
    if max(late, default=0) > 0.05:
        print(f"  the client sent up to {max(late) * 100:.0f} % of a probe's requests > 1 ms late: it shares the cores "
              f"with the server, and the figures above are the machine's as much as the server's")
PY
