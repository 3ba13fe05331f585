#!/usr/bin/env bash
# Ollama's JS client (ollama) and Hugging Face's (@huggingface/inference), unchanged, against
# `./fulcrum serve` with the demo models and an inference token: Ollama's /api/embed,
# /api/embeddings, /api/tags, /api/version, and TEI's /embed, /similarity, /info, with their
# errors; every vector compared with /v1/embeddings' for the same text (bench/tei_ollama_client.mjs).
# Prints PASS/FAIL per check and the counts; exits non-zero on a FAIL.
#   [PORT=18200] [NODE_DIR=bench/tei_ollama_node] [NO_SERVER=1 TOKEN=...] bash bench/tei_ollama_client.sh
# NO_SERVER=1 uses a server already listening on PORT (HTTP), PORT+1 (gRPC), PORT+2 (metrics),
# with TOKEN its inference token (or none: TOKEN unset).
# The clients: `npm install ollama @huggingface/inference` into NODE_DIR (git-ignored; PyPI's
# clients are not used: this script needs only npm). Not a CI test: CI installs no packages.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/bench/lib.sh"
PORT=${PORT:-18200}
NODE_DIR=${NODE_DIR:-$ROOT/bench/tei_ollama_node}

command -v node >/dev/null && command -v npm >/dev/null || { echo "FAIL no node or npm"; exit 1; }
if ! [ -d "$NODE_DIR/node_modules/ollama" ] || ! [ -d "$NODE_DIR/node_modules/@huggingface/inference" ]; then
  mkdir -p "$NODE_DIR" && (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund ollama @huggingface/inference >/dev/null 2>&1) \
    || { echo "FAIL npm could not install ollama @huggingface/inference"; exit 1; }
fi

PID=""
if [ -z "${NO_SERVER:-}" ]; then
  TOKEN=${TOKEN:-$(bench_token tei-ollama-client)}
  FULCRUM_INFERENCE_TOKEN="$TOKEN" bench_fulcrum_serve
fi

NODE_PATH="$NODE_DIR/node_modules" node "$ROOT/bench/tei_ollama_client.mjs" "127.0.0.1:$PORT" "${TOKEN:-x}"
