"""The snippet cache: synthesised audio, content-addressed by what produced it."""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import Insert, select
from sqlalchemy.orm import Session

from shared.audio.folder import audio_folder, remove_unless_committed, stored_audio
from shared.config import get_settings
from shared.db import in_chunks
from shared.models import Snippet, utcnow
from shared.text.normalize import RULES_VERSION
from shared.voices.resolve import VoiceSpec

# Bump when anything that changes audio without changing the key inputs changes, so stale
# audio is never served (the text normalisation rules have their own RULES_VERSION).
KEY_VERSION = 1


def key_prefix(voice: VoiceSpec, engine: str, model: str | None = None) -> bytes:
    """The part of a snippet key shared by every text of one voice on one engine and model."""
    payload = {"v": KEY_VERSION, "rules": RULES_VERSION, "voice": voice.fingerprint(), "engine": engine}
    if model is not None:  # the checkpoint or build (shared/jobs/synthesis.py engine_model)
        payload["model"] = model
    return json.dumps(payload, sort_keys=True).encode() + b"\n"


def snippet_key(prefix: bytes, text: str) -> str:
    """sha256 of the voice's key prefix and the normalised text (see `speech_text`)."""
    return hashlib.sha256(prefix + text.encode()).hexdigest()


def cached_durations(session: Session, tenant_id: str, keys: Iterable[str]) -> dict[str, float]:
    """The audio length of each of `keys` the tenant already has audio for."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, float] = {}
    for chunk in in_chunks(wanted):
        rows = session.execute(
            select(Snippet.key, Snippet.duration_s).where(Snippet.tenant_id == tenant_id, Snippet.key.in_(chunk))
        )
        found.update((key, duration) for key, duration in rows)
    return found


def get_snippet(session: Session, tenant_id: str, key: str) -> Snippet | None:
    return session.scalars(select(Snippet).where(Snippet.tenant_id == tenant_id, Snippet.key == key)).first()


def get_snippets(session: Session, tenant_id: str, keys: Iterable[str]) -> dict[str, Snippet]:
    wanted = list(dict.fromkeys(keys))
    out: dict[str, Snippet] = {}
    for chunk in in_chunks(wanted):
        for snippet in session.scalars(select(Snippet).where(Snippet.tenant_id == tenant_id, Snippet.key.in_(chunk))):
            out[snippet.key] = snippet
    return out


@dataclass(frozen=True)
class NewSnippet:
    """A line's audio as a worker made it, to be stored when its job is recorded."""

    tenant_id: str
    key: str
    text: str
    voice: str
    engine: str
    audio: bytes  # FLAC
    sample_rate: int
    duration_s: float


def store_snippet(session: Session, snippet: NewSnippet) -> None:
    """Insert a snippet unless the same key is already stored (two workers may race on it)."""
    store_snippets(session, [snippet])


def store_snippets(session: Session, snippets: Sequence[NewSnippet]) -> None:
    """Insert a group's snippets in one statement, each unless the same key is already stored
    (two workers may race on it). With VOXQ_AUDIO_DIR set, each one's audio is written to a
    file of its own first, and the files of the keys another worker stored are removed again."""
    if not snippets:
        return
    # No holder lets a snippet go sooner than the retention from now: the sweep first looks then.
    expires_at = utcnow() + timedelta(days=get_settings().snippet_retention_days)
    folder = audio_folder()
    rows = [asdict(snippet) | {"expires_at": expires_at, "size": len(snippet.audio)} for snippet in snippets]
    if folder is not None:
        for row in rows:
            row["audio_file"] = folder.write(row["key"], row.pop("audio"))
    unique = ["tenant_id", "key"]
    statement: Insert
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        statement = postgresql.insert(Snippet).on_conflict_do_nothing(index_elements=unique)
    else:
        from sqlalchemy.dialects import sqlite

        statement = sqlite.insert(Snippet).on_conflict_do_nothing(index_elements=unique)
    if folder is None:
        session.execute(statement, rows)  # an executemany, which psycopg pipelines
        return
    stored = set(session.scalars(statement.returning(Snippet.audio_file), rows))
    folder.remove(row["audio_file"] for row in rows if row["audio_file"] not in stored)
    remove_unless_committed(session, folder, [name for name in stored if name is not None])


def snippet_audio(snippet: Snippet) -> bytes:
    """The snippet's FLAC, from its row or from its file."""
    return stored_audio(snippet.audio, snippet.audio_file)
