"""What reading numbers as words costs per 10,000 lines: the normaliser as it is, beside the one
of an earlier commit (read from git, `--before`), on book lines (the dialect dev set, few
digits) and on call-centre lines (an order number, a date, an amount, a phone number in each).
Accepting a batch pays it once per line; so does POST /v1/normalize.

    .venv/bin/python -m bench.normalize_cost [--before e5f1973]
"""

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.backlog import Lines
from deploy.stack import REPO
from shared.jobs.synthesis import speech_text
from shared.text.normalize import normalize_zh

LINES = 10_000
TEMPLATES = [
    "您的订单号{order}已发货，预计{m}月{d}日送达，客服电话400-{a}-{b}。",
    "本月账单金额为¥{amount}.{cents}元，请于{m}月{d}日前还款，逾期利率{rate}%。",
    "请拨打138{phone}联系我们，工作时间{h}:00到{h2}:30。",
    "您尾号{b}的银行卡于{m}月{d}日{h}:{mm}消费{amount}元。",
]


def call_centre_lines(n: int) -> list[str]:
    rnd = random.Random(1)
    return [
        rnd.choice(TEMPLATES).format(
            order=rnd.randint(10**9, 10**10 - 1),
            m=rnd.randint(1, 12),
            d=rnd.randint(1, 28),
            a=rnd.randint(100, 999),
            b=rnd.randint(1000, 9999),
            amount=rnd.randint(1, 99_999),
            cents=rnd.randint(10, 99),
            rate=rnd.randint(1, 30),
            phone=rnd.randint(10**7, 10**8 - 1),
            h=rnd.randint(8, 10),
            h2=rnd.randint(17, 20),
            mm=rnd.randint(10, 59),
        )
        for _ in range(n)
    ]


def old_normalizer(commit: str) -> Callable[[str], str]:
    """normalize_zh as it was at `commit`, loaded from git into a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{commit}:shared/text/normalize.py"], cwd=REPO, capture_output=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "normalize_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("normalize_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["normalize_before"] = module
    spec.loader.exec_module(module)
    return module.normalize_zh


def best_ms(run: Callable[[str], str], lines: list[str], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for line in lines:
            run(line)
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="e5f1973", help="the commit whose normaliser to compare with")
    args = parser.parse_args()
    before = old_normalizer(args.before)
    sets = {"book lines": Lines().take(LINES), "call-centre lines": call_centre_lines(LINES)}
    for name, lines in sets.items():
        now, then = best_ms(normalize_zh, lines), best_ms(before, lines)
        whole = best_ms(lambda text: speech_text(text, None, "espeak"), lines)
        print(
            f"{name}: numbers as words {now:.1f} ms per {LINES:,} lines ({now / LINES * 1000:.1f} µs a line), "
            f"at {args.before} {then:.1f} ms; the whole spoken form (cleaning, erhua, numbers) {whole:.1f} ms"
        )


if __name__ == "__main__":
    main()
