"""What the benchmarks share: the dev-set sentences and scratch folders (stacks: deploy/stack.py)."""

import csv
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV_SET = REPO.parent / "shared" / "data" / "dialect-dev.tsv"
sys.path.insert(0, str(REPO))


def dev_sentences() -> list[str]:
    with DEV_SET.open(encoding="utf-8", newline="") as f:
        return [row["text"].strip() for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def unique_lines(n: int) -> list[str]:
    """n distinct lines made of pairs of dev-set sentences (so no line is a cache hit)."""
    texts = dev_sentences()
    k = len(texts)
    return [f"{texts[i % k]}{texts[(i + 1 + (i // k) * 13) % k]}" for i in range(n)]


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
