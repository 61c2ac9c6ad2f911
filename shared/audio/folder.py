"""Snippet audio in a folder (VOXQ_AUDIO_DIR) rather than in the database.

A line's FLAC is a few hundred KB: written into Postgres, it is most of the database's CPU per
line (out-of-line storage in 2 KB pieces, each written to the WAL), for bytes the database never
looks into. With a folder set, the row keeps what is asked of it (key, duration, expiry) and
names a file; the API and every worker must see the same folder (one machine, a shared volume,
a ReadWriteMany claim). Unset, audio stays in the row, as it always has: rows stored either way
are read either way, so the setting can change on a running system.

A file's name is the snippet's key and a random part: a row deleted by the sweep and the same
key written again by a worker get different files, so removing the old one never takes the
new one's audio. A file is written (then renamed into place, so no reader sees half of it)
before the row that names it is committed; the sweep removes a file after the row's delete is
committed. A crash between the two leaves a file no row names, never a row without its file.
"""

import contextlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.errors import AudioExpired


@dataclass(frozen=True)
class AudioFolder:
    root: Path

    def path(self, name: str) -> Path:
        # Two levels of 256 folders: no folder holds more than a few thousand files at 10^8 lines.
        return self.root / name[:2] / name[2:4] / name

    def write(self, key: str, audio: bytes) -> str:
        """Store `audio` as a new file for `key`; its name, for the snippet row."""
        name = f"{key}-{secrets.token_hex(6)}.flac"
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(audio)
        os.replace(partial, path)
        return name

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def remove(self, names: Iterable[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # removed already (a sweep that stopped midway)
                self.path(name).unlink()


def audio_folder(settings: Settings | None = None) -> AudioFolder | None:
    """The folder set by VOXQ_AUDIO_DIR; None: audio is kept in the database."""
    root = (settings or get_settings()).audio_dir
    return AudioFolder(root.expanduser()) if root is not None else None


# Session.info: (folder, file) of the snippet rows the session deleted, and of those it inserted.
_DOOMED = "voxq_audio_files_deleted"
_WRITTEN = "voxq_audio_files_written"


def remove_when_committed(session: Session, folder: AudioFolder, names: Iterable[str]) -> None:
    """Remove these files once `session` commits the deletion of their rows (never before: a
    row must not name a missing file); forget them if it rolls back."""
    session.info.setdefault(_DOOMED, []).extend((folder, name) for name in names)


def remove_unless_committed(session: Session, folder: AudioFolder, names: Iterable[str]) -> None:
    """Remove these new files if `session` rolls back the rows that name them."""
    session.info.setdefault(_WRITTEN, []).extend((folder, name) for name in names)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
    for folder, name in session.info.pop(_DOOMED, []):
        folder.remove([name])


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_DOOMED, None)
    for folder, name in session.info.pop(_WRITTEN, []):
        folder.remove([name])


def stored_audio(audio: bytes | None, audio_file: str | None) -> bytes:
    """A snippet row's FLAC, wherever it is kept."""
    if audio is not None:
        return audio
    assert audio_file is not None, "a snippet row holds its audio or names its file"
    folder = audio_folder()
    if folder is None:
        # An operator's mistake, not the client's: a 500 with this in the log.
        raise RuntimeError(f"snippet audio {audio_file} is kept in a folder, but VOXQ_AUDIO_DIR is not set here")
    try:
        return folder.read(audio_file)
    except FileNotFoundError:  # the sweep removed it after the caller found its row
        raise AudioExpired("the audio asked for has expired and is no longer stored") from None
