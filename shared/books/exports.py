"""Whole-batch audio: one chapter file, or a zip of one file per line. Built on disk, so a
10,000-line chapter never has to fit in memory at once."""

import io
import tempfile
import zipfile
from collections.abc import Iterator, Sequence

import numpy as np
import soundfile as sf
from sqlalchemy.orm import Session

from shared.audio import telephony
from shared.audio.codec import FORMATS, STORAGE_FORMAT, decode, encode, extension, for_telephone, resample
from shared.audio.snippets import get_snippets, snippet_audio
from shared.db import in_chunks
from shared.errors import AudioExpired
from shared.models import Job

_SPOOL_BYTES = 16 * 1024 * 1024  # in memory up to this, then a temporary file


def _snippet_audio(session: Session, tenant_id: str, jobs: Sequence[Job]) -> Iterator[tuple[Job, bytes]]:
    """Stored FLAC of each job, in order, fetched a few hundred at a time."""
    for chunk in in_chunks(jobs, 200):
        snippets = get_snippets(session, tenant_id, (job.snippet_key for job in chunk if job.snippet_key))
        for job in chunk:
            assert job.snippet_key is not None, "synthesis jobs get their snippet key at submission"
            if (snippet := snippets.get(job.snippet_key)) is None:  # the sweep deleted it after the route looked
                raise AudioExpired(f"the audio of line {job.line} (job {job.id}) has expired and is no longer stored")
            yield job, snippet_audio(snippet)


def chapter(
    session: Session, tenant_id: str, jobs: Sequence[Job], fmt: str, pause_ms: int
) -> tempfile.SpooledTemporaryFile[bytes]:
    """Every line in order, with a pause between lines, as one file."""
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (the caller streams and closes it)
    container, subtype = FORMATS[fmt]
    writer: sf.SoundFile | None = None
    silence = np.zeros(0, dtype=np.float32)
    for _job, flac in _snippet_audio(session, tenant_id, jobs):
        audio = decode(flac)
        if fmt in telephony.FORMATS:
            audio = for_telephone(audio)  # each line trimmed and band-limited, then at 8 kHz
        if writer is None:
            rate = audio.sample_rate
            writer = sf.SoundFile(out, "w", samplerate=rate, channels=1, format=container, subtype=subtype)
            silence = np.zeros(int(rate * pause_ms / 1000), dtype=np.float32)
        else:
            writer.write(silence)
        writer.write(resample(audio, writer.samplerate).samples)
    if writer is not None:
        writer.close()
    out.seek(0)
    return out


def zip_of_lines(
    session: Session, tenant_id: str, jobs: Sequence[Job], fmt: str
) -> tempfile.SpooledTemporaryFile[bytes]:
    """A zip with one file per line, named by line number and the line's own id."""
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (the caller streams and closes it)
    width = max(4, len(str(max((job.line or 0) for job in jobs))))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for job, flac in _snippet_audio(session, tenant_id, jobs):
            data = flac if fmt == STORAGE_FORMAT else encode(decode(flac), fmt)
            name = f"{job.line or 0:0{width}d}"
            if job.line_id:
                name += "_" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in job.line_id)[:80]
            archive.writestr(f"{name}.{extension(fmt)}", data)
    out.seek(0)
    return out


def to_bytes(flac: bytes, fmt: str) -> bytes:
    return flac if fmt == STORAGE_FORMAT else encode(decode(flac), fmt)


def stream(file: io.IOBase, block: int = 1 << 20) -> Iterator[bytes]:
    try:
        while data := file.read(block):
            yield data
    finally:
        file.close()
