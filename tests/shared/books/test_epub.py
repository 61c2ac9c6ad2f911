"""An EPUB is read within a budget (shared/books/epub.py, the VOXQ_EPUB_* settings): a zip bomb,
a zip that lies about its sizes, too many files or too deep a document is refused naming the
limit, before much is inflated; a table of contents of 50,000 entries is read in linear time;
documents are decoded by the encoding they declare; a missing image costs the book nothing;
a broken file is BadInput naming it."""

import io
import os
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import pytest

from deploy.epub_factory import THREE_CHAPTERS, make_epub
from shared.books.epub import Book, EpubLimits, read_epub
from shared.config import get_settings
from shared.errors import BadInput, TooLarge

MiB = 1024 * 1024
CHAPTER = "EPUB/text/chapter1.xhtml"
COVER = "EPUB/cover.png"
CONTAINER = "META-INF/container.xml"
# What reading a refused bomb may hold at once: the limits stop it long before this.
BOUNDED = 32 * MiB


def read(data: bytes, limits: EpubLimits | None = None, max_lines: int = 50_000) -> Book:
    return read_epub(data, max_lines, 5_000, limits)


def limits(**changes: int) -> EpubLimits:
    return replace(EpubLimits.from_settings(get_settings()), **changes)


def peak_of(action: Callable[[], object]) -> tuple[Exception | None, int]:
    """What `action` raised (None if nothing), and the most memory Python held meanwhile."""
    tracemalloc.start()
    try:
        action()
        raised = None
    except Exception as exc:
        raised = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return raised, peak


# --- books built here: good ones from deploy/epub_factory.py, bent in one place ---------


def rebuild(members: dict[str, Iterable[bytes]], *, drop: Iterable[str] = (), book: bytes | None = None) -> bytes:
    """The book with `members` written anew (streamed, highly compressed) and `drop` left out."""
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(book or make_epub()))
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            if info.filename not in members and info.filename not in drop:
                archive.writestr(info, source.read(info))
        for name, chunks in members.items():
            with archive.open(name, "w") as stream:
                for chunk in chunks:
                    stream.write(chunk)
    return out.getvalue()


def chapter(*body: bytes, head: bytes = b'<?xml version="1.0" encoding="utf-8"?>') -> Iterator[bytes]:
    yield head + b'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>'
    yield from body
    yield b"</p></body></html>"


def repeated(piece: bytes, size: int) -> Iterator[bytes]:
    block = piece * (MiB // len(piece))
    for _ in range(size // len(block)):
        yield block


def lying_about_its_size(size: int, claimed: int) -> bytes:
    """A chapter of `size` bytes of spaces whose central directory claims `claimed` (its CRC is true)."""
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(make_epub()))
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            if info.filename != CHAPTER:
                archive.writestr(info, source.read(info))
        with archive.open(CHAPTER, "w") as stream:
            for chunk in chapter(*repeated(b" ", size)):
                stream.write(chunk)
        archive.getinfo(CHAPTER).file_size = claimed  # written to the central directory on close
    return out.getvalue()


def with_files(count: int) -> bytes:
    out = io.BytesIO(make_epub())
    with zipfile.ZipFile(out, "a") as archive:
        for number in range(count):
            archive.writestr(f"EPUB/extra/{number}.txt", b"")
    return out.getvalue()


def corrupted(name: str, how: str) -> bytes:
    """The book with the data of `name` damaged: a changed byte (the CRC no longer matches its
    stored bytes), or deflate data that is not deflate."""
    book = make_epub()
    if how == "crc":  # stored, so the changed byte inflates fine and only the CRC can tell
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(book)) as source, zipfile.ZipFile(out, "w") as archive:
            for info in source.infolist():
                data = source.read(info)
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, data)
        book = out.getvalue()
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        info = archive.getinfo(name)
    header = bytearray(book[info.header_offset : info.header_offset + 30])
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    data = bytearray(book)
    if how == "crc":
        data[start + info.compress_size // 2] ^= 0x20
    else:
        data[start : start + info.compress_size] = b"\xff" * info.compress_size
    return bytes(data)


def listing_one_file_often(times: int) -> bytes:
    """The cover image (1 MiB that does not compress) listed `times` more times in the manifest."""
    with zipfile.ZipFile(io.BytesIO(make_epub())) as archive:
        opf = archive.read("EPUB/content.opf").decode()
    items = "".join(f'<item id="again{n}" href="cover.png" media-type="image/png"/>' for n in range(times))
    opf = opf.replace("</manifest>", items + "</manifest>")
    image = b"\x89PNG\r\n\x1a\n" + os.urandom(MiB)
    return rebuild({"EPUB/content.opf": [opf.encode()], COVER: [image]})


def table_of_contents(entries: int, documents: int) -> bytes:
    """`entries` sections, each a heading with an id and an entry of the nav, spread over
    `documents` documents; the nav names each document without its folder (text/), so every
    entry is resolved by its file name."""
    per = entries // documents
    manifest = ['<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>']
    spine, links, files = [], [], {}
    for d in range(documents):
        manifest.append(f'<item id="c{d}" href="text/c{d}.xhtml" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="c{d}"/>')
        body = "".join(f'<h2 id="s{k}">第{d}.{k}节</h2>' for k in range(per))
        files[f"OEBPS/text/c{d}.xhtml"] = f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{body}</body></html>'
        links.extend(f'<li><a href="c{d}.xhtml#s{k}">第{d}.{k}节</a></li>' for k in range(per))
    files["OEBPS/nav.xhtml"] = (
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body>'
        f'<nav epub:type="toc"><ol>{"".join(links)}</ol></nav></body></html>'
    )
    files["OEBPS/content.opf"] = (
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">toc</dc:identifier>'
        f"<dc:title>目录</dc:title></metadata><manifest>{''.join(manifest)}</manifest>"
        f"<spine>{''.join(spine)}</spine></package>"
    )
    files[CONTAINER] = (
        '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def encoded(encoding: str, declare: str) -> bytes:
    """make_epub's book with every XHTML document (the nav too) in `encoding`, declared by its
    XML declaration ("xml:NAME"), by a <meta> only ("meta:NAME"), or by its byte-order mark ("bom")."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_epub(GB_CHAPTERS))) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".xhtml"):
                text = data.decode()
                how, _, name = declare.partition(":")
                if how == "xml":
                    text = text.replace("encoding='utf-8'", f"encoding='{name}'")
                elif how == "meta":
                    text = text.split("\n", 1)[1].replace("<head>", f'<head><meta charset="{name}"/>')
                else:
                    text = text.replace("encoding='utf-8'", "encoding='UTF-16'")
                data = text.encode(encoding)
            archive.writestr(info, data)
    return out.getvalue()


# 们 and 镕 are GBK but not GB2312; 𠀀 is only in GB18030 (four bytes).
GB_CHAPTERS = [("第一章 我们", ["朱镕基说：我们出发了。", "𠀀是一个很少见的字。"]), *THREE_CHAPTERS[1:]]


# --- the budget ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("book", "limit"),
    [
        (rebuild({CHAPTER: chapter(*repeated(b" ", 64 * MiB))}), "VOXQ_EPUB_MAX_COMPRESSION_RATIO"),
        (rebuild({CHAPTER: chapter(*repeated(b"</p><p>x", 64 * MiB))}), "VOXQ_EPUB_MAX_DOCUMENT_BYTES"),
        (rebuild({COVER: repeated(b"\0", 64 * MiB)}), "VOXQ_EPUB_MAX_COMPRESSION_RATIO"),
    ],
    ids=["spaces-in-a-chapter", "millions-of-paragraphs", "zeros-as-the-cover"],
)
def test_a_zip_bomb_is_refused_naming_the_limit_before_it_is_inflated(book: bytes, limit: str) -> None:
    assert len(book) < 256 * 1024  # 64 MiB inside

    raised, peak = peak_of(lambda: read(book))

    assert isinstance(raised, TooLarge) and limit in str(raised)
    assert peak < BOUNDED


def test_a_zip_that_lies_about_a_size_is_never_trusted() -> None:
    # Its directory says 1 KB: zipfile stops there, and the CRC then tells the lie.
    book = lying_about_its_size(256 * MiB, claimed=1024)

    raised, peak = peak_of(lambda: read(book))

    assert isinstance(raised, BadInput) and not isinstance(raised, TooLarge)
    assert f"{CHAPTER} cannot be unpacked" in str(raised) and "CRC" in str(raised)
    assert peak < BOUNDED


@pytest.mark.parametrize(
    ("book", "budget", "limit"),
    [
        (rebuild({COVER: [os.urandom(2 * MiB)]}), limits(entry_bytes=MiB), "VOXQ_EPUB_MAX_ENTRY_BYTES"),
        (
            rebuild({CHAPTER: chapter(os.urandom(MiB).hex().encode())}),
            limits(document_bytes=MiB),
            "VOXQ_EPUB_MAX_DOCUMENT_BYTES",
        ),
        (
            rebuild({COVER: [os.urandom(MiB)], "EPUB/images/ornament.png": [os.urandom(MiB)]}),
            limits(unpacked_bytes=3 * MiB // 2),
            "VOXQ_EPUB_MAX_UNPACKED_BYTES",
        ),
    ],
    ids=["one-file", "one-document", "all-files"],
)
def test_files_are_counted_as_they_inflate(book: bytes, budget: EpubLimits, limit: str) -> None:
    with pytest.raises(TooLarge, match=limit):
        read(book, budget)


def test_a_file_listed_many_times_is_inflated_once() -> None:
    book = listing_one_file_often(300)  # ebooklib reads each listing: 300 MiB, were each inflated

    raised, peak = peak_of(lambda: read(book))

    assert raised is None and peak < BOUNDED


def test_too_many_files_are_refused_before_the_zip_directory_is_read() -> None:
    default = get_settings().epub_max_entries
    book = with_files(default)

    raised, peak = peak_of(lambda: read(book))

    assert isinstance(raised, TooLarge) and "VOXQ_EPUB_MAX_ENTRIES" in str(raised)
    assert peak < 4 * MiB  # zipfile would hold about 6 MB for the directory of 10,000 files
    assert read(with_files(default - 20)).info.chapters


@pytest.mark.parametrize("levels", [150, 300, 5_000], ids=["within-libxml2", "past-libxml2", "far-past"])
def test_a_document_nested_too_deep_is_refused_not_read_in_part(levels: int) -> None:
    book = rebuild({CHAPTER: chapter(b"<div>" * levels, "很深。".encode(), b"</div>" * levels)})

    with pytest.raises(TooLarge, match="more than 100 deep.*VOXQ_EPUB_MAX_DEPTH"):
        read(book)


def test_a_document_nested_within_the_limit_is_read() -> None:
    book = rebuild({CHAPTER: chapter(b"<div>" * 90, "很深。".encode(), b"</div>" * 90)})

    assert read(book).lines[0].text == "很深。"


def test_paragraphs_are_counted_as_they_are_read() -> None:
    book = rebuild({CHAPTER: chapter(b"</p><p>".join(f"第{n}段。".encode() for n in range(2_000)))})

    with pytest.raises(TooLarge, match="more than 1000 lines"):
        read(book, max_lines=1_000)


# --- the table of contents ------------------------------------------------------------------


def test_a_table_of_contents_of_50000_entries_is_resolved_in_linear_time() -> None:
    # Before, each entry scanned every document's name and each spine item every manifest item:
    # this book took 128 s (108 s of it resolving the entries). Now each is a lookup: 0.15 s.
    book = read(table_of_contents(50_000, 5_000))

    assert len(book.info.chapters) == len(book.lines) == 50_000
    assert book.info.chapters[:2] == ["第0.0节", "第0.1节"] and book.info.chapters[-1] == "第4999.9节"
    assert [line.chapter for line in book.lines[:3]] == [1, 2, 3]


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "declare"),
    [
        ("gb18030", "xml:GB18030"),
        ("gb18030", "xml:GBK"),  # labelled GBK or GB2312, books hold GB18030's characters too
        ("gb18030", "xml:gb2312"),
        ("gb18030", "meta:gbk"),
        ("utf-16", "bom"),
        ("utf-16-be", "xml:UTF-16"),  # no byte-order mark: the bytes of `<?` tell
    ],
)
def test_a_document_is_read_in_the_encoding_it_declares(encoding: str, declare: str) -> None:
    book = read(encoded(encoding, declare))

    assert book.info.chapters == [title for title, _ in GB_CHAPTERS]  # the nav's titles too
    assert [line.text for line in book.lines[:3]] == ["第一章 我们", "朱镕基说：我们出发了。", "𠀀是一个很少见的字。"]


def test_a_sloppy_document_is_read_as_html() -> None:
    sloppy = "<html><body><h1>第一章</h1><p>春天&nbsp;来了<br>花开了。<p>第二段。</body></html>".encode()

    book = read(rebuild({CHAPTER: [sloppy]}))

    assert [line.text for line in book.lines[:3]] == ["第一章", "春天 来了 花开了。", "第二段。"]


# --- missing and broken files ---------------------------------------------------------------


def test_a_missing_image_does_not_refuse_a_book_whose_text_is_all_there() -> None:
    book = read(rebuild({}, drop=[COVER, "EPUB/images/ornament.png"]))

    assert book.info.cover is None
    assert book.info.chapters == [title for title, _ in THREE_CHAPTERS]


def test_a_missing_chapter_refuses_the_book_naming_it() -> None:
    with pytest.raises(BadInput, match=r"document text/chapter2\.xhtml \(in its spine\) is not in the zip"):
        read(rebuild({}, drop=["EPUB/text/chapter2.xhtml"]))


@pytest.mark.parametrize("name", [CONTAINER, CHAPTER, COVER])
@pytest.mark.parametrize("how", ["crc", "deflate"])
def test_a_broken_file_is_bad_input_naming_it(name: str, how: str) -> None:
    with pytest.raises(BadInput, match=f"the EPUB's {name} cannot be unpacked") as caught:
        read(corrupted(name, how))

    assert not isinstance(caught.value, TooLarge)
