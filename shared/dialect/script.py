"""One script for matching: traditional and simplified Chinese both become simplified.

Markers and input text go through the same conversion, so a marker written in either
script matches text written in either script. Cantonese- and Wu-specific characters
(佢 咗 嘅 侬 𠲎 ...) have no simplified form and pass through unchanged.
"""

import re
import unicodedata
from functools import lru_cache

import opencc

# Spaces between two Han characters carry no meaning in Chinese and would split markers.
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u3400-\u9fff\U00020000-\U0003134f])\s+(?=[\u3400-\u9fff\U00020000-\U0003134f])")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    # Building the converter loads its dictionaries; do it once per process.
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert traditional characters to simplified (OpenCC t2s); other text is unchanged."""
    return _converter().convert(text)


def prepare(text: str) -> str:
    """The text as written, tidied: NFKC (full-width ASCII → ASCII) and no spaces inside
    runs of Han characters. Script is kept."""
    text = unicodedata.normalize("NFKC", text)
    return _SPACE_BETWEEN_HAN.sub("", text)


def normalize(text: str) -> str:
    """The form most markers are matched against: ``prepare`` and then simplified script."""
    return to_simplified(prepare(text))


def count_han(text: str) -> int:
    """How many Han characters the text has (punctuation, Latin and emoji excluded)."""
    return len(_HAN.findall(text))
