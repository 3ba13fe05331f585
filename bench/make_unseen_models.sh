#!/usr/bin/env bash
# Writes the "unseen" models (fulcrum-testkit's UnseenModels: models unlike the demo's, seeded
# random weights) into bench/models/unseen (gitignored), each as <name>/1/model.onnx with NO
# config.yaml, the way a new user drops a file in:
#   cnn_image      FP32 image [N,3,32,32] -> Conv/Relu/Conv/Relu/GlobalAveragePool/Gemm -> [N,10]
#   mixed_tabular  INT64 category_ids [N,4] (Gather) + FP32 numeric [N,16] -> FP32 [N,5] + INT64 [N]
#   fixed_window   FP64 window [4,32] (no batch dimension) -> FP64 summary [4,8]
# Needs a built tree (./mvnw -o -DskipTests package); it runs the compiled classes, never installs.
#   bash bench/make_unseen_models.sh [DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bin/find-java.sh"
fulcrum_find_java
cd "$ROOT"
DIR=${1:-bench/models/unseen}
CP="fulcrum-testkit/target/classes:fulcrum-core/target/classes:fulcrum-tools/target/dist/lib/*"
[ -d fulcrum-testkit/target/classes/dev/fulcrum/testkit/demo ] \
  || { echo "build first: ./mvnw -B -ntp -o -DskipTests package" >&2; exit 1; }
"$JAVA_HOME/bin/java" -cp "$CP" dev.fulcrum.testkit.demo.UnseenModels "$DIR"
