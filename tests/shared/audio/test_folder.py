"""Snippet audio in a folder (VOXQ_AUDIO_DIR), on SQLite and on Postgres: a row names its file,
the file is there whenever the row is, and the sweep takes the file with the row."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audio import retention
from shared.audio.folder import AudioFolder
from shared.audio.snippets import NewSnippet, get_snippet, snippet_audio, store_snippets
from shared.config import get_settings
from shared.db import make_engine
from shared.errors import AudioExpired
from shared.models import Snippet, utcnow
from shared.tenants.auth import create_key, tenant_for_key
from tests.shared.audio.test_retention import DAYS, settings

FLAC = b"fLaC" + bytes(range(256)) * 40


@pytest.fixture
def sessions(database_url: str) -> Iterator[Callable[[], Session]]:
    engine = make_engine(database_url)
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AudioFolder:
    root = tmp_path / "audio"
    monkeypatch.setattr(get_settings(), "audio_dir", root)
    return AudioFolder(root)


def files(folder: AudioFolder) -> list[Path]:
    return sorted(p for p in folder.root.rglob("*") if p.is_file())


def new_snippet(tenant: str, key: str, audio: bytes = FLAC) -> NewSnippet:
    return NewSnippet(tenant, key, "一句。", "cmn", "espeak", audio, 22050, 1.0)


def test_a_row_names_its_file_and_reads_back_the_same_bytes(
    sessions: Callable[[], Session], folder: AudioFolder
) -> None:
    with sessions() as s:
        tenant = tenant_for_key(s, create_key(s, "folder-basic"))
        store_snippets(s, [new_snippet(tenant, "a" * 64), new_snippet(tenant, "b" * 64, FLAC[::-1])])
        s.commit()
        snippet = get_snippet(s, tenant, "a" * 64)
        assert snippet is not None and snippet.audio is None and snippet.size == len(FLAC)
        assert snippet.audio_file is not None and snippet.audio_file.startswith("a" * 64)
        assert snippet_audio(snippet) == FLAC
        other = get_snippet(s, tenant, "b" * 64)
        assert other is not None and snippet_audio(other) == FLAC[::-1]
    assert len(files(folder)) == 2 and not list(folder.root.rglob("*.part"))


def test_a_key_another_worker_stored_first_keeps_one_file(sessions: Callable[[], Session], folder: AudioFolder) -> None:
    with sessions() as s:
        tenant = tenant_for_key(s, create_key(s, "folder-race"))
        store_snippets(s, [new_snippet(tenant, "c" * 64)])
        s.commit()
        store_snippets(s, [new_snippet(tenant, "c" * 64, b"fLaC other")])  # the slower worker
        s.commit()
        rows = s.scalars(select(Snippet).where(Snippet.tenant_id == tenant)).all()
        assert len(rows) == 1 and snippet_audio(rows[0]) == FLAC
    assert [p.name for p in files(folder)] == [rows[0].audio_file]


def test_a_rolled_back_group_leaves_no_file(sessions: Callable[[], Session], folder: AudioFolder) -> None:
    with sessions() as s:
        tenant = tenant_for_key(s, create_key(s, "folder-rollback"))
        s.commit()
        store_snippets(s, [new_snippet(tenant, "d" * 64)])
        assert len(files(folder)) == 1  # written before the row that names it
        s.rollback()
        assert get_snippet(s, tenant, "d" * 64) is None
    assert files(folder) == []


def test_the_sweep_removes_a_file_with_its_row_and_reads_rows_stored_in_the_database(
    sessions: Callable[[], Session], folder: AudioFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as s:
        tenant = tenant_for_key(s, create_key(s, "folder-sweep"))
        monkeypatch.setattr(get_settings(), "audio_dir", None)
        store_snippets(s, [new_snippet(tenant, "e" * 64, b"fLaC in the row")])  # before the folder was set
        monkeypatch.setattr(get_settings(), "audio_dir", folder.root)
        store_snippets(s, [new_snippet(tenant, "f" * 64)])
        s.commit()
        in_row = get_snippet(s, tenant, "e" * 64)
        assert in_row is not None and in_row.audio_file is None and snippet_audio(in_row) == b"fLaC in the row"
        in_file = get_snippet(s, tenant, "f" * 64)
        assert in_file is not None
    assert len(files(folder)) == 1
    swept = retention.sweep(sessions, settings(audio_dir=folder.root), now=utcnow() + 31 * DAYS, tenant_id=tenant)
    assert swept.rows == 2 and swept.bytes == len(b"fLaC in the row") + len(FLAC)
    assert files(folder) == []
    with pytest.raises(AudioExpired):  # a reader that found the row before the sweep took it
        snippet_audio(in_file)
