"""Books read as their authors wrote them: EPUB 2 packages written by hand (as older tools and
Project Gutenberg make them), with a cover named by <meta name="cover">, notes, line numbers,
a chapter in another language, and sentences ending inside quotes."""

import io
import zipfile

import pytest
from fastapi.testclient import TestClient

from deploy.epub_factory import png
from shared.books.epub import read_epub
from shared.books.languages import voice_by_language
from shared.errors import BadInput

CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""


def xhtml(body: str, lang: str | None = None) -> str:
    attrs = f' xml:lang="{lang}" lang="{lang}"' if lang else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"'
        f"{attrs}><head><title>t</title></head><body>{body}</body></html>"
    )


def epub2(documents: list[tuple[str, str]], *, language: str = "zh", cover_meta: str | None = "cover-image") -> bytes:
    """An EPUB 2: OPF with dc metadata and <meta name="cover" content=...>, an NCX, the documents."""
    manifest = "".join(
        f'<item id="d{i}" href="{name}" media-type="application/xhtml+xml"/>' for i, (name, _) in enumerate(documents)
    )
    spine = "".join(f'<itemref idref="d{i}"/>' for i in range(len(documents)))
    points = "".join(
        f'<navPoint id="p{i}" playOrder="{i + 1}"><navLabel><text>章{i + 1}</text></navLabel>'
        f'<content src="{name}"/></navPoint>'
        for i, (name, _) in enumerate(documents)
    )
    meta = f'<meta name="cover" content="{cover_meta}"/>' if cover_meta else ""
    opf = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="uid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    <dc:title>边城</dc:title><dc:creator>沈从文</dc:creator><dc:language>{language}</dc:language>
    <dc:identifier id="uid">test-book</dc:identifier>{meta}
  </metadata>
  <manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
    <item id="cover-image" href="images/cover.png" media-type="image/png"/>{manifest}</manifest>
  <spine toc="ncx">{spine}</spine>
</package>"""
    ncx = f"""<?xml version="1.0" encoding="utf-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><head/><docTitle><text>边城</text></docTitle>
<navMap>{points}</navMap></ncx>"""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", CONTAINER)
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/toc.ncx", ncx)
        z.writestr("OEBPS/images/cover.png", png())
        for name, body in documents:
            z.writestr(f"OEBPS/{name}", body)
    return out.getvalue()


def texts(data: bytes) -> list[str]:
    return [line.text for line in read_epub(data, 1000, 500).lines]


@pytest.mark.parametrize("content", ["cover-image", "images/cover.png"])
def test_an_epub2_cover_named_by_meta_reaches_the_book(content: str) -> None:
    book = read_epub(epub2([("a.xhtml", xhtml("<p>第一句。</p>"))], cover_meta=content), 1000, 500)
    assert book.info.cover is not None and book.info.cover.media_type == "image/png"
    assert (book.info.title, book.info.author, book.info.language) == ("边城", "沈从文", "zh")


def test_notes_page_and_line_numbers_are_not_read_in_the_story() -> None:
    body = (
        '<p>他走进了院子<a href="#fn1" epub:type="noteref">1</a>，看见一棵树<a href="notes.xhtml#n2"><sup>[2]</sup></a>。</p>'
        '<span epub:type="pagebreak" id="page12" title="12"/>'
        '<p class="poem">风吹过山岗<span class="linenum">10</span></p>'
        '<p><span class="pagenum">[Pg 7]</span>天黑了。</p>'
        '<aside epub:type="footnote" id="fn1"><p>1 这是一条脚注。</p></aside>'
        '<div class="footnotes"><p>2 这是另一条注释。</p></div>'
        '<div class="transcriber-note"><p>Transcriber\'s Note: typos fixed.</p></div>'
    )
    assert texts(epub2([("a.xhtml", xhtml(body))])) == ["他走进了院子，看见一棵树。", "风吹过山岗", "天黑了。"]


def test_a_chapter_in_another_language_is_spoken_in_its_own_voice() -> None:
    book = read_epub(
        epub2(
            [
                ("zh.xhtml", xhtml("<p>第一章的中文。</p>")),
                ("en.xhtml", xhtml("<p>In chapters 24 and 89 the river rose.</p>", lang="en")),
                ("ar.xhtml", xhtml("<p>مرحبا بالعالم</p>", lang="ar")),
            ]
        ),
        1000,
        500,
    )
    assert [line.language for line in book.lines] == ["zh", "en", "ar"]

    voiced = voice_by_language(book.lines, book.info, None, "espeak")
    assert [(line.number, line.voice, line.chapter) for line in voiced.lines] == [(1, "cmn", 1), (2, "en", 2)]
    assert voiced.book.chapters == ["章1", "章2"]
    assert voiced.warnings == ["1 lines in 'ar' left out: the espeak engine has no voice for that language"]
    # A voice asked for speaks the book's own language; the English chapter keeps its English voice.
    asked = voice_by_language(book.lines, book.info, "my-voice", "espeak")
    assert [line.voice for line in asked.lines] == [None, "en"]
    # A cloned voice speaks every line.
    assert len(voice_by_language(book.lines, book.info, "clone", "fish_speech").lines) == 3


def test_a_book_in_no_language_with_a_voice_is_refused() -> None:
    book = read_epub(epub2([("ar.xhtml", xhtml("<p>مرحبا بالعالم</p>"))], language="ar"), 1000, 500)
    with pytest.raises(BadInput, match="no voice for that language"):
        voice_by_language(book.lines, book.info, None, "espeak")


def test_an_english_book_without_a_voice_is_spoken_in_english() -> None:
    book = read_epub(epub2([("a.xhtml", xhtml("<p>Chapter 1. It was a dark night.</p>"))], language="en-GB"), 1000, 500)
    assert [line.voice for line in voice_by_language(book.lines, book.info, None, "espeak").lines] == ["en"]


def test_title_author_and_warnings_reach_the_batch(client: TestClient) -> None:
    script = {"file": ("book.txt", "# 第一章\n第一句。\n".encode())}
    r = client.post("/v1/batches", files=script, data={"title": "边城", "author": "沈从文"})
    assert r.status_code == 202, r.text
    assert r.json()["options"]["book"] == {"title": "边城", "author": "沈从文"} and r.json()["warnings"] == []
    first = r.json()["id"]

    book = epub2([("zh.xhtml", xhtml("<p>第一章的中文。</p>")), ("ar.xhtml", xhtml("<p>مرحبا</p>", lang="ar"))])
    r = client.post("/v1/batches", files={"file": ("book.epub", book)}, data={"author": "别人"})
    assert r.status_code == 202, r.text
    assert r.json()["options"]["book"] == {"title": "边城", "author": "别人"}  # the form's over the file's
    assert r.json()["lines"] == 1 and "'ar' left out" in r.json()["warnings"][0]
    assert [c["title"] for c in r.json()["chapters"]] == ["章1"]

    for batch_id in (r.json()["id"], first):  # no dispatcher runs here: leave no line waiting
        assert client.post(f"/v1/batches/{batch_id}/cancel").status_code == 200
    bad = client.post("/v1/batches", files=script, data={"title": "line\nbreak"})
    assert bad.status_code in (400, 422) and "title" in bad.text
