"""Reading uploaded files with a size limit."""

from fastapi import UploadFile

from shared.errors import TooLarge


async def read_upload(file: UploadFile, limit: int, what: str) -> bytes:
    """The whole upload; TooLarge (naming `what`) if it is over `limit` bytes.

    Reads one byte past the limit: enough to know it is too big without reading it all.
    """
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"the {what} is over the {limit / (1024 * 1024):g} MiB limit")
    return data
