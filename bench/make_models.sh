#!/usr/bin/env bash
# Writes the generated benchmark models into bench/models (not committed):
#   tabular_wide_{batching,no_batching}/1/model.onnx  8 -> 1024 -> 1024 -> 2 MLP, seeded random weights
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bin/find-java.sh"
fulcrum_find_java
cd "$ROOT"
./mvnw -B -q -ntp -pl fulcrum-testkit -am install -DskipTests -Dspotless.check.skip=true
./mvnw -B -q -ntp -pl fulcrum-testkit exec:java \
  -Dexec.mainClass=dev.fulcrum.testkit.demo.WriteBenchModels -Dexec.args="$ROOT/bench/models"
