"""The API process, and the LLM worker, never load a model library: models live behind HTTP."""

import subprocess
import sys

import pytest

MODEL_LIBRARIES = ("vllm", "torch", "transformers")

CHECK = """
import sys
import {module}
loaded = sorted({{name.split('.')[0] for name in sys.modules}} & {libraries!r})
print(','.join(loaded))
"""


@pytest.mark.parametrize("module", ["api.main", "workers.llm.tasks"])
def test_importing_does_not_load_a_model_library(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(module=module, libraries=set(MODEL_LIBRARIES))],
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.strip() == "", f"{module} loaded {done.stdout.strip()}"


def test_the_project_environment_has_no_model_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import importlib.util as u; print([m for m in {MODEL_LIBRARIES!r} if u.find_spec(m)])"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.strip() == "[]"
