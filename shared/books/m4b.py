"""A book's audio through ffmpeg: one M4B (AAC in MP4) with a chapter marker and title per
chapter and the cover as its attached picture, or one file per chapter in a zip.

Samples are piped into ffmpeg's stdin as raw float32 while they are decoded (shared/books/timeline.py),
so neither the book nor a chapter is ever held in memory; ffmpeg writes a temporary file,
which the route streams. Both outputs take one gain for the whole book, measured first
(BS.1770, shared/books/loudness.py), and a look-ahead limiter holds the peaks under the ceiling; the
limiter's delay is compensated (`latency=1`), so no sample moves and the captions still hold.

The M4B is an audiobook to players (ftyp brand `M4B `, iTunes media kind 2), and its true peak
is measured on the encoded file: ffmpeg's AAC encoder overshoots the limiter by up to about 3 dB
at 64 kb/s mono, so a file over the ceiling is encoded again, lower by the excess.
"""

import logging
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from shared.books.loudness import gain_db
from shared.books.store import Cover
from shared.books.timeline import Line, Timeline, measure, pcm
from shared.config import Settings
from shared.errors import BadInput, EngineUnavailable, VoxQueueError

logger = logging.getLogger(__name__)

# ffmpeg's arguments for each format a chapter file may have.
CHAPTER_CODECS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "4", "-f", "ogg"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "4", "-f", "mp3"],
}
_COVER_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png"}
# Encodes of one M4B at most: one step down by the measured excess was enough on espeak-ng's voice
# and on full-scale bursts; the third is for an encoder that answers less than linearly.
_PEAK_TRIES = 3
# Lowered past the excess, as ebur128 reports a tenth of a dB and the encoder is not exactly linear.
_PEAK_MARGIN_DB = 0.2
# The summary ebur128 prints when its input ends: "True peak:" and, on the next line, "Peak: -1.3 dBFS".
_TRUE_PEAK = re.compile(r"True peak:\s*\n\s*Peak:\s*([-+]?(?:inf|\d+(?:\.\d*)?))\s*dBFS")


class FfmpegFailed(VoxQueueError):
    """Raised when ffmpeg exits with an error while making a book's audio (HTTP 500: ours to fix)."""


def ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise EngineUnavailable("ffmpeg is not installed on the API's host (Debian: apt-get install ffmpeg)")
    return path


def book_gain(session: Session, tenant_id: str, timeline: Timeline, settings: Settings) -> float:
    """The first pass: the one gain (dB) that takes the whole book to the loudness target."""
    meter = measure(session, tenant_id, timeline)
    loudness = meter.integrated()
    gain = gain_db(loudness, settings.book_loudness_lufs)
    logger.info(
        "book: %.1f LUFS, peak %.1f dBFS; gain %+.2f dB to %.1f LUFS, limited at %.1f dBFS",
        loudness,
        20 * np.log10(max(meter.peak, 1e-9)),
        gain,
        settings.book_loudness_lufs,
        settings.book_peak_dbfs,
    )
    return gain


def book_filter(gain: float, settings: Settings, trim_db: float = 0.0) -> str:
    """ffmpeg's audio filter for this book: its gain to the loudness target, the limiter, then
    `trim_db` lower. The trim comes after the limiter: lowered before it, the peaks the limiter
    holds at the ceiling would stay there, and so would the encoder's overshoot of them."""
    ceiling = 10 ** (settings.book_peak_dbfs / 20)
    chain = f"volume={gain:.3f}dB,alimiter=limit={ceiling:.5f}:level=0:latency=1:attack=5:release=50"
    return chain + (f",volume={-trim_db:.3f}dB" if trim_db else "")


def write_m4b(
    session: Session,
    tenant_id: str,
    timeline: Timeline,
    settings: Settings,
    out: Path,
    cover: Cover | None,
    tags: dict[str, str | None],
) -> None:
    """The whole book as one M4B at `out`, its true peak at most `book_peak_dbfs` (dBTP)."""
    gain = book_gain(session, tenant_id, timeline, settings)
    ceiling = settings.book_peak_dbfs
    with tempfile.TemporaryDirectory(prefix="voxq-m4b-") as work:
        metadata = Path(work) / "chapters.txt"
        metadata.write_text(ffmetadata(timeline, tags), encoding="utf-8")
        inputs = ["-i", str(metadata)]
        maps = ["-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]
        if cover is not None:
            picture = Path(work) / f"cover{_COVER_SUFFIX[cover.media_type]}"
            picture.write_bytes(cover.image)
            inputs += ["-i", str(picture)]
            maps += ["-map", "2:v", "-c:v", "copy", "-disposition:v:0", "attached_pic"]
        # ffmpeg's own AAC encoder with its fast coder: 3-4 times quicker than the default (twoloop) on
        # speech (45 min of espeak-ng: 11 s against 38 s), and no audible difference at 64 kb/s mono.
        codec = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", f"{settings.book_aac_kbps}k"]
        # An audiobook to players: `-f ipod` alone writes the brand `M4A ` whatever the file's name;
        # "M4B " keeps its space as one argument. media_type=2 is the iTunes `stik` atom: audiobook.
        output = ["-metadata", "media_type=2", "-brand", "M4B ", "-movflags", "+faststart", "-f", "ipod", str(out)]
        trim = 0.0
        for attempt in range(1, _PEAK_TRIES + 1):
            # Each encode streams the samples from the database again: nothing of the book is kept.
            audio_filter = ["-af", book_filter(gain, settings, trim)]
            _run(session, tenant_id, timeline, timeline.lines, [*inputs, *maps, *audio_filter, *codec, *output])
            peak = true_peak(out)
            logger.info(
                "book: M4B encode %d of at most %d, %.2f dB under the gain: true peak %.1f dBTP, ceiling %.1f",
                attempt,
                _PEAK_TRIES,
                trim,
                peak,
                ceiling,
            )
            if peak <= ceiling:
                return
            trim += peak - ceiling + _PEAK_MARGIN_DB
        logger.warning(
            "book: the M4B's true peak is still %.1f dBTP after %d encodes, over the %.1f ceiling; kept",
            peak,
            _PEAK_TRIES,
            ceiling,
        )


def true_peak(path: Path) -> float:
    """The true peak (dBTP) of the audio in `path` as decoded, by ffmpeg's ebur128 filter (which
    oversamples to 192 kHz). Its per-frame lines go to the verbose level, so what is read back
    is the summary, a few lines whatever the book's length."""
    command = [ffmpeg(), "-hide_banner", "-nostats", "-loglevel", "info", "-i", str(path), "-map", "0:a"]
    command += ["-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
    log = done.stderr.decode(errors="replace")
    if done.returncode != 0:  # ebur128 prints a summary even then, of what it did not measure
        raise FfmpegFailed(f"ffmpeg failed measuring {path.name} (exit {done.returncode}): {log.strip()[-2000:]}")
    return parse_true_peak(log)


def parse_true_peak(log: str) -> float:
    """The true peak (dBTP) in the summary of ffmpeg's `ebur128=peak=true`, the last one in
    `log`; -inf for silence."""
    found = _TRUE_PEAK.findall(log)
    if not found:
        raise FfmpegFailed(f"ffmpeg's ebur128 summary has no true peak: {log.strip()[-500:]!r}")
    return float(found[-1])


def write_chapters(
    session: Session, tenant_id: str, timeline: Timeline, settings: Settings, fmt: str, out: Path
) -> None:
    """A zip at `out` with one file per chapter (`01 Title.flac`), each at the book's gain."""
    if fmt not in CHAPTER_CODECS:
        raise BadInput(f"chapter files can be {', '.join(CHAPTER_CODECS)}, not {fmt!r}")
    audio_filter = book_filter(book_gain(session, tenant_id, timeline, settings), settings)
    width = max(2, len(str(max(timeline.titles, default=1))))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, title in timeline.titles.items():
            lines = timeline.chapter_lines(number)
            if not lines:
                continue
            with tempfile.NamedTemporaryFile(prefix="voxq-chapter-", suffix=f".{fmt}") as part:
                args = ["-af", audio_filter, *CHAPTER_CODECS[fmt], "-metadata", f"title={title}", part.name]
                _run(session, tenant_id, timeline, lines, args)
                archive.write(part.name, f"{number:0{width}d} {_file_name(title)}.{fmt}")


def ffmetadata(timeline: Timeline, tags: dict[str, str | None]) -> str:
    """ffmpeg's metadata file: the book's tags, and each chapter from the start of its first line
    to the start of the next chapter (the pause after a chapter's last line belongs to it)."""
    out = [";FFMETADATA1"]
    out += [f"{key}={_escape(value)}" for key, value in tags.items() if value]
    starts = timeline.starts(timeline.lines)
    first: dict[int, int] = {}
    for line, start in zip(timeline.lines, starts, strict=True):
        first.setdefault(line.chapter, start)
    numbers = [n for n in timeline.titles if n in first]
    total = timeline.length(timeline.lines)
    for i, number in enumerate(numbers):
        # The first chapter starts at 0 whatever its first line; each ends where the next starts.
        start = 0 if i == 0 else first[number]
        end = first[numbers[i + 1]] if i + 1 < len(numbers) else total
        out += ["[CHAPTER]", f"TIMEBASE=1/{timeline.rate}", f"START={start}", f"END={end}"]
        out.append(f"title={_escape(timeline.titles[number])}")
    return "\n".join(out) + "\n"


def _run(session: Session, tenant_id: str, timeline: Timeline, lines: Iterable[Line], args: list[str]) -> None:
    """ffmpeg reading `lines` as raw float32 on its stdin; its messages go to a file, never a
    pipe nobody reads (a full pipe would stop it)."""
    source = ["-f", "f32le", "-ar", str(timeline.rate), "-ac", "1", "-i", "pipe:0"]
    command = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *source, *args]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=log)
        assert process.stdin is not None
        try:
            for block in pcm(session, tenant_id, timeline, list(lines)):
                process.stdin.write(block.astype("<f4", copy=False).tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its exit status and log say why
        except BaseException:
            process.kill()
            process.wait()
            raise
        code = process.wait()
        if code != 0:
            log.seek(0)
            message = log.read().decode(errors="replace").strip()[-2000:]
            raise FfmpegFailed(f"ffmpeg failed (exit {code}): {message}")


def _escape(value: str) -> str:
    """ffmetadata's escaping: '=', ';', '#', '\\' and newlines take a backslash."""
    for ch in "\\=;#\n":
        value = value.replace(ch, "\\" + ch)
    return value


def _file_name(title: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in " -_." else "_" for ch in title).strip(" .")
    return safe[:80] or "chapter"
