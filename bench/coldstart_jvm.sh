#!/usr/bin/env bash
# The JVM's own start with and without the AOT cache (docs/PERFORMANCE.md, "Cold start"): CPU time
# (user + system, from /usr/bin/time) and wall time of `java -version` on the dist's class path,
# which creates the VM (mapping and relocating the cache, preloading its classes) and exits before
# any Fulcrum code runs; plus the classes each cache preloads. Interleaved, median of N.
#   N=7 bash bench/coldstart_jvm.sh [EXTRA.aot ...]   (default: no cache, dist/fulcrum.aot)
# Does not build; needs JDK 25 and a dist (and `./fulcrum aot` for the cache).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bin/find-java.sh
fulcrum_find_java
N=${N:-7}
DIST=fulcrum-tools/target/dist
CACHES=(none "$DIST/fulcrum.aot" "$@")
OUT=$(mktemp)
run() { # cache -> "cpu wall"
  local opts=(--enable-native-access=ALL-UNNAMED -XX:-UsePerfData)
  [ "$1" != none ] && opts+=("-XX:AOTCache=$1" -Xlog:aot=off -Xlog:cds=off)
  /usr/bin/time -f "%U %S %e" -o "$OUT" "$JAVA_HOME/bin/java" "${opts[@]}" -cp "$DIST/lib/*" \
    -version 2>/dev/null
  awk '{printf "%.2f %.2f\n", $1 + $2, $3}' "$OUT"
}
declare -A CPU WALL
for _ in $(seq "$N"); do
  for c in "${CACHES[@]}"; do
    read -r cpu wall < <(run "$c")
    CPU[$c]+="$cpu "; WALL[$c]+="$wall "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-40s %8s %8s %8s\n' cache "cpu s" "wall s" classes
for c in "${CACHES[@]}"; do
  classes=-
  if [ "$c" != none ]; then
    classes=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:AOTCache="$c" \
      -Xlog:class+load -cp "$DIST/lib/*" -version 2>&1 | grep -c 'shared objects file' || true)
  fi
  printf '%-40s %8s %8s %8s\n' "$c" "$(median <<< "${CPU[$c]}")" "$(median <<< "${WALL[$c]}")" "$classes"
done
rm -f "$OUT"
