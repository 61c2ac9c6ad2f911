"""Reading bulk scripts: plain text (a paragraph per line), CSV or JSONL."""

import csv
import io
import json
from typing import Literal

from shared.errors import BadInput, TooLarge
from shared.models import NAME_CHARS
from shared.submit import ScriptLine
from shared.text import clean

ScriptFormat = Literal["text", "csv", "jsonl"]
_FORMATS: dict[str, ScriptFormat] = {"text": "text", "csv": "csv", "jsonl": "jsonl"}


def detect_format(filename: str | None, explicit: str | None) -> ScriptFormat:
    if explicit:
        if explicit not in _FORMATS:
            raise BadInput(f"unknown script format {explicit!r}; use text, csv or jsonl")
        return _FORMATS[explicit]
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "text"


def parse_script(data: bytes, fmt: ScriptFormat, max_lines: int, max_chars: int) -> list[ScriptLine]:
    """Parse an upload into lines; raises BadInput naming the first problem, before anything is stored."""
    if not data.strip():
        raise BadInput("the uploaded script is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"the script is not UTF-8 text (invalid byte at offset {exc.start})") from None
    if fmt == "csv":
        lines = _csv_lines(text)
    elif fmt == "jsonl":
        lines = _jsonl_lines(text)
    else:
        lines = [ScriptLine(n, clean(raw)) for n, raw in enumerate(text.splitlines(), 1) if raw.strip()]
    if not lines:
        raise BadInput("the script has no lines with text")
    if len(lines) > max_lines:
        raise TooLarge(f"the script has {len(lines)} lines; the limit is {max_lines}")
    for line in lines:
        if len(line.text) > max_chars:
            raise TooLarge(f"line {line.number} has {len(line.text)} characters; the limit is {max_chars}")
    return lines


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
