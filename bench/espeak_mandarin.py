"""How much of the dialect dev set's Mandarin the embedded voice reads as Mandarin: each 普通话
line as the engine is given it (normalised, erhua left out), phonemised by the worker's
libespeak-ng; a line on which espeak-ng switches to English ("(en)" in its phonemes) is counted,
and listed with whether it has Latin letters (names such as Tom read in English are right).

    .venv/bin/python -m bench.espeak_mandarin
"""

import csv
import re

from bench.common import DEV_SET
from shared.jobs.synthesis import speech_text
from workers.tts.engines.espeak import EspeakEngine


def main() -> None:
    with DEV_SET.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        lines = [row["text"] for row in rows if row["label"] == "普通话"]
    engine = EspeakEngine()
    switched = [text for text in lines if "(en)" in engine.phonemes(speech_text(text, engine="espeak"))]
    latin = [text for text in switched if re.search("[A-Za-z]", text)]
    print(
        f"{len(lines) - len(switched)} of {len(lines)} Mandarin dev-set lines read in Mandarin; "
        f"{len(switched)} switch to English, {len(latin)} of them for Latin letters in the line"
    )


if __name__ == "__main__":
    main()
