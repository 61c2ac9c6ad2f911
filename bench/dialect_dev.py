"""Measure the CPU dialect detector on a labelled TSV and print its report and speed.

    .venv/bin/python bench/dialect_dev.py                      # ../shared/data/dialect-dev.tsv
    .venv/bin/python bench/dialect_dev.py path/to/labelled.tsv
    .venv/bin/python bench/dialect_dev.py --half A             # tune on even rows ...
    .venv/bin/python bench/dialect_dev.py --half B             # ... and check on the odd rows

``--half`` splits the rows by index parity (first data row is 0, in half A), so a change
tuned on one half can be checked on sentences it was not tuned on.
"""

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.dialect.detector import detect  # noqa: E402
from shared.dialect.evaluate import evaluate, load_labelled_tsv  # noqa: E402

DEFAULT_TSV = REPO.parent / "shared" / "data" / "dialect-dev.tsv"
SPEED_ROUNDS = 5
HALVES = {"A": 0, "B": 1}
"""First row of each half; a half takes every second row from there."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tsv", nargs="?", type=Path, default=DEFAULT_TSV, help="TSV with text and label columns")
    parser.add_argument("--half", choices=sorted(HALVES), help="only the even (A) or odd (B) rows")
    args = parser.parse_args()

    pairs = load_labelled_tsv(args.tsv)
    if args.half:
        pairs = pairs[HALVES[args.half] :: 2]
    report = evaluate(pairs, lambda text: detect(text).label)
    print(report.format())

    # Time separately from the evaluation, over several rounds, so start-up does not count.
    texts = [text for text, _ in pairs]
    started = time.perf_counter()
    for _ in range(SPEED_ROUNDS):
        for text in texts:
            detect(text)
    elapsed = time.perf_counter() - started
    print(f"\nspeed {SPEED_ROUNDS * len(texts) / elapsed:,.0f} sentences/second (single process)")


if __name__ == "__main__":
    main()
