#!/usr/bin/env bash
# NVIDIA's own Triton clients, unchanged, against `./fulcrum serve` with the demo models: every
# tritonclient call a team moving off Triton makes (HTTP and gRPC, sync, aio, streaming, model
# repository, statistics, classification, compression, timeouts, shared memory), and perf_analyzer
# where it can be had. Prints PASS/FAIL per call (bench/triton_clients.py) and exits non-zero on a
# FAIL.
#   [PORT=27200] [VENV=/tmp/tritonc-venv] [NO_SERVER=1] bash bench/triton_clients.sh
# The server runs with --model-control-mode explicit (the demo models loaded at start), as
# load_model/unload_model need, and --allow-client-shm true, as the system shared memory checks
# need (tritonclient.utils.shared_memory makes the /dev/shm objects: in this client it is Python's
# multiprocessing.shared_memory, no libcshm.so to build; client and server must share /dev/shm);
# Session 42: 126 passed, 0 failed (PORT=24010; 122 before, the 16 shared memory refusal checks
# replaced by 20 round trips); perf_analyzer not installed here, so its two --shared-memory system
# runs are untried.
# NO_SERVER=1 uses a server already listening on PORT (HTTP), PORT+1 (gRPC), PORT+2 (metrics),
# which must run with both options too.
#
# Installing the client: `pip install tritonclient[all]` into VENV when PyPI answers. On a machine
# whose pip reaches no PyPI (this project's), the same package is assembled the way NVIDIA's wheel
# build does it (build_wheel.py): the python sources of a triton-inference-server/client checkout
# and the stubs protoc generates from triton-inference-server/common's protobuf/*.proto, with
# Debian's python3 packages for the dependencies (grpcio, protobuf, geventhttpclient, rapidjson,
# aiohttp, numpy). Point TRITON_CLIENT_GIT and TRITON_COMMON_GIT at git directories of the two
# repositories (e.g. /work/.mirror/triton-inference-server+client/repo); nothing is committed here.
# perf_analyzer: `pip install perf-analyzer` (it ships the binary) or PERF_ANALYZER=/path/to/binary.
# Stateful models: the testkit's StatefulModels.main writes the accumulators (numeric and string
# sequence ids) into demo/stateful (ignored; needs the build's target/classes), which the server
# also serves, and the sequence API cases run against them (tritonclient's sequence_id,
# sequence_start, sequence_end). With NO_SERVER=1 set SEQUENCES=1 when that server serves them.
# StatefulModels.main also writes accumulator_oldest (a Triton config.pbtxt with the oldest
# strategy: 4 candidate sequences on passes of 2 rows), whose cases run when it is served (with
# NO_SERVER=1: set OLDEST=1).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/bench/lib.sh"
PORT=${PORT:-27200}
VENV=${VENV:-/tmp/tritonc-venv}
TRITON_CLIENT_GIT=${TRITON_CLIENT_GIT:-/work/.mirror/triton-inference-server+client/repo}
TRITON_COMMON_GIT=${TRITON_COMMON_GIT:-/work/.mirror/triton-inference-server+common/repo}

install_client() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import tritonclient.http, tritonclient.grpc' 2>/dev/null; then
    return 0
  fi
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --timeout 20 'tritonclient[all]' && return 0
  echo "pip could not install tritonclient[all]; assembling it from $TRITON_CLIENT_GIT and $TRITON_COMMON_GIT" >&2
  if ! git --git-dir="$TRITON_CLIENT_GIT" rev-parse -q HEAD >/dev/null 2>&1 \
    || ! git --git-dir="$TRITON_COMMON_GIT" rev-parse -q HEAD >/dev/null 2>&1; then
    echo "no checkout of triton-inference-server/client and /common: set TRITON_CLIENT_GIT and TRITON_COMMON_GIT" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-numpy python3-grpcio \
    python3-protobuf python3-geventhttpclient python3-rapidjson python3-aiohttp protobuf-compiler \
    protobuf-compiler-grpc python3-packaging >/dev/null || return 1
  rm -rf "$VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV" || return 1
  # tritonclient pins protobuf 6 and a grpcio newer than Debian's 1.51: take them from a pip index
  # when one has them (protoc 3.21's stubs load on protobuf 6), else Debian's stay.
  "$VENV/bin/pip" install -q --retries 0 --timeout 10 'protobuf>=6.30,<7' 'grpcio>=1.63' >/dev/null 2>&1 || true
  local site tmp
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  tmp=$(mktemp -d)
  git --git-dir="$TRITON_CLIENT_GIT" archive HEAD src/python/library/tritonclient | tar -x -C "$tmp"
  git --git-dir="$TRITON_COMMON_GIT" archive HEAD protobuf | tar -x -C "$tmp"
  cp -r "$tmp/src/python/library/tritonclient" "$site/"
  (cd "$tmp/protobuf" && protoc -I. --python_out="$tmp" --grpc_out="$tmp" \
    --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" grpc_service.proto model_config.proto) || return 1
  # build_wheel.py's renames and its import fix-up (protobuf issue 1491).
  cp "$tmp/model_config_pb2.py" "$site/tritonclient/grpc/model_config_pb2.py"
  cp "$tmp/grpc_service_pb2.py" "$site/tritonclient/grpc/service_pb2.py"
  cp "$tmp/grpc_service_pb2_grpc.py" "$site/tritonclient/grpc/service_pb2_grpc.py"
  sed -i -E 's/^import ([^ ]*)_pb2 as ([^ ]*)$/from tritonclient.grpc import \1_pb2 as \2/' \
    "$site/tritonclient/grpc/model_config_pb2.py" "$site/tritonclient/grpc/service_pb2.py"
  sed -i -E 's/^import grpc_([^ ]*)_pb2 as ([^ ]*)$/from tritonclient.grpc import \1_pb2 as \2/' \
    "$site/tritonclient/grpc/service_pb2_grpc.py"
  rm -rf "$tmp"
  "$VENV/bin/python" -c 'import tritonclient.http, tritonclient.grpc, tritonclient.http.aio, tritonclient.grpc.aio'
}

install_client || { echo "FAIL install tritonclient"; exit 1; }

PA=${PERF_ANALYZER:-}
if [ -z "$PA" ]; then
  if [ -x "$VENV/bin/perf_analyzer" ] || "$VENV/bin/pip" install -q --timeout 20 perf-analyzer >/dev/null 2>&1; then
    PA="$VENV/bin/perf_analyzer"
  fi
fi

STATEFUL="$ROOT/demo/stateful"
SEQ_ARGS=()
if [ -z "${NO_SERVER:-}" ] && { [ ! -f "$STATEFUL/accumulator_str/config.yaml" ] \
  || [ ! -f "$STATEFUL/accumulator_oldest/config.pbtxt" ]; }; then
  PB_VERSION=$(sed -n 's:.*<protobuf.version>\(.*\)</protobuf.version>.*:\1:p' pom.xml | head -1)
  "${JAVA_HOME:+$JAVA_HOME/bin/}java" -cp "fulcrum-testkit/target/classes:fulcrum-core/target/classes:$HOME/.m2/repository/com/google/protobuf/protobuf-java/$PB_VERSION/protobuf-java-$PB_VERSION.jar" \
    dev.fulcrum.testkit.StatefulModels "$STATEFUL" >/dev/null 2>&1 \
    || echo "SKIP sequences: StatefulModels could not write $STATEFUL (build first)"
fi
SERVE_STATEFUL=()
if [ -z "${NO_SERVER:-}" ] && [ -f "$STATEFUL/accumulator_str/config.yaml" ]; then
  SERVE_STATEFUL=(--model-repository "$ROOT/demo/models" --model-repository "$STATEFUL"
    --load-model accumulator --load-model accumulator_str)
  SEQ_ARGS=(--stateful)
  if [ -f "$STATEFUL/accumulator_oldest/config.pbtxt" ]; then
    SERVE_STATEFUL+=(--load-model accumulator_oldest)
    SEQ_ARGS+=(--oldest)
  fi
elif [ -n "${NO_SERVER:-}" ] && [ -n "${SEQUENCES:-}" ]; then
  SEQ_ARGS=(--stateful)
  [ -n "${OLDEST:-}" ] && SEQ_ARGS+=(--oldest)
fi

# The ensemble (EnsembleModels.main: scale -> classify, platform: ensemble) in demo/ensemble
# (ignored); loaded by the ensemble's name alone, which loads its composing models. With
# NO_SERVER=1 set ENSEMBLE=1 when that server serves it.
ENSEMBLE_DIR="$ROOT/demo/ensemble"
if [ -z "${NO_SERVER:-}" ] && [ ! -f "$ENSEMBLE_DIR/scale_classify/config.pbtxt" ]; then
  PB_VERSION=$(sed -n 's:.*<protobuf.version>\(.*\)</protobuf.version>.*:\1:p' pom.xml | head -1)
  "${JAVA_HOME:+$JAVA_HOME/bin/}java" -cp "fulcrum-testkit/target/classes:fulcrum-core/target/classes:$HOME/.m2/repository/com/google/protobuf/protobuf-java/$PB_VERSION/protobuf-java-$PB_VERSION.jar" \
    dev.fulcrum.testkit.EnsembleModels "$ENSEMBLE_DIR" >/dev/null 2>&1 \
    || echo "SKIP ensemble: EnsembleModels could not write $ENSEMBLE_DIR (build first)"
fi
ENS_ARGS=()
if [ -z "${NO_SERVER:-}" ] && [ -f "$ENSEMBLE_DIR/scale_classify/config.pbtxt" ]; then
  SERVE_STATEFUL+=(--model-repository "$ENSEMBLE_DIR" --load-model scale_classify)
  [ ${#SEQ_ARGS[@]} -eq 0 ] && SERVE_STATEFUL+=(--model-repository "$ROOT/demo/models")
  ENS_ARGS=(--ensemble)
elif [ -n "${NO_SERVER:-}" ] && [ -n "${ENSEMBLE:-}" ]; then
  ENS_ARGS=(--ensemble)
fi

PID=""
if [ -z "${NO_SERVER:-}" ]; then
  bench_fulcrum_serve --model-control-mode explicit --allow-client-shm true \
    --load-model fraud_classifier --load-model all_minilm_l6_v2 \
    --load-model minilm_text "${SERVE_STATEFUL[@]}"
fi

"$VENV/bin/python" "$ROOT/bench/triton_clients.py" --http "127.0.0.1:$PORT" --grpc "127.0.0.1:$((PORT + 1))" \
  --metrics "127.0.0.1:$((PORT + 2))" --repository "$ROOT/demo/models" "${SEQ_ARGS[@]}" "${ENS_ARGS[@]}"
RC=$?

if [ -n "$PA" ] && [ -x "$PA" ]; then
  pa() {
    local name=$1; shift
    if timeout 120 "$PA" -m fraud_classifier "$@" >/tmp/tritonc-pa.out 2>&1; then
      echo "PASS perf_analyzer $name"
    else
      echo "FAIL perf_analyzer $name: $(tail -3 /tmp/tritonc-pa.out | tr '\n' ' ')"; RC=1
    fi
  }
  H="-u 127.0.0.1:$PORT"; G="-i grpc -u 127.0.0.1:$((PORT + 1))"
  M="--measurement-mode count_windows --measurement-request-count 50"
  pa "http" $H $M
  pa "grpc" $G $M
  pa "http concurrency 1:4" $H $M --concurrency-range 1:4
  pa "http async" $H $M --async
  pa "grpc streaming" $G $M --streaming
  pa "http -b 4" $H $M -b 4
  pa "http --shape" $H $M --shape features:8
  pa "http --input-data zero" $H $M --input-data zero
  pa "http --input-data random" $H $M --input-data random
  pa "http --shared-memory system" $H $M --shared-memory system
  pa "grpc --shared-memory system" $G $M --shared-memory system
  pa "http --collect-metrics" $H $M --collect-metrics --metrics-url "127.0.0.1:$((PORT + 2))/metrics"
else
  echo "SKIP perf_analyzer: not installed (pip install perf-analyzer failed; set PERF_ANALYZER=/path/to/perf_analyzer)"
fi
exit $RC
