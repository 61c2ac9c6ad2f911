"""The layers stay apart: the API and the CLI never import the worker side (they meet in
shared/), and no model library is installed where VoxQueue runs (models live behind HTTP)."""

import ast
import subprocess
import sys

import pytest

from deploy.stack import REPO

MODEL_LIBRARIES = ("vllm", "torch", "transformers", "fish_speech")

LOADED = """
import sys
import {module}
print(' '.join(sorted(name for name in sys.modules if name == 'workers' or name.startswith('workers.'))))
"""


@pytest.mark.parametrize("module", ["api.main", "cli.main"])
def test_importing_the_api_or_the_cli_loads_no_worker_module(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(module=module)], capture_output=True, text=True, check=True, cwd=REPO
    )

    assert done.stdout.split() == []


@pytest.mark.parametrize("package", ["api", "cli", "shared"])
def test_no_module_of_the_api_cli_or_shared_names_the_worker_side(package: str) -> None:
    """Also imports made inside functions, which importing a module does not run."""
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] == "workers"]
    assert offenders == []


def test_the_project_environment_has_no_model_library() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import importlib.util as u; print([m for m in {MODEL_LIBRARIES!r} if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.strip() == "[]"
