"""Reading an EPUB (2 or 3) as a book: chapters from its navigation, paragraphs as lines.

Chapters come from the table of contents (EPUB 3's nav document, else EPUB 2's NCX), every
entry at every depth, in reading order; an entry may point into the middle of a document
(`chapter.xhtml#part2`). Without a table of contents, each spine document is a chapter.
Documents the book marks as not read in order (`linear="no"`), the nav document and a
printed table of contents are not read. A chapter with no text (a cover page, a title page
that is only an image) is left out, so chapter numbers count the chapters that are spoken.
"""

import io
import logging
import posixpath
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import ebooklib
from ebooklib import epub
from lxml import etree, html

from shared.books.store import COVER_TYPES, BookInfo, Cover
from shared.errors import BadInput, TooLarge
from shared.jobs.contracts import ScriptLine
from shared.text.sentences import clean, split_sentences

logger = logging.getLogger(__name__)

# Unpacked size an upload may claim (a zip bomb is refused before anything is inflated).
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_XMLENC = "{http://www.w3.org/2001/04/xmlenc#}"
# Font obfuscation (IDPF's and Adobe's) is listed in encryption.xml too, but is no DRM: the text is plain.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
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
_SKIPPED_TYPES = frozenset({"pagebreak", "noteref", "toc"})
_XML = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class Book:
    lines: list[ScriptLine]
    info: BookInfo


@dataclass
class _Chapter:
    title: str | None  # None: named after its first heading, else its document's <title>
    fallback: str
    paragraphs: list[str] = field(default_factory=list)
    heading: str | None = None


def read_epub(data: bytes, max_chars: int) -> Book:
    """The book's lines, each knowing its chapter; BadInput naming the problem (not an EPUB, no
    package document, DRM, no text), before anything is stored."""
    archive = _open_zip(data)
    _refuse_drm(archive)
    book = _load(data)
    chapters = [c for c in _chapters(book) if c.paragraphs]
    if not chapters:
        raise BadInput("the EPUB has no text to speak (its documents hold no paragraphs)")
    lines: list[ScriptLine] = []
    for number, chapter in enumerate(chapters, 1):
        for paragraph in chapter.paragraphs:
            # A paragraph over the line limit is spoken as several lines, cut at sentence ends.
            for text in split_sentences(paragraph, max_chars) if len(paragraph) > max_chars else [paragraph]:
                lines.append(ScriptLine(len(lines) + 1, text, chapter=number))
    titles = [c.title or c.heading or c.fallback for c in chapters]
    info = BookInfo(titles, _cover(book), _metadata(book, "title"), _metadata(book, "creator"))
    return Book(lines, info)


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BadInput(
            "the EPUB is not a zip archive (an EPUB is a zip of XHTML documents); is the file whole?"
        ) from None
    if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
        raise TooLarge(f"the EPUB unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB")
    names = set(archive.namelist())
    if "META-INF/container.xml" not in names:
        raise BadInput("the EPUB has no META-INF/container.xml, so no package document (OPF) to read")
    root = _meta_inf_xml(archive, "META-INF/container.xml")
    paths = [] if root is None else [el.get("full-path") for el in root.iter("{*}rootfile")]
    if not any(path in names for path in paths):
        raise BadInput("the EPUB has no package document (OPF): META-INF/container.xml names none that is there")
    return archive


def _refuse_drm(archive: zipfile.ZipFile) -> None:
    """Encrypted content (Adobe ADEPT, Readium LCP, ...) cannot be read without its keys."""
    if "META-INF/encryption.xml" not in archive.namelist():
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


def _meta_inf_xml(archive: zipfile.ZipFile, name: str) -> etree._Element | None:
    """A file of META-INF parsed leniently (None when nothing could be recovered); BadInput when
    lxml finds no document at all (an empty file), which would otherwise escape as a 500."""
    try:
        return etree.fromstring(archive.read(name), _XML)
    except etree.XMLSyntaxError as exc:
        raise BadInput(f"the EPUB's {name} is not XML ({exc})") from None


def _load(data: bytes) -> epub.EpubBook:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ebooklib warns about its own defaults
            return epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    # ebooklib reports a broken package with whatever its parsing hit (KeyError for a missing
    # file, AttributeError or IndexError for a missing element, its own EpubException): every
    # one of them means the upload is not a readable EPUB.
    except Exception as exc:
        raise BadInput(f"the EPUB's package cannot be read ({type(exc).__name__}: {exc})") from None


def _chapters(book: epub.EpubBook) -> list[_Chapter]:
    documents = _spine_documents(book)
    marks = _toc_marks(book, {doc.file_name for doc in documents})
    chapters: list[_Chapter] = []
    for doc in documents:
        root = _parse(doc.get_content())
        if root is None:
            continue
        fallback = _doc_title(root) or f"Chapter {len(chapters) + 1}"
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
            else:
                chapters[-1].paragraphs.append(value)
            if kind == "heading" and chapters[-1].heading is None:
                chapters[-1].heading = value
    return chapters


def _spine_documents(book: epub.EpubBook) -> list[epub.EpubHtml]:
    printed_toc = {_path(ref.get("href") or "") for ref in book.guide if ref.get("type") == "toc"}
    documents = []
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if not isinstance(item, epub.EpubHtml) or isinstance(item, epub.EpubNav) or linear == "no":
            continue
        if not item.is_linear or item.file_name in printed_toc:
            continue
        documents.append(item)
    return documents


def _toc_marks(book: epub.EpubBook, names: set[str]) -> dict[str, list[tuple[str | None, str]]]:
    """Where each table-of-contents entry starts: document -> [(fragment or None, title)], in order."""
    ncx_dir = next((posixpath.dirname(i.file_name) for i in book.get_items() if isinstance(i, epub.EpubNcx)), "")
    nav = any(isinstance(i, epub.EpubNav) for i in book.get_items())
    marks: dict[str, list[tuple[str | None, str]]] = {}
    for href, title in _toc_entries(book.toc):
        target, _, fragment = href.partition("#")
        name = _resolve(_path(target if nav else posixpath.join(ncx_dir, target)), names)
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


def _resolve(path: str, names: set[str]) -> str | None:
    if path in names:
        return path
    # A table of contents written relative to another folder: the file name alone, if unique.
    same = [name for name in names if posixpath.basename(name) == posixpath.basename(path)]
    return same[0] if len(same) == 1 else None


def _parse(content: bytes) -> Any:
    root = etree.fromstring(content, _XML) if content.strip() else None
    if root is None and content.strip():
        root = html.document_fromstring(content)  # not XML at all: read it as HTML
    return root


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
            if tag in _SKIPPED or set((el.get(_OPS_TYPE) or "").split()) & _SKIPPED_TYPES:
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


def _cover(book: epub.EpubBook) -> Cover | None:
    items = list(book.get_items_of_type(ebooklib.ITEM_COVER))
    if not items:  # EPUB 2: <meta name="cover" content="item id"/>
        try:
            meta = book.get_metadata("OPF", "cover")
        except KeyError:
            meta = []
        ids = [extra.get("content") for _value, extra in meta if extra.get("content")]
        items = [item for item in map(book.get_item_with_id, ids) if item is not None]
    for item in items:
        image = item.get_content()
        media_type = _image_type(image)
        if media_type in COVER_TYPES:
            return Cover(media_type, image)
        logger.info("EPUB cover %s is not JPEG or PNG: the M4B will have no cover", item.file_name)
    return None


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
