"""The layers stay apart: the API and the CLI never import the worker side (they meet in
shared/), every import between packages is one the table below allows, and no model library
is installed where VoxQueue runs (models live behind HTTP)."""

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


# The table of layers. A unit is a top-level package, or, inside shared/, one of its packages
# or root modules (shared.jobs, shared.config, ...). A module may import anything of its own
# unit and, of the others, what its row names: a unit, or a single module (shared.jobs.lanes).
# Imports inside functions count too, and so do those under `if TYPE_CHECKING:`.
TOP_LEVEL = ("api", "cli", "workers", "shared", "bench", "deploy", "tests")
# Under everything: settings, schema, errors, the database and Redis clients, the counters.
SHARED_ROOT = ("shared.config", "shared.errors", "shared.models", "shared.db", "shared.redis", "shared.metrics")
# Libraries the job code calls, each usable (and tested, and benchmarked) alone.
SHARED_LEAVES = ("shared.text", "shared.audio", "shared.voices", "shared.dialect")

MAY_IMPORT: dict[str, tuple[str, ...]] = {
    # The submitting side meets the workers only through shared/ (the database, the queue):
    # the API and the CLI load no Celery task, engine client or their imports, and ship
    # without the workers. Neither imports the other: the CLI talks to the API over HTTP.
    "api": ("shared",),
    "cli": ("shared",),
    # The workers run what was submitted; the HTTP layer and the command line may change
    # without a worker image built again.
    "workers": ("shared",),
    # Starts the API and the workers as processes, by their command lines, never by importing
    # them: the tests and benchmarks that import the launcher load none of their code.
    "deploy": ("shared",),
    # A benchmark measures what ships, driven as a user or an operator would (the CLI, the
    # launcher, one worker's engine client alone): never the API's internals, never a test's
    # fixtures or stand-ins.
    "bench": ("shared", "cli", "workers", "deploy"),
    "tests": TOP_LEVEL,  # tests reach whatever they check
    # shared/ never imports api, cli, workers, bench, deploy or tests: it is what they share.
    "shared": (),  # the package itself: nothing, so that importing one of its modules costs no other
    # Read by every process before anything else (and by alembic): nothing of VoxQueue.
    "shared.config": (),
    "shared.errors": (),
    "shared.models": (),
    "shared.db": ("shared.config",),
    "shared.redis": ("shared.config",),
    # The queue depths are read per queue and lane: shared.jobs.lanes is plain names (it
    # imports only shared.models), so shared.jobs.state counting cache hits here makes a
    # cycle of packages but none of modules. No other module of shared.jobs.
    "shared.metrics": ("shared.redis", "shared.jobs.lanes"),
    "shared.migrate": ("shared.config",),
    "shared.migrations": ("shared.config", "shared.db", "shared.models"),  # alembic's env.py
    # The leaves know nothing of jobs, tenants or webhooks (nor of books, which build on jobs):
    # a job is made of them, not the reverse. They may use one another.
    **dict.fromkeys(SHARED_LEAVES, SHARED_ROOT + SHARED_LEAVES),
    # A book is built from a finished batch's jobs; tenants and webhooks are not its business.
    "shared.books": SHARED_ROOT + SHARED_LEAVES + ("shared.jobs",),
    # Submission is where everything meets: quotas, voices, text, callbacks, books, the queue.
    "shared.jobs": ("shared",),
    # A tenant's quota counts the jobs it submits, and the webhook sweep reads job state, so
    # both import shared.jobs (whose submit and reconcile import them back: a cycle of
    # packages, none of modules). Neither imports the other: a tenant's limits and its
    # callbacks change apart.
    "shared.tenants": SHARED_ROOT + ("shared.jobs",),
    "shared.webhooks": SHARED_ROOT + ("shared.jobs",),
}

# What the table must never allow, whatever is added to it: the rules above that are the
# architecture rather than what the code happens to use today.
NEVER: list[tuple[str, str]] = [
    *[(side, "workers") for side in ("api", "cli")],
    *[("workers", side) for side in ("api", "cli")],
    *[("bench", other) for other in ("api", "tests")],
    *[
        (unit, other)
        for unit in MAY_IMPORT
        if unit.split(".")[0] == "shared"
        for other in TOP_LEVEL
        if other != "shared"
    ],
    *[(leaf, other) for leaf in SHARED_LEAVES for other in ("shared.jobs", "shared.tenants", "shared.webhooks")],
    ("shared.tenants", "shared.webhooks"),
    ("shared.webhooks", "shared.tenants"),
]

# Imports that break the table today, each with what would mend it. The test below fails
# too once one of them is gone, so that this list only shrinks.
KNOWN_BREACHES: dict[str, str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "shared" and len(parts) > 1 else parts[0]


def is_module(name: str) -> bool:
    where = REPO.joinpath(*name.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def imported(path: Path) -> Iterator[str]:
    """Every project module `path` imports, anywhere in it; `from a import b` is module a.b
    when b is a module, and a otherwise."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1 packages
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([base] if base else [])])
            for alias in node.names:
                yield f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base


def project_modules() -> Iterator[tuple[Path, str]]:
    for top in TOP_LEVEL:
        for path in sorted((REPO / top).rglob("*.py")):
            yield path, module_name(path)


def allowed(unit: str, module: str) -> bool:
    """Whether a module of `unit` may import `module`."""
    if unit_of(module) == unit:
        return True
    return any(module == name or module.startswith(name + ".") for name in MAY_IMPORT[unit])


def breaches() -> list[str]:
    """`path: module` for every import the table does not allow, each once."""
    found: dict[str, None] = {}
    for path, name in project_modules():
        for module in imported(path):
            if module.split(".")[0] in TOP_LEVEL and not allowed(unit_of(name), module):
                found[f"{path.relative_to(REPO)}: {module}"] = None
    return list(found)


def test_every_package_has_its_row_in_the_table_of_layers() -> None:
    units = {unit_of(name) for _, name in project_modules()}

    assert sorted(units - set(MAY_IMPORT)) == []


def test_every_import_between_packages_is_one_the_table_of_layers_allows() -> None:
    offenders = [found for found in breaches() if found not in KNOWN_BREACHES]

    assert offenders == [], "imports the table of layers does not allow:\n" + "\n".join(offenders)


def test_the_known_breaches_of_the_layers_are_still_there_until_mended() -> None:
    """Remove an entry of KNOWN_BREACHES once its import is gone."""
    assert sorted(set(KNOWN_BREACHES) - set(breaches())) == []


def test_the_table_of_layers_allows_nothing_the_architecture_forbids() -> None:
    allowing = [(unit, other) for unit, other in NEVER if allowed(unit, other)]

    assert allowing == []


WORKER_LOADED = """
import sys
import workers.tts.tasks, workers.books.tasks
unwanted = ('shared.tenants', 'shared.webhooks', 'shared.dialect.detector', 'api', 'cli')
print(' '.join(sorted(n for n in sys.modules if n in unwanted or n.startswith(tuple(u + '.' for u in unwanted)))))
"""


def test_a_tts_or_media_worker_loads_no_quota_webhook_or_dialect_detector_code() -> None:
    """What a worker imports is what it runs: creating a spoken line's job needs none of the
    submission's quota, webhook or dialect code (shared/jobs/synthesis.py, not submit.py)."""
    done = subprocess.run([sys.executable, "-c", WORKER_LOADED], capture_output=True, text=True, check=True, cwd=REPO)

    assert done.stdout.split() == []
