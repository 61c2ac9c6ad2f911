"""The documentation says what the code does: the configuration page is the generator's output,
and every `VOXQ_` variable, `voxq` command and relative link that README.md and docs/*.md name
exists. Fast: no server, no process."""

import importlib.util
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer

from cli.main import app
from shared.config import ALLOWED_VARIABLES, ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]

# VOXQ_ variables a page may name that are no setting: the ones shared/config.py already knows
# are not (ALLOWED_VARIABLES: the deploy files', the scripts', the tests'), and the Redis
# passwords deploy/compose.yaml substitutes into its URLs and the worker's ACL user.
NOT_SETTINGS = ALLOWED_VARIABLES | {"VOXQ_REDIS_PASSWORD", "VOXQ_REDIS_WORKER_PASSWORD"}

_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
_VARIABLE = re.compile(r"\b" + ENV_PREFIX + r"[A-Z0-9_]+\*?")
# `voxq` as a command: not a part of a path, a name or a value (deploy/voxq-api, voxq:finished,
# user=voxq), nor kubectl's namespace (`kubectl -n voxq ...`). A command's name is in lower case
# (BATCH_ID and POOL are placeholders).
_VOXQ = re.compile(r"(?<![\w./=-])(?<!-n )voxq(?=[ \t`]|$)")
_COMMAND_ENDS = re.compile(r"[`#;|&)]")
_NAME = re.compile(r"[a-z][a-z0-9-]*")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)


def _ids(page: Path) -> str:
    return str(page.relative_to(REPO))


def _prose(page: Path) -> str:
    """The page without its fenced code blocks."""
    return _FENCE.sub("", page.read_text(encoding="utf-8"))


@cache
def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_configuration", DOCS / "generate_configuration.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_page_is_what_its_generator_prints() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")

    assert page == _generator().render(), (
        "docs/configuration.md is stale: .venv/bin/python docs/generate_configuration.py > docs/configuration.md"
    )


def test_the_configuration_page_lists_every_setting() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")

    assert [name for name in Settings.model_fields if f"| `{ENV_PREFIX}{name.upper()}` |" not in page] == []


def unknown_variables(page: Path) -> list[str]:
    """The VOXQ_ names on the page that are neither a setting nor an allowed other; `VOXQ_MAX_*`
    stands for the settings it begins."""
    settings = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = []
    for name in _VARIABLE.findall(page.read_text(encoding="utf-8")):
        if name.endswith("*"):
            known = any(setting.startswith(name[:-1]) for setting in settings)
        else:
            known = name in settings or name in NOT_SETTINGS
        if not known:
            unknown.append(name)
    return sorted(set(unknown))


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_voxq_variable_a_page_names_is_a_setting(page: Path) -> None:
    assert unknown_variables(page) == []


def _options(command: Any) -> set[str]:
    """A command's long options (Typer's click command: its `params`)."""
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--"))
    return names


def named_commands(page: Path) -> Iterator[tuple[int, str]]:
    """(line number, what follows `voxq` up to the end of its command) for each `voxq` the page names."""
    lines = page.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        for found in _VOXQ.finditer(line):
            rest = line[found.end() :]
            if not rest.strip() and line[: found.start()].endswith("`") and number < len(lines):
                rest = lines[number]  # a code span wrapped after voxq: the command is on the next line
            yield number, _COMMAND_ENDS.split(rest, maxsplit=1)[0]


def wrong_commands(page: Path) -> list[str]:
    """`line: voxq ...` for each command, sub-command or option the page names that the CLI lacks."""
    root = typer.main.get_command(app)
    wrong = []
    for number, rest in named_commands(page):
        command: Any = root
        named: list[str] = []
        for word in rest.split():
            if word.startswith("--"):
                if word.split("=")[0] not in _options(command):
                    wrong.append(f"{number}: voxq {' '.join(named)} {word}")
                continue
            if not hasattr(command, "commands"):
                continue  # an argument or an option's value
            if not _NAME.fullmatch(word):
                break  # a placeholder (POOL), or `voxq` named in a sentence
            found = command.commands.get(word)
            if found is None:
                wrong.append(f"{number}: voxq {' '.join([*named, word])}")
                break
            command = found
            named.append(word)
    return wrong


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_voxq_command_a_page_names_exists(page: Path) -> None:
    assert wrong_commands(page) == []


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_prose(page)):
        slug = _slug(heading)
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return frozenset(found)


def broken_links(page: Path) -> list[str]:
    """Each relative link of the page whose file, or heading in a Markdown file, does not exist."""
    broken = []
    for target in _LINK.findall(_prose(page)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        no_heading = bool(fragment) and where.suffix == ".md" and fragment not in anchors(where)
        if not where.exists() or no_heading:
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_relative_link_of_a_page_leads_somewhere(page: Path) -> None:
    assert broken_links(page) == []
