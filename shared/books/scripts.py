"""Reading bulk scripts: plain text (a paragraph per line, `# ` headings start chapters), CSV, JSONL, or an
EPUB book (shared/books/epub.py)."""

import csv
import io
import json
from dataclasses import dataclass, replace
from typing import Literal

from shared.books.epub import read_epub
from shared.books.store import BookInfo
from shared.errors import BadInput, TooLarge
from shared.jobs.contracts import ScriptLine
from shared.models import NAME_CHARS
from shared.text.sentences import clean

ScriptFormat = Literal["text", "csv", "jsonl", "epub"]
_FORMATS: dict[str, ScriptFormat] = {"text": "text", "csv": "csv", "jsonl": "jsonl", "epub": "epub"}
_HEADING = "# "  # a plain-text line starting so starts a chapter with the rest as its title


@dataclass(frozen=True)
class Script:
    lines: list[ScriptLine]
    book: BookInfo | None = None  # chapters (and a cover): an EPUB, or a text with headings


def detect_format(filename: str | None, explicit: str | None) -> ScriptFormat:
    if explicit:
        if explicit not in _FORMATS:
            raise BadInput(f"unknown script format {explicit!r}; use text, csv, jsonl or epub")
        return _FORMATS[explicit]
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".epub"):
        return "epub"
    return "text"


def parse_script(data: bytes, fmt: ScriptFormat, max_lines: int, max_chars: int) -> Script:
    """Parse an upload into lines; raises BadInput naming the first problem, before anything is stored."""
    if not data.strip():
        raise BadInput("the uploaded script is empty")
    book = None
    if fmt == "epub":
        epub = read_epub(data, max_lines, max_chars)
        lines, book = epub.lines, epub.info
    else:
        lines, book = _lines(data, fmt)
    if not lines:
        raise BadInput("the script has no lines with text")
    if len(lines) > max_lines:
        raise TooLarge(f"the script has {len(lines)} lines; the limit is {max_lines}")
    for line in lines:
        if len(line.text) > max_chars:
            raise TooLarge(f"line {line.number} has {len(line.text)} characters; the limit is {max_chars}")
    return Script(lines, book)


def _lines(data: bytes, fmt: ScriptFormat) -> tuple[list[ScriptLine], BookInfo | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"the script is not UTF-8 text (invalid byte at offset {exc.start})") from None
    if fmt == "csv":
        lines = _csv_lines(text)
    elif fmt == "jsonl":
        lines = _jsonl_lines(text)
    else:
        return _text_lines(text)
    return lines, None


def _text_lines(text: str) -> tuple[list[ScriptLine], BookInfo | None]:
    """A paragraph per line. A line starting with `# ` starts a chapter titled by the rest of it,
    and is spoken as the chapter's first line; lines before the first heading are a chapter of
    their own ("Front matter")."""
    lines: list[ScriptLine] = []
    titles: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        spoken = clean(raw)
        if raw.startswith(_HEADING):
            spoken = clean(raw[len(_HEADING) :])
            if not spoken:
                raise BadInput(f"line {number}: a chapter heading ('# ') with no title")
            titles.append(spoken)
        lines.append(ScriptLine(number, spoken, chapter=len(titles) or None))
    if not titles:
        return lines, None
    if lines[0].chapter is None:  # text before the first heading
        titles.insert(0, "Front matter")
        lines = [replace(line, chapter=(line.chapter or 0) + 1) for line in lines]
    return lines, BookInfo(titles)


def _csv_lines(text: str) -> list[ScriptLine]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    if "text" not in columns:
        raise BadInput(f"the CSV has no 'text' column (columns: {', '.join(columns) or 'none'})")
    reader.fieldnames = columns
    lines = []
    for number, row in enumerate(reader, 2):  # line 1 is the header
        lines.append(_line(number, row.get("text"), row.get("voice"), row.get("id")))
    return lines


def _jsonl_lines(text: str) -> list[ScriptLine]:
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadInput(f"line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise BadInput(f"line {number}: expected a JSON object with a 'text' field")
        for field in ("text", "voice", "id"):
            value = record.get(field)
            if value is not None and not isinstance(value, str | int):
                raise BadInput(f"line {number}: '{field}' must be a string")
        ident = record.get("id")
        lines.append(_line(number, record.get("text"), record.get("voice"), None if ident is None else str(ident)))
    return lines


def _line(number: int, text: object, voice: object, ident: object) -> ScriptLine:
    if not isinstance(text, str) or not clean(text):
        raise BadInput(f"line {number}: empty or missing text")
    line_id = str(ident).strip() or None if ident is not None else None
    voice_name = (voice or "").strip() or None if isinstance(voice, str) else None
    for field, value in (("id", line_id), ("voice", voice_name)):
        if value is not None and len(value) > NAME_CHARS:
            raise TooLarge(f"line {number}: the {field} has {len(value)} characters; the limit is {NAME_CHARS}")
    return ScriptLine(number, clean(text), voice_name, line_id)
