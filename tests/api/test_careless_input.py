"""Careless input to the batch routes (POST /v1/batches, /v1/dialect/batch, /v1/generate/batch):
each is a 4xx JSON error whose message names the problem, and nothing is stored. A line with
nothing visible in it is refused at submission, its number in the error, not left to fail in a
worker."""

import csv
import io
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from deploy.epub_factory import make_epub
from shared.config import get_settings
from shared.db import session_scope
from shared.models import Batch, Job

CONTAINER = "META-INF/container.xml"
ENCRYPTION = "META-INF/encryption.xml"
GOOD_CONTAINER = (
    '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0"><rootfiles>'
    '<rootfile full-path="EPUB/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'
)


def stored() -> tuple[int, int]:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Job)) or 0,
            session.scalar(select(func.count()).select_from(Batch)) or 0,
        )


def refusal(response: httpx.Response, status: int, problem: str) -> dict[str, object]:
    """The error of a refused request: its status, a JSON body of one error, typed, naming `problem`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, object] = body["error"]
    assert error["type"] in {"bad_input", "too_large"}, error
    assert problem in str(error["message"]), error["message"]
    return error


def upload(client: TestClient, name: str, data: bytes, **form: str) -> httpx.Response:
    return client.post("/v1/batches", files={"file": (name, data)}, data={"voice": "cmn", **form})


# --- EPUBs: a good book with one of its files changed -------------------------------------


def epub_with(files: dict[str, bytes | None]) -> bytes:
    """The factory's book, each file of `files` replaced (added if new; dropped if None)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_epub())) as source, zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            if info.filename not in files:
                archive.writestr(info, source.read(info))
        for name, data in files.items():
            if data is not None:
                archive.writestr(name, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def declaring(encoding: str, document: str = GOOD_CONTAINER) -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?>{document}'.encode()


def central_entry(book: bytearray, name: str) -> int:
    """Where the zip's central directory entry of `name` starts."""
    entry = book.index(b"PK\x01\x02")
    while book[entry + 46 : entry + 46 + len(name)] != name.encode():
        entry = book.index(b"PK\x01\x02", entry + 4)
    return entry


def broken(book: bytes, name: str, damage: Callable[[bytearray, zipfile.ZipInfo, int], None]) -> bytes:
    """`book` with its zip entry `name` damaged in place by `damage(book, info, data_start)`."""
    damaged = bytearray(book)
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        info = archive.getinfo(name)
    damage(damaged, info, info.header_offset + 30 + len(info.filename.encode()) + len(info.extra))
    return bytes(damaged)


def flip_a_byte(book: bytearray, info: zipfile.ZipInfo, start: int) -> None:
    book[start + info.compress_size // 2] ^= 0xFF  # inflates, or not, to bytes whose CRC-32 is wrong


def cut_short(book: bytearray, info: zipfile.ZipInfo, _start: int) -> None:
    # Both headers, the local one and the central directory's, say the data is half as long.
    struct.pack_into("<I", book, info.header_offset + 18, info.compress_size // 2)
    struct.pack_into("<I", book, central_entry(book, info.filename) + 20, info.compress_size // 2)


def offset_past_any_seek(book: bytearray, info: zipfile.ZipInfo, _start: int) -> None:
    # The central directory's entry says its file starts at 2**63 (a zip64 extra field), which
    # no seek can reach; the directory grows by the field.
    entry = central_entry(book, info.filename)
    assert struct.unpack_from("<H", book, entry + 30) == (0,)  # no extra field yet
    zip64 = struct.pack("<HHQ", 1, 8, 2**63)
    struct.pack_into("<H", book, entry + 30, len(zip64))
    struct.pack_into("<I", book, entry + 42, 0xFFFFFFFF)
    book[entry + 46 + len(info.filename) : entry + 46 + len(info.filename)] = zip64
    end = book.rindex(b"PK\x05\x06")
    struct.pack_into("<I", book, end + 12, struct.unpack_from("<I", book, end + 12)[0] + len(zip64))


# --- the cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str  # the uploaded file's name, which chooses its format
    data: bytes
    status: int
    problem: str  # in the error's message
    form: dict[str, str] = field(default_factory=dict)


ONE_LINE = "你好。\n".encode()
CSV_FIELD_LIMIT = csv.field_size_limit()

CASES = {
    # CSV
    "csv-no-header": Case("s.csv", "你好。\n再见。\n".encode(), 400, "the CSV has no 'text' column (columns: 你好。)"),
    "csv-wrong-header": Case(
        "s.csv", "words,voice\n你好,cmn\n".encode(), 400, "no 'text' column (columns: words, voice)"
    ),
    "csv-text-cell-empty": Case("s.csv", "id,text\nq1,你好\nq2,\n".encode(), 400, "line 3: empty or missing text"),
    "csv-text-column-missing-in-a-row": Case(
        "s.csv", b"id,text\nq1\n", 400, "line 2 has 1 field where the header has 2"
    ),
    "csv-ragged-long-row": Case(
        "s.csv", "id,text\nq1,你好,世界\n".encode(), 400, "line 2 has 3 fields where the header has 2"
    ),
    "csv-ragged-short-row": Case(
        "s.csv", "id,text,voice\nq1,你好,cmn\nq2,再见\n".encode(), 400, "line 3 has 2 fields where the header has 3"
    ),
    "csv-nul-only-cell": Case("s.csv", "text\n你好\n\x00\n".encode(), 400, "line 3 holds only invisible characters"),
    "csv-quote-never-closed": Case(
        "s.csv", 'id,text\nq1,"你好\nq2,再见\n'.encode(), 400, "line 2: a quoted field is never closed"
    ),
    "csv-text-after-closing-quote": Case("s.csv", 'text\n"你好"世界\n'.encode(), 400, "line 2: not valid CSV"),
    "csv-utf16-with-bom": Case("s.csv", "text\n你好\n".encode("utf-16"), 400, "not UTF-8 text"),
    "csv-bom-only-cell": Case("s.csv", "text\n你好\n\ufeff\n".encode(), 400, "line 3 holds only invisible characters"),
    "csv-field-over-the-csv-modules-limit": Case(
        "s.csv", ("text\n" + "好" * (CSV_FIELD_LIMIT + 1) + "\n").encode(), 413, "line 2: a field has more than"
    ),
    "csv-text-over-the-line-limit": Case(
        "s.csv", ("text\n" + "好" * 6000 + "\n").encode(), 413, "line 2 has 6000 characters; the limit is"
    ),
    "csv-header-only": Case("s.csv", b"id,text\n", 400, "the script has no lines with text"),
    "csv-column-twice": Case("s.csv", "text,text\n你好,再见\n".encode(), 400, "the CSV has 2 columns named 'text'"),
    # JSONL
    "jsonl-string-line": Case("s.jsonl", '"你好"\n'.encode(), 400, "line 1: expected a JSON object"),
    "jsonl-number-line": Case("s.jsonl", b'{"text": "ok"}\n42\n', 400, "line 2: expected a JSON object"),
    "jsonl-text-a-number": Case("s.jsonl", b'{"text": 5}\n', 400, "line 1: 'text' must be a string"),
    "jsonl-text-a-list": Case("s.jsonl", '{"text": ["你好"]}\n'.encode(), 400, "line 1: 'text' must be a string"),
    "jsonl-no-text": Case("s.jsonl", b'{"id": "q1"}\n', 400, "line 1: empty or missing text"),
    "jsonl-blank-lines-are-counted": Case(
        "s.jsonl", '{"text": "你好"}\n\n\n{"text": null}\n'.encode(), 400, "line 4: empty or missing text"
    ),
    "jsonl-invalid-utf8": Case("s.jsonl", b'{"text": "caf\xe9"}\n', 400, "not UTF-8 text (invalid byte at offset 13)"),
    "jsonl-a-json-array": Case(
        "s.jsonl", '[{"text": "你好"}, {"text": "再见"}]\n'.encode(), 400, "line 1: expected a JSON object"
    ),
    "jsonl-not-json": Case("s.jsonl", b'{"text": "a"}\n{"text": \n', 400, "line 2: not valid JSON"),
    "jsonl-nested-too-deeply": Case(
        "s.jsonl", b'{"text": ' + b"[" * 100_000 + b"\n", 400, "line 1: not valid JSON (nested too deeply)"
    ),
    "jsonl-number-too-long": Case(
        "s.jsonl",
        b'{"text": "ok", "id": ' + b"9" * 5000 + b"}\n",
        400,
        "line 1: not valid JSON (a number of more than 4300 digits)",
    ),
    "jsonl-lone-surrogate-text": Case("s.jsonl", b'{"text": "\\ud800"}\n', 400, "line 1: not valid JSON (a \\u escape"),
    "jsonl-lone-surrogate-voice": Case(
        "s.jsonl", b'{"text": "ok", "voice": "\\ud800"}\n', 400, "line 1: not valid JSON (a \\u escape"
    ),
    "jsonl-lone-surrogate-id": Case("s.jsonl", b'{"text": "ok", "id": "\\udfff"}\n', 400, "line 1: not valid JSON"),
    "jsonl-invisible-text": Case(
        "s.jsonl", b'{"text": "ok"}\n{"text": "\\u200b\\u0000"}\n', 400, "line 2 holds only invisible characters"
    ),
    # Plain text
    "text-not-utf8": Case("s.txt", "早上好".encode("gb18030"), 400, "not UTF-8 text"),
    "text-empty": Case("s.txt", b"", 400, "the uploaded script is empty"),
    "text-only-blank-lines": Case("s.txt", b"\n \r\n\t\n", 400, "the uploaded script is empty"),
    # The form's fields
    "dialect-voices-not-json": Case(
        "s.txt", ONE_LINE, 400, "dialect_voices is not valid JSON", {"dialect_voices": "{粤语: yue}"}
    ),
    "dialect-voices-a-list": Case(
        "s.txt", ONE_LINE, 400, "dialect_voices must be a JSON object", {"dialect_voices": '["yue"]'}
    ),
    "dialect-voices-value-not-a-string": Case(
        "s.txt", ONE_LINE, 400, "dialect_voices must be a JSON object", {"dialect_voices": '{"粤语": 1}'}
    ),
    "dialect-voices-unknown-dialect": Case(
        "s.txt", ONE_LINE, 400, "unknown dialects: 火星话", {"dialect_voices": '{"火星话": "yue"}'}
    ),
    "dialect-voices-nested-too-deeply": Case(
        "s.txt",
        ONE_LINE,
        400,
        "dialect_voices is not valid JSON (nested too deeply)",
        {"dialect_voices": "[" * 100_000},
    ),
    "dialect-voices-number-too-long": Case(
        "s.txt",
        ONE_LINE,
        400,
        "dialect_voices is not valid JSON (a number of more than 4300 digits)",
        {"dialect_voices": '{"粤语": ' + "9" * 5000 + "}"},
    ),
    "dialect-voices-lone-surrogate-voice": Case(
        "s.txt",
        "佢哋今日去咗街市。\n".encode(),  # Cantonese: the mapping's voice is the one looked up
        400,
        "dialect_voices is not valid JSON (a \\u escape of half a surrogate pair",
        {"dialect_voices": '{"粤语": "\\udc00"}', "follow_dialect": "true"},
    ),
    "dialect-voices-lone-surrogate-dialect": Case(
        "s.txt", ONE_LINE, 400, "dialect_voices is not valid JSON", {"dialect_voices": '{"\\ud800": "yue"}'}
    ),
    # A NUL is no text to Postgres: stored as a line's id it failed the whole batch's insert.
    "jsonl-id-with-a-nul": Case(
        "s.jsonl",
        '{"text": "你好", "id": "q\\u00001"}\n'.encode(),
        400,
        "line 1: the id holds a control character (U+0000)",
    ),
    "csv-voice-with-a-control": Case(
        "s.csv", "text,voice\n你好,cmn\x07\n".encode(), 400, "line 2: the voice holds a control character (U+0007)"
    ),
    "unknown-priority": Case("s.txt", ONE_LINE, 400, "unknown priority 'urgent'", {"priority": "urgent"}),
    "unknown-script-format": Case("s.txt", ONE_LINE, 422, "script_format", {"script_format": "docx"}),
    "unknown-kind": Case("s.txt", ONE_LINE, 422, "kind", {"kind": "translate"}),
    "follow-dialect-not-a-bool": Case("s.txt", ONE_LINE, 422, "follow_dialect", {"follow_dialect": "perhaps"}),
    # EPUB
    "epub-not-a-zip": Case("book.epub", "第一章\n你好。\n".encode(), 400, "the EPUB is not a zip archive"),
    "epub-no-container": Case("book.epub", epub_with({CONTAINER: None}), 400, "has no META-INF/container.xml"),
    "epub-container-not-xml": Case(
        "book.epub", epub_with({CONTAINER: b"rootfile=EPUB/content.opf"}), 400, "META-INF/container.xml is not XML"
    ),
    "epub-container-names-a-missing-opf": Case(
        "book.epub",
        epub_with({CONTAINER: GOOD_CONTAINER.replace("content.opf", "gone.opf").encode()}),
        400,
        "META-INF/container.xml names EPUB/gone.opf, which is not in the zip",
    ),
    "epub-container-bad-crc": Case(
        "book.epub", broken(make_epub(), CONTAINER, flip_a_byte), 400, "META-INF/container.xml cannot be unpacked"
    ),
    "epub-container-truncated": Case(
        "book.epub", broken(make_epub(), CONTAINER, cut_short), 400, "META-INF/container.xml cannot be unpacked"
    ),
    "epub-container-at-an-offset-past-any-seek": Case(
        "book.epub",
        broken(make_epub(), CONTAINER, offset_past_any_seek),
        400,
        "META-INF/container.xml cannot be unpacked",
    ),
    "epub-encryption-at-an-offset-past-any-seek": Case(
        "book.epub",
        broken(epub_with({ENCRYPTION: b"<encryption/>"}), ENCRYPTION, offset_past_any_seek),
        400,
        "META-INF/encryption.xml cannot be unpacked",
    ),
    "epub-encryption-truncated": Case(
        "book.epub",
        broken(epub_with({ENCRYPTION: b"<encryption>" + b" " * 500 + b"</encryption>"}), ENCRYPTION, cut_short),
        400,
        "META-INF/encryption.xml cannot be unpacked",
    ),
    "epub-opf-bad-crc": Case(
        "book.epub", broken(make_epub(), "EPUB/content.opf", flip_a_byte), 400, "EPUB/content.opf cannot be unpacked"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_careless_upload_is_a_4xx_naming_the_problem_and_stores_nothing(client: TestClient, case: Case) -> None:
    before = stored()

    r = upload(client, case.name, case.data, **case.form)

    refusal(r, case.status, case.problem)
    assert stored() == before


@pytest.mark.parametrize(
    ("name", "data", "line"),
    [
        ("s.txt", "你好。\n\u200b\u200b\n再见。\n".encode(), 2),
        ("s.txt", "你好。\n\n\x00\n".encode(), 3),
        ("s.txt", "你好。\n\ufeff\n".encode(), 2),
        ("s.txt", "\ufeff\ufeff\n你好。\n".encode(), 1),  # the first mark is the file's, the second a line's
        ("s.txt", "你好。\n\u202e\u2060\x07\n".encode(), 2),
        ("s.txt", "你好。\n\u00ad\u180e\u2066\u2069\n".encode(), 2),
        ("s.txt", "# 第一章\n你好。\n\u200d\n".encode(), 3),
        ("s.csv", "id,text\nq1,你好\n\nq2,\u200b\n".encode(), 4),  # the blank line is counted
        ("s.jsonl", '{"text": "你好"}\n{"text": "\\ufeff"}\n'.encode(), 2),
    ],
    ids=[
        "zero-width-spaces",
        "nul",
        "bom",
        "bom-after-bom",
        "controls",
        "soft-hyphen-and-isolates",
        "after-a-heading",
        "csv",
        "jsonl",
    ],
)
def test_a_line_of_only_invisible_characters_is_a_400_carrying_its_number(
    client: TestClient, name: str, data: bytes, line: int
) -> None:
    before = stored()

    r = upload(client, name, data)

    error = refusal(r, 400, f"line {line} holds only invisible characters")
    assert error["line"] == line
    assert stored() == before


def test_an_error_about_the_whole_script_carries_no_line(client: TestClient) -> None:
    error = refusal(upload(client, "s.csv", b"words\nhi\n"), 400, "no 'text' column")

    assert "line" not in error


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("s.csv", "\ufeffid,text\nq1,你好\n".encode()),  # a byte-order mark before the header
        ("s.csv", 'id,text\nq1,"你好,\n世界"\n'.encode()),  # a quoted comma and line break
        ("s.csv", "id,text\r\nq1,你好\r\n\r\n".encode()),
        ("s.jsonl", '\n{"text": "你好", "id": 7}\n\n'.encode()),
        # Breaks that are no JSON Lines record end, unescaped in a string (valid JSON).
        ("s.jsonl", '{"text": "你好\u2028再见"}\r\n{"text": "第二行\u0085"}\r\n'.encode()),
        (
            "s.txt",
            "你好。\n\u3000\n再见\u200b。\n".encode(),
        ),  # a line of white space is blank; a ZWSP in text is dropped
        ("book.epub", epub_with({CONTAINER: declaring("gb2312")})),
        # Codecs that are no text encoding, or read nothing leniently: read as UTF-8, as an
        # encoding Python does not know is.
        ("book.epub", epub_with({CONTAINER: declaring("hex")})),
        ("book.epub", epub_with({CONTAINER: declaring("idna")})),
        ("book.epub", epub_with({ENCRYPTION: declaring("undefined", "<encryption/>")})),
    ],
    ids=[
        "csv-bom",
        "csv-quoted",
        "csv-crlf",
        "jsonl-blank-lines",
        "jsonl-line-separators-in-strings",
        "text-spaces",
        "epub-declared-gb2312",
        "epub-container-declared-hex",
        "epub-container-declared-idna",
        "epub-encryption-declared-undefined",
    ],
)
def test_careful_input_like_the_careless_is_accepted(client: TestClient, name: str, data: bytes) -> None:
    # What the refusals above are told apart from: none of it is refused.
    r = upload(client, name, data)

    assert r.status_code == 202, r.text


def test_a_csv_lines_are_numbered_as_the_file_counts_them(client: TestClient) -> None:
    script = 'id,text\nq1,你好\n\nq2,"第一段\n第二段"\nq3,再见\n'.encode()

    batch = upload(client, "s.csv", script).json()

    jobs = client.get(f"/v1/batches/{batch['id']}/jobs").json()
    assert [(j["line"], j["line_id"]) for j in jobs] == [(2, "q1"), (4, "q2"), (6, "q3")]


# --- the JSON batch routes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"items": []}, 422, "items"),
        ({"items": "你好"}, 422, "items"),
        ({"items": [{"id": "q1"}]}, 422, "items.0.text"),
        ({"items": [{"text": 5}]}, 422, "items.0.text"),
        ({"items": [{"text": "你好"}, {"text": "\u200b\x00"}]}, 400, "item 2: text is empty"),
        ({"items": [{"text": "好" * 6000}]}, 413, "items.0.text has 6000 characters"),
        ({"items": [{"text": "你好", "context": {"region": 1}}]}, 422, "items.0.context.region"),
        ([{"text": "你好"}], 422, "body"),
    ],
    ids=[
        "no-items",
        "items-a-string",
        "no-text",
        "text-a-number",
        "invisible-text",
        "text-too-long",
        "context",
        "array",
    ],
)
def test_a_careless_dialect_batch_is_a_4xx_and_stores_nothing(
    client: TestClient, body: object, status: int, problem: str
) -> None:
    before = stored()

    r = client.post("/v1/dialect/batch", json=body)

    refusal(r, status, problem)
    assert stored() == before


@pytest.mark.parametrize(
    ("content", "status", "problem"),
    [
        (b'{"items": [{"text": "\\ud800"}]}', 422, "items.0.text"),
        (b'{"items": [{"text": "caf\xe9"}]}', 400, "the body cannot be read: 'utf-8' codec can't decode byte 0xe9"),
        (b'{"items": [' * 10_000, 400, "the body cannot be read: maximum recursion depth exceeded"),
    ],
    ids=["lone-surrogate", "invalid-utf8", "nested-too-deeply"],
)
def test_a_dialect_batch_body_that_is_not_json_is_a_4xx(
    client: TestClient, content: bytes, status: int, problem: str
) -> None:
    before = stored()

    r = client.post("/v1/dialect/batch", content=content, headers={"Content-Type": "application/json"})

    refusal(r, status, problem)
    assert stored() == before


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"items": []}, 422, "items"),
        ({"items": [{"persona": "导游"}]}, 422, "items.0.input"),
        ({"items": [{"input": ""}]}, 400, "items.0.input is empty"),
        ({"items": [{"input": "你好", "temperature": "hot"}]}, 422, "items.0.temperature"),
        ({"items": [{"input": "你好", "speak": {"voice": "nobody"}}]}, 400, "unknown voice 'nobody'"),
        ({"items": [{"input": "你好", "stream": True}]}, 400, "stream is for a single reply"),
    ],
    ids=["no-items", "no-input", "empty-input", "temperature", "unknown-voice", "stream"],
)
def test_a_careless_generation_batch_is_a_4xx_and_stores_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, body: object, status: int, problem: str
) -> None:
    monkeypatch.setattr(get_settings(), "llm_url", "http://127.0.0.1:9/v1")  # never asked: refused first
    before = stored()

    r = client.post("/v1/generate/batch", json=body)

    refusal(r, status, problem)
    assert stored() == before
