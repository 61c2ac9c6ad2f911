"""Reading an EPUB (2 or 3) as a book: chapters from its navigation, paragraphs as lines.

Chapters come from the table of contents (EPUB 3's nav document, else EPUB 2's NCX), every
entry at every depth, in reading order; an entry may point into the middle of a document
(`chapter.xhtml#part2`). Without a table of contents, each spine document is a chapter.
Documents the book marks as not read in order (`linear="no"`), the nav document and a
printed table of contents are not read. A chapter with no text (a cover page, a title page
that is only an image) is left out, so chapter numbers count the chapters that are spoken.

An upload is read within a budget (`EpubLimits`, the VOXQ_EPUB_* settings), so a small file
cannot cost gigabytes or minutes: the files in the zip are counted before zipfile reads its
directory, every file is inflated in chunks and counted as it comes (never trusting the sizes
the zip declares), and documents are held to a size and a nesting depth. ebooklib reads the
package (OPF, nav, NCX) through that budget (`_Reader`). Documents are decoded by what they
declare (a byte-order mark, the XML declaration, `<meta charset>`), so GB18030 and UTF-16
books read as well as UTF-8 ones.
"""

import codecs
import io
import logging
import lzma
import posixpath
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import ebooklib
from ebooklib import epub
from lxml import etree, html

from shared.books.store import COVER_TYPES, BookInfo, Cover
from shared.config import Settings, get_settings
from shared.errors import BadInput, TooLarge
from shared.jobs.contracts import ScriptLine
from shared.text.sentences import clean, split_sentences

logger = logging.getLogger(__name__)

_XMLENC = "{http://www.w3.org/2001/04/xmlenc#}"
# Font obfuscation (IDPF's and Adobe's) is listed in encryption.xml too, but is no DRM: the text is plain.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Elements that end a paragraph where they start and where they end.
_BLOCKS = frozenset(
    {"p", "div", "li", "dt", "dd", "blockquote", "pre", "td", "th", "caption", "figcaption", "section", "article"}
    | {"header", "footer", "tr", "table", "ul", "ol", "dl", "hr", "address", "main", "figure"}
    | {"h1", "h2", "h3", "h4", "h5", "h6"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Never spoken: code and styling, ruby annotations (the pinyin or zhuyin over a character), and
# a table of contents printed in a chapter.
_SKIPPED = frozenset({"script", "style", "head", "title", "rt", "rp", "nav", "svg", "math"})
_SKIPPED_TYPES = frozenset(
    {
        "pagebreak",
        "noteref",
        "toc",
        # Notes are not read in the flow of the story (EPUB 3 Structural Semantics).
        "footnote",
        "footnotes",
        "endnote",
        "endnotes",
        "rearnote",
        "rearnotes",
        "note",
        "annotation",
    }
)
# The same marked by class, as EPUB 2 books and converters do: notes, page and line numbers
# (a poem's "10" in the margin), transcribers' notes.
_SKIPPED_CLASS = re.compile(
    r"\b(?:foot|end|rear|side)?notes?\b|footnote|endnote|noteref|annotation|page-?num|page-?number|"
    r"pagebreak|line-?num|line-?number|lineno|transcriber",
    re.IGNORECASE,
)
# A note's mark in the text: a link inside the book whose text is a number or a symbol ([1], *, †).
_NOTE_MARK = re.compile(r"^\s*[\[(]?(?:\d{1,4}|[*†‡§¶]+|[ivxlc]{1,6})[\])]?\s*$")
# META-INF's files are read leniently; no entity is resolved and nothing is fetched.
_XML = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)

# --- the budget --------------------------------------------------------------------------
_CHUNK = 64 * 1024  # inflated at a time: zipfile inflates no more than it is asked for
_RATIO_GRACE = 1024 * 1024  # a file is held to the compression ratio once it has inflated this much
# Every entry of a zip's central directory starts with this signature, so its count is at least the
# number of entries zipfile would read (more only if the bytes happen to occur elsewhere).
_DIRECTORY_ENTRY = b"PK\x01\x02"
# What zipfile raises for a broken directory (BadZipFile; NotImplementedError for a version it
# does not know; ValueError for a name that is not UTF-8 or an offset before the start)...
_BROKEN_ZIP = (zipfile.BadZipFile, NotImplementedError, ValueError)
# ... and for a broken entry: those, bad deflate data (zlib.error), bad bzip2 or lzma data (OSError,
# LZMAError), a truncated file (EOFError), an encrypted entry (RuntimeError), an offset past what a
# seek can reach (OverflowError: a zip64 field of 2**63 or more).
_BROKEN_ENTRY = (*_BROKEN_ZIP, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError, OverflowError)

# --- encodings ---------------------------------------------------------------------------
# UTF-32's marks first: UTF-32LE's starts with UTF-16LE's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_DECLARATION = re.compile(rb"""\s*<\?xml[^>]*?\sencoding\s*=\s*["']([\w.:-]+)["']""")
_XML_DECLARATION_TEXT = re.compile(r"\s*<\?xml[^>]*\?>")
# As the HTML standard's prescan: a <meta charset> or http-equiv Content-Type in the first 1024 bytes.
_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_PRESCAN_BYTES = 1024
# GB2312 and GBK are subsets of GB18030, and books labelled with either often hold characters of the larger.
_GB18030 = frozenset({"gb2312", "gbk", "gb18030"})


@dataclass(frozen=True)
class EpubLimits:
    """What reading one EPUB may cost; each is a setting (shared/config.py, VOXQ_EPUB_*)."""

    entries: int
    entry_bytes: int
    unpacked_bytes: int
    compression_ratio: int
    document_bytes: int
    depth: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "EpubLimits":
        return cls(
            entries=settings.epub_max_entries,
            entry_bytes=settings.epub_max_entry_bytes,
            unpacked_bytes=settings.epub_max_unpacked_bytes,
            compression_ratio=settings.epub_max_compression_ratio,
            document_bytes=settings.epub_max_document_bytes,
            depth=settings.epub_max_depth,
        )


@dataclass(frozen=True)
class Book:
    lines: list[ScriptLine]
    info: BookInfo


@dataclass
class _Chapter:
    title: str | None  # None: named after its first heading, else its document's <title>
    fallback: str
    paragraphs: list[tuple[str, str | None]] = field(default_factory=list)  # (text, language)
    heading: str | None = None


def read_epub(data: bytes, max_lines: int, max_chars: int, limits: EpubLimits | None = None) -> Book:
    """The book's lines, each knowing its chapter; BadInput naming the problem (not an EPUB, no
    package document, DRM, a broken file, no text) or TooLarge naming the limit, before anything
    is stored."""
    limits = limits or EpubLimits.from_settings(get_settings())
    archive = _Archive(data, limits)
    _refuse_drm(archive)
    book, absent = _load(data, archive)
    chapters = [c for c in _chapters(book, absent, limits, max_lines) if c.paragraphs]
    if not chapters:
        raise BadInput("the EPUB has no text to speak (its documents hold no paragraphs)")
    lines: list[ScriptLine] = []
    book_language = _metadata(book, "language")
    for number, chapter in enumerate(chapters, 1):
        for paragraph, language in chapter.paragraphs:
            # A paragraph over the line limit is spoken as several lines, cut at sentence ends.
            for text in split_sentences(paragraph, max_chars) if len(paragraph) > max_chars else [paragraph]:
                lines.append(ScriptLine(len(lines) + 1, text, chapter=number, language=language or book_language))
                if len(lines) > max_lines:
                    raise _too_many_lines(max_lines)
    titles = [c.title or c.heading or c.fallback for c in chapters]
    info = BookInfo(titles, _cover(book), _metadata(book, "title"), _metadata(book, "creator"), book_language)
    return Book(lines, info)


def _too_many_lines(max_lines: int) -> TooLarge:
    return TooLarge(f"the book has more than {max_lines} lines; the limit is {max_lines}")


class _Archive:
    """The upload's zip, each file inflated at most once, in chunks, within `EpubLimits`; every
    document (a file of markup) is handed out as UTF-8. A broken file is BadInput naming it."""

    def __init__(self, data: bytes, limits: EpubLimits) -> None:
        self.limits = limits
        self.unpacked = 0
        self.files: dict[str, bytes] = {}
        # zipfile reads the whole central directory when it opens a zip (about 600 bytes and 5 µs
        # an entry, whatever the end record claims), so the entries are counted first.
        if data.count(_DIRECTORY_ENTRY) > limits.entries:
            raise TooLarge(
                f"the EPUB holds more than {limits.entries} files; the limit is {limits.entries} "
                "(VOXQ_EPUB_MAX_ENTRIES)"
            )
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except _BROKEN_ZIP:
            raise BadInput(
                "the EPUB is not a zip archive (an EPUB is a zip of XHTML documents); is the file whole?"
            ) from None
        self.names = frozenset(self.zip.namelist())
        if "META-INF/container.xml" not in self.names:
            raise BadInput("the EPUB has no META-INF/container.xml, so no package document (OPF) to read")
        root = _meta_inf_xml(self, "META-INF/container.xml")
        if root is None:
            raise BadInput("the EPUB's META-INF/container.xml is not XML (nothing in it could be read)")
        paths = [path for el in root.iter("{*}rootfile") if (path := el.get("full-path"))]
        if not any(path in self.names for path in paths):
            named = f"names {', '.join(paths)}, which is not in the zip" if paths else "names none"
            raise BadInput(f"the EPUB has no package document (OPF): META-INF/container.xml {named}")

    def read(self, name: str) -> bytes:
        """The file's bytes, a document's as UTF-8; KeyError if the zip has no such file."""
        if name not in self.files:
            data = self._inflate(self.zip.getinfo(name))
            self.files[name] = _as_utf8(data) if _is_markup(data) else data
        return self.files[name]

    def _inflate(self, info: zipfile.ZipInfo) -> bytes:
        limits, name = self.limits, info.filename
        limit, what, variable = limits.entry_bytes, "file", "VOXQ_EPUB_MAX_ENTRY_BYTES"
        chunks: list[bytes] = []
        size = 0
        try:
            with self.zip.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    if not chunks and _is_markup(chunk) and limits.document_bytes < limit:
                        limit, what, variable = limits.document_bytes, "document", "VOXQ_EPUB_MAX_DOCUMENT_BYTES"
                    size += len(chunk)
                    self.unpacked += len(chunk)
                    if size > limit:
                        raise TooLarge(
                            f"the EPUB's {what} {name} inflates to more than {_mib(limit)}; "
                            f"the limit is {_mib(limit)} ({variable})"
                        )
                    if self.unpacked > limits.unpacked_bytes:
                        raise TooLarge(
                            f"the EPUB inflates to more than {_mib(limits.unpacked_bytes)} (reached in {name}); "
                            f"the limit is {_mib(limits.unpacked_bytes)} (VOXQ_EPUB_MAX_UNPACKED_BYTES)"
                        )
                    if size > _RATIO_GRACE and size > limits.compression_ratio * max(info.compress_size, 1):
                        raise TooLarge(
                            f"the EPUB's {name} inflates to more than {limits.compression_ratio} times its "
                            f"compressed size ({info.compress_size} bytes): a zip bomb? The limit is "
                            f"{limits.compression_ratio} (VOXQ_EPUB_MAX_COMPRESSION_RATIO)"
                        )
                    chunks.append(chunk)
        except _BROKEN_ENTRY as exc:
            raise BadInput(f"the EPUB's {name} cannot be unpacked: the zip entry is broken ({exc})") from None
        return b"".join(chunks)


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB"


def _is_markup(head: bytes) -> bool:
    """Whether a file is a document: its text starts with `<`, after any byte-order mark and white
    space, in UTF-8, UTF-16 or UTF-32 alike (images, fonts and audio start otherwise)."""
    return head.lstrip(b"\xef\xbb\xbf\xfe\xff\x00 \t\r\n").startswith(b"<")


def _as_utf8(document: bytes) -> bytes:
    """The document in UTF-8, so that every parser (lxml's, and ebooklib's, which reads the nav
    as UTF-8 whatever it declares) reads it alike. A document in another encoding loses its XML
    declaration, which would name that encoding; its `<meta charset>` no parser reads is kept."""
    encoding = _declared_encoding(document)
    if encoding == "utf-8":
        return document
    try:
        text = document.decode(encoding, errors="replace")
    except (LookupError, UnicodeError):
        # A codec that is no text encoding (hex, rot13) or reads nothing leniently (idna,
        # undefined): read as UTF-8, as one Python does not know.
        text = document.decode("utf-8", errors="replace")
    return _XML_DECLARATION_TEXT.sub("", text.lstrip("\ufeff"), count=1).encode("utf-8")


def _declared_encoding(document: bytes) -> str:
    """The encoding a document declares, as Python names it: its byte-order mark, else UTF-16's
    `<` without one, else the XML declaration's `encoding=`, else a `<meta charset>` or
    http-equiv Content-Type; utf-8 when it declares none (or one Python does not know)."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if document.startswith(mark):
            return encoding
    if document.startswith(b"<\x00"):
        return "utf-16-le"
    if document.startswith(b"\x00<"):
        return "utf-16-be"
    declared = _XML_DECLARATION.match(document) or _META_CHARSET.search(document, 0, _PRESCAN_BYTES)
    if declared is None:
        return "utf-8"
    try:
        encoding = codecs.lookup(declared[1].decode("ascii")).name
    except LookupError:
        return "utf-8"
    if encoding.startswith(("utf-16", "utf-32")):  # 8-bit text that says otherwise: the bytes win
        return "utf-8"
    return "gb18030" if encoding in _GB18030 else encoding


def _refuse_drm(archive: _Archive) -> None:
    """Encrypted content (Adobe ADEPT, Readium LCP, ...) cannot be read without its keys."""
    if "META-INF/encryption.xml" not in archive.names:
        return
    root = _meta_inf_xml(archive, "META-INF/encryption.xml")
    for encrypted in [] if root is None else root.iter(f"{_XMLENC}EncryptedData"):
        method = encrypted.find(f"{_XMLENC}EncryptionMethod")
        if method is not None and method.get("Algorithm") in _FONT_OBFUSCATION:
            continue
        reference = encrypted.find(f".//{_XMLENC}CipherReference")
        what = reference.get("URI") if reference is not None else "its content"
        raise BadInput(
            f"the EPUB is DRM-protected: {what} is encrypted (META-INF/encryption.xml); "
            "only books without DRM can be read"
        )


def _meta_inf_xml(archive: _Archive, name: str) -> etree._Element | None:
    """A file of META-INF parsed leniently (None when nothing could be recovered); BadInput when
    lxml finds no document at all (an empty file), which would otherwise escape as a 500."""
    try:
        return etree.fromstring(archive.read(name), _XML)
    except etree.XMLSyntaxError as exc:
        raise BadInput(f"the EPUB's {name} is not XML ({exc})") from None


class _Reader(epub.EpubReader):
    """ebooklib's reader, reading every file through `_Archive` (it reads every file the
    manifest lists, images and fonts too). A listed file the zip lacks reads as empty, so a
    missing image costs the book nothing; `missing` names them."""

    def __init__(self, data: bytes, archive: _Archive) -> None:
        super().__init__(io.BytesIO(data), {"ignore_ncx": True})
        self.archive = archive
        self.missing: set[str] = set()

    def read_file(self, name: str) -> bytes:
        name = posixpath.normpath(name)
        try:
            return self.archive.read(name)
        except KeyError:
            self.missing.add(name)
            return b""


def _load(data: bytes, archive: _Archive) -> tuple[epub.EpubBook, set[str]]:
    """The package, and the file names (as the manifest has them) of what it lists but the zip lacks."""
    reader = _Reader(data, archive)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ebooklib warns about its own defaults
            book = reader.load()
    except BadInput:
        raise  # a file over a limit, or broken
    # ebooklib reports a broken package with whatever its parsing hit (KeyError for a missing
    # file, AttributeError or IndexError for a missing element, its own EpubException): every
    # one of them means the upload is not a readable EPUB.
    except Exception as exc:
        raise BadInput(f"the EPUB's package cannot be read ({type(exc).__name__}: {exc})") from None
    absent = {
        item.file_name
        for item in book.get_items()
        if posixpath.normpath(posixpath.join(reader.opf_dir, item.file_name)) in reader.missing
    }
    return book, absent


def _chapters(book: epub.EpubBook, absent: set[str], limits: EpubLimits, max_lines: int) -> list[_Chapter]:
    documents = _spine_documents(book, absent)
    marks = _toc_marks(book, {doc.file_name for doc in documents})
    chapters: list[_Chapter] = []
    paragraphs = 0
    for doc in documents:
        root = _parse(doc.content, doc.file_name, limits)
        if root is None:
            continue
        fallback = _doc_title(root) or f"Chapter {len(chapters) + 1}"
        language = _declared_language(root)
        here = marks.get(doc.file_name, [])
        ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
        at_start = [title for fragment, title in here if fragment is None or fragment not in ids]
        in_doc = {fragment: title for fragment, title in reversed(here) if fragment is not None and fragment in ids}
        if at_start:
            chapters.append(_Chapter(at_start[0], fallback))
        elif not marks or not chapters:
            # No table of contents: every document is a chapter. With one: text before its first
            # entry (a preface it leaves out) is a chapter of its own.
            chapters.append(_Chapter(None, fallback))
        for kind, value in _paragraphs(root, set(in_doc)):
            if kind == "mark":
                chapters.append(_Chapter(in_doc[value], fallback))
                continue
            paragraphs += 1
            if paragraphs > max_lines:  # each paragraph is a line at least: stop before holding them all
                raise _too_many_lines(max_lines)
            chapters[-1].paragraphs.append((value, language))
            if kind == "heading" and chapters[-1].heading is None:
                chapters[-1].heading = value
    return chapters


def _spine_documents(book: epub.EpubBook, absent: set[str]) -> list[epub.EpubHtml]:
    printed_toc = {_path(ref.get("href") or "") for ref in book.guide if ref.get("type") == "toc"}
    items = {item.get_id(): item for item in book.get_items()}  # ebooklib's get_item_with_id is a scan
    documents = []
    for idref, linear in book.spine:
        item = items.get(idref)
        if not isinstance(item, epub.EpubHtml) or isinstance(item, epub.EpubNav) or linear == "no":
            continue
        if not item.is_linear or item.file_name in printed_toc:
            continue
        if item.file_name in absent:
            raise BadInput(f"the EPUB's document {item.file_name} (in its spine) is not in the zip")
        documents.append(item)
    return documents


def _toc_marks(book: epub.EpubBook, names: set[str]) -> dict[str, list[tuple[str | None, str]]]:
    """Where each table-of-contents entry starts: document -> [(fragment or None, title)], in order.
    Each entry is resolved in constant time, so a table of 50,000 entries costs no more than its reading."""
    ncx_dir = next((posixpath.dirname(i.file_name) for i in book.get_items() if isinstance(i, epub.EpubNcx)), "")
    nav = any(isinstance(i, epub.EpubNav) for i in book.get_items())
    by_file_name: dict[str, list[str]] = {}
    for known in names:
        by_file_name.setdefault(posixpath.basename(known), []).append(known)
    marks: dict[str, list[tuple[str | None, str]]] = {}
    for href, title in _toc_entries(book.toc):
        target, _, fragment = href.partition("#")
        name = _resolve(_path(target if nav else posixpath.join(ncx_dir, target)), names, by_file_name)
        if name is not None and clean(title or ""):
            marks.setdefault(name, []).append((fragment or None, clean(title)))
    return marks


def _toc_entries(toc: Sequence[Any]) -> Iterator[tuple[str, str]]:
    for entry in toc:
        if isinstance(entry, tuple):
            section, children = entry
            if getattr(section, "href", None):
                yield section.href, section.title
            yield from _toc_entries(children)
        elif getattr(entry, "href", None):
            yield entry.href, entry.title


def _path(href: str) -> str:
    return posixpath.normpath(unquote(href.partition("#")[0])) if href else ""


def _resolve(path: str, names: set[str], by_file_name: dict[str, list[str]]) -> str | None:
    if path in names:
        return path
    # A table of contents written relative to another folder: the file name alone, if unique.
    same = by_file_name.get(posixpath.basename(path), [])
    return same[0] if len(same) == 1 else None


def _parse(content: bytes, name: str, limits: EpubLimits) -> Any:
    """A document (UTF-8, from `_Archive`) as a tree: as XML when it is well-formed, else as HTML,
    as a browser reads a sloppy page; None when it is empty. No entity is resolved, nothing is
    fetched, and a tree nested deeper than the limit is refused rather than read in part."""
    if not content.strip():
        return None
    if len(content) > limits.document_bytes:  # a document not starting with `<` is held to it here
        raise _too_big_document(name, limits)
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        try:
            root = html.document_fromstring(content, parser=html.HTMLParser(encoding="utf-8", no_network=True))
        except etree.ParserError:  # nothing but comments or white space
            return None
    if root.xpath(_deeper_than(limits.depth)):
        raise TooLarge(
            f"the EPUB's document {name} nests elements more than {limits.depth} deep; the limit is "
            f"{limits.depth} (VOXQ_EPUB_MAX_DEPTH)"
        )
    return root


def _too_big_document(name: str, limits: EpubLimits) -> TooLarge:
    return TooLarge(
        f"the EPUB's document {name} is over {_mib(limits.document_bytes)}; the limit is "
        f"{_mib(limits.document_bytes)} (VOXQ_EPUB_MAX_DOCUMENT_BYTES)"
    )


@lru_cache
def _deeper_than(depth: int) -> str:
    """XPath that is true when an element lies more than `depth` levels down (the root is level 1),
    evaluated in libxml2: one step a level, each element visited once."""
    return f"boolean({'/'.join(['*'] * depth)})"


def _local(el: Any) -> str:
    return etree.QName(el).localname.lower() if isinstance(el.tag, str) else ""


def _doc_title(root: Any) -> str | None:
    for el in root.iter("{*}title", "title"):
        if text := clean(el.xpath("string()")):
            return text
    return None


def _paragraphs(root: Any, anchors: set[str]) -> Iterator[tuple[str, str]]:
    """("para" | "heading", text) for each paragraph of the body in order, and ("mark", id)
    where an element carrying one of `anchors` starts. Iterative, so any nesting depth is safe."""
    body = next(iter(root.iter("{*}body", "body")), root)
    buffer: list[str] = []
    heading_depth = 0
    skipping = 0

    def flush() -> Iterator[tuple[str, str]]:
        text = clean("".join(buffer))
        buffer.clear()
        if any(ch.isalnum() for ch in text):  # "* * *" and other ornaments have nothing to say
            yield ("heading" if heading_depth else "para"), text

    for event, el in etree.iterwalk(body, events=("start", "end")):
        tag = _local(el)
        if event == "start":
            if skipping:
                skipping += 1
                continue
            # epub:type is namespaced when read as XML, a plain attribute when read as HTML.
            types = el.get(_OPS_TYPE) or el.get("epub:type") or el.get("role", "").removeprefix("doc-")
            if tag in _SKIPPED or set(types.split()) & _SKIPPED_TYPES or _not_in_flow(el, tag):
                skipping = 1
                continue
            if tag in _BLOCKS:
                yield from flush()
            if el.get("id") in anchors:
                yield from flush()
                yield "mark", el.get("id")
            if tag in _HEADINGS:
                heading_depth += 1
            if tag == "br":
                buffer.append(" ")
            elif isinstance(el.tag, str) and el.text:
                buffer.append(el.text)
            continue
        if skipping:
            skipping -= 1
            if skipping == 0 and el.tail:
                buffer.append(el.tail)
            continue
        if tag in _BLOCKS:
            yield from flush()
        if tag in _HEADINGS:
            heading_depth -= 1
        if el is not body and el.tail:
            buffer.append(el.tail)
    yield from flush()


def _not_in_flow(el: Any, tag: str) -> bool:
    """A note, a page or line number marked by class, or a note's mark (a link to a place in the
    book whose text is [1], *, †)."""
    if _SKIPPED_CLASS.search(el.get("class") or "") or _SKIPPED_CLASS.search(el.get("id") or ""):
        return True
    if tag == "a" and "#" in (el.get("href") or "") and not any(ch.isspace() for ch in (el.get("href") or "")):
        text = el.xpath("string()")
        return bool(_NOTE_MARK.match(text)) and not any(_local(child) == "img" for child in el.iter())
    return False


def _declared_language(root: Any) -> str | None:
    """The document's xml:lang or lang, on its <html> or <body>."""
    for el in (root, next(iter(root.iter("{*}body", "body")), None)):
        if el is not None and (lang := el.get(_XML_LANG) or el.get("lang")):
            return str(lang).strip() or None
    return None


def _cover(book: epub.EpubBook) -> Cover | None:
    items = list(book.get_items_of_type(ebooklib.ITEM_COVER))
    if not items:  # EPUB 2: <meta name="cover" content="..."/>, a manifest id (or, in some books, an href)
        by_id = {item.get_id(): item for item in book.get_items()}
        by_href = {item.file_name: item for item in book.get_items()}
        for content in _cover_meta(book):
            if (item := by_id.get(content) or by_href.get(_path(content))) is not None:
                items.append(item)
    for item in items:
        image = item.get_content()
        media_type = _image_type(image)
        if media_type in COVER_TYPES:
            return Cover(media_type, image)
        logger.info("EPUB cover %s is missing or not JPEG or PNG: the M4B will have no cover", item.file_name)
    return None


def _cover_meta(book: epub.EpubBook) -> list[str]:
    """The content of every <meta name="cover">: ebooklib files it under the tag "cover" or,
    when it does not recognise the OPF's <meta> element, under "meta" with name="cover"."""
    found = []
    for tags in book.metadata.values():
        for tag, values in tags.items():
            for _value, extra in values:
                if (tag == "cover" or (tag == "meta" and extra.get("name") == "cover")) and extra.get("content"):
                    found.append(str(extra["content"]))
    return found


def _image_type(image: bytes) -> str | None:
    """By its bytes, not by the manifest, which is often wrong (image/jpg for a PNG)."""
    if image.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def _metadata(book: epub.EpubBook, name: str) -> str | None:
    try:
        values = book.get_metadata("DC", name)
    except KeyError:
        return None
    return next((clean(value) for value, _extra in values if value and clean(value)), None)
