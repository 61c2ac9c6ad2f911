"""Serving a stored file (a book's M4B or chapters zip) with range requests (RFC 9110 §14): a
player seeks in a 10-hour audiobook, and a download broken off goes on where it stopped.

One range a request: `bytes=a-b`, `bytes=a-` or `bytes=-n`. A header asking for several, or
one this cannot read, is ignored and the whole file is sent (as the RFC allows); a range that
starts past the end is a 416.
"""

import re
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from shared.books.files import FileStore
from shared.errors import RangeNotSatisfiable
from shared.models import BookFile

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def attachment(filename: str) -> str:
    """A Content-Disposition that saves the answer as `filename` (RFC 6266; RFC 5987 for a
    name beyond ASCII, with an ASCII stand-in for old clients)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    if ascii_name == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) asked for by a Range header, or None for the whole file."""
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last n bytes
        start = max(0, size - int(last))
        return (start, size) if size else None
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable(f"the range starts at byte {start}, past the end of the file ({size} bytes)", size)
    end = min(size, int(last) + 1) if last else size
    if end <= start:
        return None  # last before first: not a valid range, so ignored
    return start, end


def stored_file(book_file: BookFile, store: FileStore, range_header: str | None) -> StreamingResponse:
    """The whole file (200), or the range asked for (206)."""
    assert book_file.size is not None, "only a built file is served"
    size = book_file.size
    asked = byte_range(range_header, size)
    start, end = asked or (0, size)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "Content-Disposition": attachment(book_file.filename),
        "ETag": f'"{book_file.key}"',
    }
    if asked is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    body = store.read(book_file.id, start, end) if end > start else iter(())
    return StreamingResponse(body, status_code=206 if asked else 200, media_type=book_file.media_type, headers=headers)
