"""A finished book's timeline and its audio as a stream: where each line starts and ends, to the
sample, and the samples themselves, one line at a time.

The join is the one of a batch's chapter file (shared/books/exports.py `chapter`): every line in order
at the first line's sample rate (another rate is resampled as `shared.audio.codec.resample` does),
with `line_pause_ms` of silence between two lines, across chapter ends too. So the M4B, the
chapter files and the captions agree with each other and with `output=chapter` to the sample;
the timeline needs only each snippet's stored rate and length, never its audio.
"""

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audio.codec import decode, resample
from shared.audio.folder import stored_audio
from shared.books.loudness import LoudnessMeter
from shared.books.store import chapter_titles
from shared.config import Settings
from shared.db import in_chunks
from shared.errors import AudioExpired, BadInput, NotReady
from shared.jobs import state
from shared.models import Batch, Job, JobKind, JobStatus, Snippet

_FETCH = 16  # snippets read from the database at once: a few MB of FLAC at most
_BLOCK = 1 << 16  # samples decoded at once from one line's FLAC


def line_pause_ms(settings: Settings) -> int:
    """Silence between two lines of a batch's audio: twice the pause between a line's chunks.
    The one definition: the chapter file, the M4B and the captions all use it."""
    return settings.pause_between_chunks_ms * 2


@dataclass(frozen=True)
class Line:
    number: int  # the job's line
    chapter: int  # 1 for a batch without chapters
    key: str  # its snippet
    samples: int  # its length at the book's rate
    text: str = ""  # as written (the job's input.text); read only for captions


@dataclass(frozen=True)
class Timeline:
    rate: int
    pause: int  # samples of silence between two lines
    lines: list[Line]
    titles: dict[int, str] = field(default_factory=dict)  # chapter number -> title

    def chapter_lines(self, chapter: int | None = None) -> list[Line]:
        return self.lines if chapter is None else [line for line in self.lines if line.chapter == chapter]

    def length(self, lines: Sequence[Line]) -> int:
        """Samples of `lines` joined: their own plus a pause between each two."""
        return sum(line.samples for line in lines) + self.pause * max(0, len(lines) - 1)

    def starts(self, lines: Sequence[Line]) -> list[int]:
        """Where each of `lines` starts when they are joined, in samples from the first."""
        out, at = [], 0
        for line in lines:
            out.append(at)
            at += line.samples + self.pause
        return out


def require_finished(session: Session, batch: Batch) -> None:
    """A book's audio and captions need every line spoken."""
    if batch.kind != JobKind.synthesis:
        raise BadInput(f"batch {batch.id} is a {batch.kind.value} batch and has no audio")
    counts = state.status_counts(session, batch.id)
    waiting = counts.get(JobStatus.queued.value, 0) + counts.get(JobStatus.running.value, 0)
    if waiting:
        raise NotReady(f"batch {batch.id} is not finished: {waiting} jobs to go")
    unspoken = sum(n for status, n in counts.items() if status != JobStatus.succeeded.value)
    if unspoken:
        raise NotReady(f"{unspoken} lines of batch {batch.id} did not succeed; a book needs every line spoken")


def load_timeline(session: Session, tenant_id: str, batch: Batch, settings: Settings, texts: bool = False) -> Timeline:
    """The finished batch's lines with their lengths, from the snippets' stored rate and length."""
    columns = [Job.line, Job.chapter, Job.snippet_key] + ([Job.input] if texts else [])
    rows = session.execute(select(*columns).where(Job.batch_id == batch.id).order_by(Job.line)).all()
    keys = list(dict.fromkeys(row.snippet_key for row in rows))
    lengths: dict[str, tuple[int, int]] = {}  # key -> (samples, rate) as stored
    for chunk in in_chunks(keys, 500):
        query = select(Snippet.key, Snippet.duration_s, Snippet.sample_rate).where(
            Snippet.tenant_id == tenant_id, Snippet.key.in_(chunk)
        )
        # duration_s is the clip's samples / rate, stored as a double: round() gives back the count.
        lengths.update((key, (round(duration * rate), rate)) for key, duration, rate in session.execute(query))
    missing = [row.line for row in rows if row.snippet_key not in lengths]
    if missing:
        raise AudioExpired(f"the audio of line {missing[0]} of batch {batch.id} has expired and is no longer stored")
    rate = lengths[rows[0].snippet_key][1]
    lines = []
    for row in rows:
        samples, own_rate = lengths[row.snippet_key]
        if own_rate != rate:
            samples = round(samples * rate / own_rate)  # as shared.audio.codec.resample makes it
        text = str(row.input.get("text", "")) if texts else ""
        lines.append(Line(row.line or 0, row.chapter or 1, row.snippet_key, samples, text))
    titles = chapter_titles(session, batch.id) or {1: str(batch.options.get("filename") or batch.id)}
    return Timeline(rate, int(rate * line_pause_ms(settings) / 1000), lines, titles)


def pcm(session: Session, tenant_id: str, timeline: Timeline, lines: Sequence[Line]) -> Iterator[np.ndarray]:
    """The samples of `lines` joined (float32, mono, the book's rate), a block at a time: one
    line's FLAC is decoded at once, a block at a time when it is at the book's rate."""
    silence = np.zeros(timeline.pause, dtype=np.float32)
    for i, (line, flac) in enumerate(_line_flacs(session, tenant_id, lines)):
        if i:
            yield silence
        written = 0
        for block in _decoded(flac, timeline.rate):
            written += len(block)
            yield block
        if written != line.samples:
            raise NotReady(f"line {line.number}'s audio has {written} samples, its record says {line.samples}")


def measure(session: Session, tenant_id: str, timeline: Timeline) -> LoudnessMeter:
    """The first pass: the whole book's loudness and peak, as it streams past."""
    meter = LoudnessMeter(timeline.rate)
    for block in pcm(session, tenant_id, timeline, timeline.lines):
        meter.add(block)
    return meter


def _line_flacs(session: Session, tenant_id: str, lines: Sequence[Line]) -> Iterator[tuple[Line, bytes]]:
    for chunk in in_chunks(lines, _FETCH):
        query = select(Snippet.key, Snippet.audio, Snippet.audio_file).where(
            Snippet.tenant_id == tenant_id, Snippet.key.in_({line.key for line in chunk})
        )
        audio = {key: stored_audio(flac, name) for key, flac, name in session.execute(query).all()}
        for line in chunk:
            if line.key not in audio:
                raise AudioExpired(f"the audio of line {line.number} has expired and is no longer stored")
            yield line, audio[line.key]
        del audio


def _decoded(flac: bytes, rate: int) -> Iterator[np.ndarray]:
    with sf.SoundFile(io.BytesIO(flac)) as f:
        if f.samplerate == rate and f.channels == 1:
            yield from f.blocks(blocksize=_BLOCK, dtype="float32")
            return
    yield resample(decode(flac), rate).samples
