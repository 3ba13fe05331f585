#!/usr/bin/env bash
# OpenAI's own Python SDK (openai), and LangChain's OpenAIEmbeddings when langchain-openai
# installs, then OpenAI's Node SDK and LangChain.js's OpenAIEmbeddings when npm installs them
# (bench/openai_client.mjs), unchanged, against `./fulcrum serve` with the demo models and an inference token:
# /v1/embeddings (float, base64, the SDK's default, a list past max-batch-size, dimensions, usage),
# /v1/models, AsyncOpenAI, and the errors the SDK maps to its exceptions (NotFoundError,
# BadRequestError, AuthenticationError). Every vector is compared with v2/models/minilm_text/infer's.
# Prints PASS/FAIL per check and the counts (bench/openai_client.py); exits non-zero on a FAIL.
#   [PORT=18100] [VENV=/tmp/openai-venv] [NODE_DIR=/tmp/openai-node] [NO_SERVER=1 TOKEN=...] \
#     bash bench/openai_client.sh
# NO_SERVER=1 uses a server already listening on PORT (HTTP), PORT+1 (gRPC), PORT+2 (metrics),
# with TOKEN its inference token (or none: TOKEN unset).
# The clients: `pip install openai langchain-openai` into VENV (a venv made here when pip reaches a
# package index; langchain-openai is optional), `npm install openai @langchain/openai` into
# NODE_DIR (skipped without node and npm). Not a CI test: CI installs no packages.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/bench/lib.sh"
PORT=${PORT:-18100}
VENV=${VENV:-/tmp/openai-venv}
NODE_DIR=${NODE_DIR:-/tmp/openai-node}

if ! [ -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import openai' 2>/dev/null; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --timeout 20 openai \
    || { echo "FAIL install openai (pip needs a package index)"; exit 1; }
  "$VENV/bin/pip" install -q --timeout 20 langchain-openai \
    || echo "SKIP langchain-openai: pip could not install it"
fi

PID=""
if [ -z "${NO_SERVER:-}" ]; then
  TOKEN=${TOKEN:-$(bench_token openai-client)}
  FULCRUM_INFERENCE_TOKEN="$TOKEN" bench_fulcrum_serve
fi

"$VENV/bin/python" "$ROOT/bench/openai_client.py" --http "127.0.0.1:$PORT" --token "${TOKEN:-x}"
RC=$?

if command -v node >/dev/null && command -v npm >/dev/null; then
  if ! [ -d "$NODE_DIR/node_modules/openai" ] || ! [ -d "$NODE_DIR/node_modules/@langchain/openai" ]; then
    mkdir -p "$NODE_DIR" && (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund openai @langchain/openai >/dev/null 2>&1) \
      || echo "SKIP node: npm could not install openai @langchain/openai"
  fi
  if [ -d "$NODE_DIR/node_modules/openai" ]; then
    NODE_PATH="$NODE_DIR/node_modules" node "$ROOT/bench/openai_client.mjs" "127.0.0.1:$PORT" "${TOKEN:-x}" || RC=1
  fi
else
  echo "SKIP node: no node or npm"
fi
exit $RC
