"""CPU text work per line, as the API and workers do it: normalising a long text for speech
and naming the dialect of short and long texts. Prints its figures; asserts nothing.

    .venv/bin/python -m bench.text_speed
"""

import time
from collections.abc import Callable

from bench.common import dev_sentences
from shared.dialect.detector import detect
from shared.text.normalize import normalize_zh

LONG_TEXT = "2024年3月5日10:30，气温-3~5℃，涨幅12.5%，售价¥12.50，电话13812345678。今天我们去公园。" * 60


def best_of(rounds: int, run: Callable[[], object]) -> float:
    """The fastest of `rounds` runs, in seconds: the least disturbed by other work on the machine."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    normalise_s = best_of(5, lambda: normalize_zh(LONG_TEXT))
    print(f"normalise a {len(LONG_TEXT):,}-character text: {normalise_s * 1000:.1f} ms")
    sentences = dev_sentences()
    detect(sentences[0])  # loads the word list once
    detect_s = best_of(3, lambda: [detect(text) for text in sentences])
    print(f"dialect detector: {len(sentences) / detect_s:,.0f} dev-set sentences/s")
    long_text = "今天天气不错，我们去公园散步吧。" * 2000 + "佢"
    print(
        f"dialect detector on a {len(long_text):,}-character text: {best_of(3, lambda: detect(long_text)) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
