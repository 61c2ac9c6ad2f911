"""`voxq lexicon`: the tenant's pronunciation lexicon, from and to a TSV file (word, tab, reading)."""

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from cli.client import ApiError, Client
from cli.exit_codes import ExitCode
from shared.config import get_settings

EPILOG = """\
\b
Examples:
  printf '重庆\\tchong2 qing4\\nVoxQueue\\t沃克斯队列\\n' > lexicon.tsv
  voxq lexicon set lexicon.tsv        # replaces the whole lexicon
  voxq lexicon show                   # the entries as stored
  voxq lexicon show --tsv > backup.tsv
  voxq lexicon clear
"""

lexicon_app = typer.Typer(
    help="The pronunciation lexicon: words said as a respelling or as pinyin with tone numbers.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def read_tsv(path: Path) -> dict[str, str]:
    """Entries from a file of `word<TAB>reading` lines; blank lines and lines starting with # are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, tab, reading = line.partition("\t")
        if not tab or "\t" in reading:
            _fail(f"{path}:{number}: expected a word, one tab, and its reading")
        if word.strip() in entries:
            _fail(f"{path}:{number}: {word.strip()!r} is in the file twice")
        entries[word.strip()] = reading.strip()
    return entries


@lexicon_app.command("set")
def set_lexicon(file: Annotated[Path, typer.Argument(help="TSV file: word, a tab, what is said.")]) -> None:
    """Replace the whole lexicon with the file's entries (nothing is stored if one is refused)."""
    entries = read_tsv(file)
    try:
        stored = Client(get_settings()).json("PUT", "/v1/lexicon", json={"entries": entries})
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)
    console.print(f"{len(stored['entries'])} entries stored (version {stored['version'][:12]})")


@lexicon_app.command("show")
def show_lexicon(
    tsv: Annotated[bool, typer.Option(help="Print as TSV, as `voxq lexicon set` reads it.")] = False,
) -> None:
    """The entries as stored: cleaned, pinyin as syllables with one space between."""
    try:
        stored = Client(get_settings()).json("GET", "/v1/lexicon")
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)
    if tsv:
        for word, reading in stored["entries"].items():
            typer.echo(f"{word}\t{reading}")
        return
    table = Table(title=f"lexicon ({len(stored['entries'])} entries)")
    table.add_column("word")
    table.add_column("said as")
    for word, reading in stored["entries"].items():
        table.add_row(word, reading)
    console.print(table)


@lexicon_app.command("clear")
def clear_lexicon() -> None:
    """Remove every entry."""
    try:
        Client(get_settings()).request("DELETE", "/v1/lexicon")
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)
    console.print("lexicon cleared")
