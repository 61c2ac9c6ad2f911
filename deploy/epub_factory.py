"""Real EPUB files made with ebooklib, for the tests and the audiobook benchmark: a cover, front
matter without text, chapters in the table of contents (EPUB 3's nav, or EPUB 2's NCX only)."""

import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

from ebooklib import epub

Chapters = list[tuple[str, list[str]]]  # (title, paragraphs)

THREE_CHAPTERS: Chapters = [
    ("第一章 春天", ["春天来了，山上的花都开了。", "小明和妹妹一起去公园散步。"]),
    ("第二章 夏天", ["夏天很热，我们去海边游泳。", "晚上大家坐在院子里乘凉，听爷爷讲故事。", "星星一闪一闪的。"]),
    ("第三章 秋天", ["秋天到了，树叶变黄了。", "农民伯伯在田里收稻子。"]),
]


def png(width: int = 64, height: int = 64) -> bytes:
    """A real PNG (a red-to-blue gradient), written by hand: no imaging library needed."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((255 * x // width, 64, 255 * y // height)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def make_epub(
    chapters: Chapters = THREE_CHAPTERS,
    *,
    cover: bool = True,
    nav: bool = True,
    headings: bool = True,
    title: str = "四季",
    author: str = "王小明",
) -> bytes:
    """An EPUB 3 (with `nav`) or an EPUB 2-style book (NCX only). Before the chapters: the cover
    page and a title page that is only an image, neither in the table of contents."""
    book = epub.EpubBook()
    book.set_identifier(f"voxq-test-{abs(hash((title, len(chapters))))}")
    book.set_title(title)
    book.set_language("zh")
    book.add_author(author)
    image = png()
    if cover:
        book.set_cover("cover.png", image)
    ornament = epub.EpubImage(uid="ornament", file_name="images/ornament.png", media_type="image/png", content=image)
    book.add_item(ornament)
    front = epub.EpubHtml(title="扉页", file_name="front.xhtml", lang="zh")
    front.content = '<html><body><div class="title"><img src="images/ornament.png" alt=""/></div></body></html>'
    book.add_item(front)
    documents = []
    for number, (heading, paragraphs) in enumerate(chapters, 1):
        doc = epub.EpubHtml(title=heading, file_name=f"text/chapter{number}.xhtml", lang="zh")
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        h1 = f"<h1>{heading}</h1>" if headings else ""
        doc.content = f"<html><body>{h1}{body}<p>* * *</p></body></html>"
        book.add_item(doc)
        documents.append(doc)
    book.toc = [
        epub.Link(doc.file_name, heading, f"c{n}")
        for n, (doc, (heading, _)) in enumerate(zip(documents, chapters, strict=True), 1)
    ]
    book.add_item(epub.EpubNcx())
    spine: list[object] = [front, *documents]
    if nav:
        book.add_item(epub.EpubNav())
        spine.insert(0, "nav")
    if cover:
        spine.insert(0, "cover")
    book.spine = spine
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "book.epub"
        epub.write_epub(str(path), book, {})
        return path.read_bytes()


def with_drm(book: bytes) -> bytes:
    """The same book with its first chapter listed as AES-encrypted, as a DRM scheme leaves it."""
    return _with_member(
        book,
        "META-INF/encryption.xml",
        '<?xml version="1.0"?>'
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#">'
        '<enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        '<enc:CipherData><enc:CipherReference URI="EPUB/text/chapter1.xhtml"/></enc:CipherData>'
        "</enc:EncryptedData></encryption>",
    )


def _with_member(book: bytes, name: str, text: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "book.epub"
        path.write_bytes(book)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(name, text)
        return path.read_bytes()
