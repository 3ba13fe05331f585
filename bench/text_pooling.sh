#!/usr/bin/env bash
# The drift monitor's embedding pooling cost per pass (monitoring.text.output, docs/MONITORING.md
# "Text models"): bench/TextPooling.java on the built jars, shapes interleaved, medians.
# Needs the built dist (fulcrum-tools/target/dist). Arguments: pass shapes BATCHxSEQ
# (default 1x11 16x11 16x128).
set -euo pipefail
cd "$(dirname "$0")/.."
. bin/find-java.sh
fulcrum_find_java
exec "$JAVA_HOME/bin/java" -cp "fulcrum-tools/target/dist/lib/*" bench/TextPooling.java "$@"
