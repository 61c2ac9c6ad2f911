"""Marker words kept in data files beside this module, each file from one open source.

A word list is a UTF-8 TSV: lines starting with ``#`` name the source, its version and
licence, and how the words were chosen; every other line is ``word<TAB>...``, and only the
first column is read. The words become literal markers of one variety with one weight.
"""

from functools import cache
from importlib import resources


@cache
def read_words(filename: str) -> tuple[str, ...]:
    """The words of the data file ``filename`` in this package, in file order."""
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    words = (line.split("\t", 1)[0].strip() for line in text.splitlines() if not line.startswith("#"))
    return tuple(word for word in words if word)
