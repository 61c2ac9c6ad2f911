"""Reading bulk scripts: plain text (a paragraph per line, `# ` headings start chapters), CSV, JSONL, or an
EPUB book (shared/books/epub.py)."""

import csv
import io
import unicodedata
from dataclasses import dataclass, replace
from typing import Literal

from shared.books.epub import read_epub
from shared.books.store import BookInfo
from shared.errors import BadInput, BadLine, TooLarge
from shared.jobs.contracts import ScriptLine
from shared.models import NAME_CHARS
from shared.text.json_input import loads
from shared.text.sentences import clean

ScriptFormat = Literal["text", "csv", "jsonl", "epub"]
_FORMATS: dict[str, ScriptFormat] = {"text": "text", "csv": "csv", "jsonl": "jsonl", "epub": "epub"}
_HEADING = "# "  # a plain-text line starting so starts a chapter with the rest as its title
_FIELDS = ("text", "voice", "id")  # of a line: a CSV's columns, a JSONL object's keys


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
        if raw.startswith(_HEADING):
            spoken = clean(raw[len(_HEADING) :])
            if not spoken:
                raise BadLine(f"line {number}: a chapter heading ('# ') with no title", number)
            titles.append(spoken)
        else:
            spoken = _visible(number, raw)
        lines.append(ScriptLine(number, spoken, chapter=len(titles) or None))
    if not titles:
        return lines, None
    if lines[0].chapter is None:  # text before the first heading
        titles.insert(0, "Front matter")
        lines = [replace(line, chapter=(line.chapter or 0) + 1) for line in lines]
    return lines, BookInfo(titles)


def _csv_lines(text: str) -> list[ScriptLine]:
    """A row per line, numbered as the file's lines are (blank lines and line breaks inside
    quotes count), so that "line N" is where an editor shows it. Strict: a quote never closed
    would otherwise swallow the rest of the file into one line, and a row of more fields than
    the header (an unquoted comma in the text) would lose the text after it."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1  # the line the row being read starts on
    try:
        columns = [c.strip() for c in next(reader, [])]
        if "text" not in columns:
            raise BadInput(f"the CSV has no 'text' column (columns: {', '.join(columns) or 'none'})")
        for name in _FIELDS:
            if columns.count(name) > 1:
                raise BadInput(f"the CSV has {columns.count(name)} columns named {name!r}")
        lines = []
        start = reader.line_num + 1
        for row in reader:
            if row:  # else a blank line
                if len(row) != len(columns):
                    fields = f"{len(row)} field{'s' * (len(row) != 1)}"
                    raise BadLine(f"line {start} has {fields} where the header has {len(columns)}", start)
                cells = dict(zip(columns, row, strict=True))
                lines.append(_line(start, cells["text"], cells.get("voice"), cells.get("id")))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _csv_error(start, exc) from None
    return lines


def _csv_error(line: int, exc: csv.Error) -> BadInput:
    # The csv module names its problems only in its messages.
    if str(exc).startswith("field larger than field limit"):
        return TooLarge(f"line {line}: a field has more than {csv.field_size_limit()} characters")
    if str(exc) == "unexpected end of data":
        return BadLine(f"line {line}: a quoted field is never closed (a '\"' is missing)", line)
    return BadLine(f"line {line}: not valid CSV ({exc})", line)


def _jsonl_lines(text: str) -> list[ScriptLine]:
    lines = []
    # Records end at "\n" (JSON Lines), not at every break splitlines() knows: a JSON string may
    # hold U+2028 or U+0085 as they are, and a record cut there would be two broken ones.
    for number, raw in enumerate(text.split("\n"), 1):
        raw = raw.removesuffix("\r")
        if not raw.strip():
            continue
        try:
            record = loads(raw)
        except ValueError as exc:
            raise BadLine(f"line {number}: not valid JSON ({exc})", number) from None
        if not isinstance(record, dict):
            raise BadLine(f"line {number}: expected a JSON object with a 'text' field", number)
        for field in _FIELDS:
            value = record.get(field)
            if value is not None and not isinstance(value, str | int):
                raise BadLine(f"line {number}: '{field}' must be a string", number)
        ident = record.get("id")
        lines.append(_line(number, record.get("text"), record.get("voice"), None if ident is None else str(ident)))
    return lines


def _line(number: int, text: object, voice: object, ident: object) -> ScriptLine:
    if text is not None and not isinstance(text, str):
        raise BadLine(f"line {number}: 'text' must be a string", number)
    if not text or not text.strip():
        raise BadLine(f"line {number}: empty or missing text", number)
    spoken = _visible(number, text)
    line_id = str(ident).strip() or None if ident is not None else None
    voice_name = (voice or "").strip() or None if isinstance(voice, str) else None
    for field, value in (("id", line_id), ("voice", voice_name)):
        if value is not None and len(value) > NAME_CHARS:
            raise TooLarge(f"line {number}: the {field} has {len(value)} characters; the limit is {NAME_CHARS}")
        # A NUL is no text to Postgres (it refuses the row), and other control characters in a
        # name only hide what it is: refused here, naming the line, rather than failing the batch.
        control = next((c for c in value or "" if unicodedata.category(c) == "Cc"), None)
        if control is not None:
            raise BadLine(f"line {number}: the {field} holds a control character (U+{ord(control):04X})", number)
    return ScriptLine(number, spoken, voice_name, line_id)


def _visible(number: int, text: str) -> str:
    """The line cleaned; BadLine if nothing is left (zero-width spaces, NULs, byte-order marks,
    control characters): such a line would be stored as empty and fail only in a worker."""
    cleaned = clean(text)
    if not cleaned:
        shown = " ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(text.strip()))
        raise BadLine(f"line {number} holds only invisible characters ({shown}): there is nothing to speak", number)
    return cleaned
