"""An EPUB (or a script with `# ` headings) becomes one batch whose lines know their chapter; a
file that cannot be read as a book is a 400 naming the problem, and nothing is stored."""

import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from deploy.epub_factory import THREE_CHAPTERS, make_epub, with_drm
from shared.db import session_scope
from shared.models import Batch, BatchChapter, BatchCover, Job


def stored() -> tuple[int, ...]:
    with session_scope() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Job, Batch, BatchChapter, BatchCover)
        )


def post_book(client: TestClient, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post("/v1/batches", files={"file": (name, data)}, data={"voice": "cmn"})


@pytest.mark.parametrize("nav", [True, False], ids=["epub3-nav", "epub2-ncx"])
def test_an_epub_becomes_one_batch_with_its_chapters_titles_and_cover(client: TestClient, nav: bool) -> None:
    r = post_book(client, "四季.epub", make_epub(nav=nav))

    assert r.status_code == 202, r.text
    batch = r.json()
    assert [c["title"] for c in batch["chapters"]] == [title for title, _ in THREE_CHAPTERS]
    assert batch["options"]["book"] == {"title": "四季", "author": "王小明"}
    lines = client.get(f"/v1/batches/{batch['id']}/jobs").json()
    expected = [(n, t) for n, (title, paragraphs) in enumerate(THREE_CHAPTERS, 1) for t in [title, *paragraphs]]
    assert [(j["chapter"], j["input"]["text"]) for j in lines] == expected  # headings are spoken, "* * *" is not
    with session_scope() as session:
        cover = session.get(BatchCover, batch["id"])
        assert cover is not None and cover.media_type == "image/png" and cover.image.startswith(b"\x89PNG")


def test_front_matter_without_text_is_skipped(client: TestClient) -> None:
    # The cover page and an image-only title page come first in the spine; neither is a chapter.
    batch = post_book(client, "book.epub", make_epub()).json()

    assert [c["number"] for c in batch["chapters"]] == [1, 2, 3]
    first = client.get(f"/v1/batches/{batch['id']}/jobs", params={"limit": 1}).json()[0]
    assert (first["line"], first["chapter"], first["input"]["text"]) == (1, 1, THREE_CHAPTERS[0][0])


def test_a_plain_text_script_marks_chapters_with_hash_headings(client: TestClient) -> None:
    script = "前言很短。\n# 第一章 出发\n我们出发了。\n\n# 第二章 到达\n我们到了。\n#不是标题\n".encode()

    batch = post_book(client, "book.txt", script).json()

    assert [c["title"] for c in batch["chapters"]] == ["Front matter", "第一章 出发", "第二章 到达"]
    lines = client.get(f"/v1/batches/{batch['id']}/jobs").json()
    assert [(j["line"], j["chapter"]) for j in lines] == [(1, 1), (2, 2), (3, 2), (5, 3), (6, 3), (7, 3)]


def test_a_script_without_headings_has_no_chapters(client: TestClient) -> None:
    batch = post_book(client, "plain.txt", "第一行。\n第二行。\n".encode()).json()

    assert batch["chapters"] == []
    assert {j["chapter"] for j in client.get(f"/v1/batches/{batch['id']}/jobs").json()} == {None}


def _no_opf() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("EPUB/chapter.xhtml", "<html><body><p>你好</p></body></html>")
    return buffer.getvalue()


def _with_empty(name: str) -> bytes:
    """A good EPUB whose file `name` is there but empty."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_epub())) as source, zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            archive.writestr(info, b"" if info.filename == name else source.read(info))
        if name not in source.namelist():
            archive.writestr(name, b"")
    return buffer.getvalue()


def _with_broken(name: str) -> bytes:
    """A good EPUB whose file `name` no longer inflates (its deflate data is garbage)."""
    book = bytearray(make_epub())
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        info = archive.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    book[start : start + info.compress_size] = b"\xff" * info.compress_size
    return bytes(book)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"PK\x03\x04 this is no zip at all", "not a zip archive"),
        (_no_opf(), "no META-INF/container.xml"),
        (make_epub([("空白", [])], cover=False, headings=False), "no text to speak"),
        (with_drm(make_epub()), "DRM-protected: EPUB/text/chapter1.xhtml is encrypted"),
        (_with_empty("META-INF/container.xml"), "META-INF/container.xml is not XML"),
        (_with_empty("META-INF/encryption.xml"), "META-INF/encryption.xml is not XML"),
        (_with_broken("META-INF/container.xml"), "META-INF/container.xml cannot be unpacked"),
    ],
    ids=["not-a-zip", "no-opf", "no-text", "drm", "empty-container", "empty-encryption", "broken-container"],
)
def test_a_broken_or_protected_epub_is_400_naming_the_problem_and_stores_nothing(
    client: TestClient, data: bytes, problem: str
) -> None:
    before = stored()

    r = post_book(client, "bad.epub", data)

    assert r.status_code == 400, r.text
    assert problem in r.json()["error"]["message"]
    assert stored() == before


def test_a_heading_without_a_title_is_400(client: TestClient) -> None:
    r = post_book(client, "x.txt", "# \n内容。\n".encode())

    assert r.status_code == 400 and "line 1: a chapter heading" in r.json()["error"]["message"]


def test_a_zip_bomb_is_413_naming_the_limit_and_stores_nothing(client: TestClient) -> None:
    # 64 MiB of spaces in a chapter, 70 KB uploaded: refused after inflating a few MiB of it.
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_epub())) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in source.infolist():
            if info.filename != "EPUB/text/chapter1.xhtml":
                archive.writestr(info, source.read(info))
        with archive.open("EPUB/text/chapter1.xhtml", "w") as stream:
            stream.write(b"<html><body><p>")
            for _ in range(64):
                stream.write(b" " * 2**20)
            stream.write(b"</p></body></html>")
    before = stored()

    r = post_book(client, "bomb.epub", buffer.getvalue())

    assert r.status_code == 413, r.text
    assert "VOXQ_EPUB_MAX_COMPRESSION_RATIO" in r.json()["error"]["message"]
    assert stored() == before
