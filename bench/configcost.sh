#!/usr/bin/env bash
# Cold start, cut a (docs/PERFORMANCE.md, "Session 10"): the CPU that reading the demo models'
# config.yaml costs in a fresh JVM with the dist's AOT cache and the launcher's JVM options: the
# loader as shipped (loader), the loader with -Dfulcrum.config.reader=databind (databind: Jackson
# databind into the config records, as before session 10), the same YAML as a tree (tree) or only
# tokenized (tokens), with the JVM options of `./fulcrum serve`; N interleaved rounds, one fresh JVM per figure.
#   N=5 bash bench/configcost.sh      (needs a built dist; trains the AOT cache if absent)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-5}
. bin/find-java.sh
fulcrum_find_java
DIST=fulcrum-tools/target/dist
[ -f "$DIST/fulcrum.aot" ] || FULCRUM_NO_BUILD=1 ./fulcrum aot
CLS=bench/peers/configcost/target/classes
mkdir -p "$CLS"
"$JAVA_HOME/bin/javac" -d "$CLS" -cp "$DIST/lib/*" bench/peers/configcost/ConfigCost.java
for _ in $(seq "$N"); do
  for mode in ${MODES:-loader databind tree tokens}; do
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:-UsePerfData -XX:CompileThresholdScaling=4 \
      -XX:AOTCache="$DIST/fulcrum.aot" -Xlog:aot=off -Xlog:cds=off \
      -cp "$DIST/lib/*:$CLS" ConfigCost "$mode" demo/models 2>/dev/null
  done
done
