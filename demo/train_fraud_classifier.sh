#!/usr/bin/env bash
# Regenerates the demo fraud classifier and its training data (deterministic: same bytes each run).
#   demo/data/fraud_training.csv                    the training rows (a later issue profiles them for skew)
#   demo/models/fraud_classifier/1/model.onnx       the trained model
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bin/find-java.sh"
fulcrum_find_java
cd "$ROOT"
./mvnw -B -q -ntp -pl fulcrum-testkit -am install -DskipTests -Dspotless.check.skip=true
./mvnw -B -q -ntp -pl fulcrum-testkit exec:java \
  -Dexec.mainClass=dev.fulcrum.testkit.demo.TrainFraudClassifier -Dexec.args="$ROOT/demo"
