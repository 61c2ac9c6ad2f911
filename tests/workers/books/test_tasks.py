"""A book's M4B and chapters zip, built once by the media task and then served from storage:
the in-process API (SQLite) answers 202 with the book job, the task runs in this process
(Celery's `apply`, real ffmpeg), and the stored file comes back whole or by range.

The lines are put in the snippet cache first, as a worker would, so the batch is finished the
moment it is submitted."""

import base64
import json
import subprocess
import uuid
import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from shared.audio import retention
from shared.audio.codec import Audio, encode
from shared.audio.snippets import NewSnippet, store_snippet
from shared.config import get_settings
from shared.db import new_session, session_scope
from shared.jobs.contracts import ScriptLine
from shared.jobs.lanes import lane_list
from shared.jobs.synthesis import synthesis_jobs
from shared.models import BookFile, BookFileChunk, Job, JobStatus, utcnow
from shared.tenants.auth import tenant_for_key
from workers.books.tasks import build_book


def cached_book(client: TestClient, key: str, chapters: int = 2, lines_each: int = 2) -> dict[str, Any]:
    """A finished batch of a text book with `# ` chapters, its lines cached as a worker would."""
    tag = uuid.uuid4().hex[:6]
    script, texts = [], []
    for chapter in range(1, chapters + 1):
        texts.append(f"第{chapter}章 {tag}")  # the heading is the chapter's first line
        script.append(f"# {texts[-1]}")
        for line in range(1, lines_each + 1):
            texts.append(f"第{chapter}章第{line}句{tag}。")
            script.append(texts[-1])
    cache(key, texts)
    r = client.post("/v1/batches", files={"file": ("书.txt", "\n".join(script).encode())}, data={"voice": "cmn"})
    assert r.status_code == 202 and r.json()["done"], r.text
    return dict(r.json())


def cache(key: str, texts: list[str], seconds: float = 0.5) -> list[str]:
    tone = np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(22050 * seconds))).astype(np.float32) * 0.3
    with session_scope() as s:
        tenant = tenant_for_key(s, key)
        keys = [job.snippet_key or "" for job in synthesis_jobs(s, tenant, [ScriptLine(1, t) for t in texts], "cmn")]
        for snippet_key, text in zip(keys, texts, strict=True):
            audio = encode(Audio(tone, 22050))
            store_snippet(s, NewSnippet(tenant, snippet_key, text, "cmn", "espeak", audio, 22050, seconds))
    return keys


def ask(client: TestClient, batch_id: str, output: str = "m4b", **headers: str) -> httpx.Response:
    params = {"output": output} | ({"format": "flac"} if output == "chapters" else {})
    return client.get(f"/v1/batches/{batch_id}/audio", params=params, headers=headers)


def build(job_id: str) -> dict[str, Any]:
    """Run the book task in this process, as a media worker would; the job as it ends."""
    build_book.apply(args=[job_id])
    with session_scope() as s:
        job = s.get_one(Job, job_id)
        return {"status": job.status, "result": job.result, "error": job.error}


def test_the_first_request_answers_202_with_the_book_job_on_the_media_queue(
    client: TestClient, inproc_key: str, broker: redis.Redis
) -> None:
    batch = cached_book(client, inproc_key)

    first = ask(client, batch["id"])
    again = ask(client, batch["id"])

    assert first.status_code == 202
    job = first.json()
    assert job["kind"] == "book" and job["status"] == "queued"
    assert job["input"] == {
        "file_id": job["input"]["file_id"],
        "batch_id": batch["id"],
        "output": "m4b",
        "format": "aac",
    }
    assert first.headers["location"].endswith(f"/v1/jobs/{job['id']}")
    assert again.status_code == 202 and again.json()["id"] == job["id"]  # one job, however often it is asked
    (message,) = broker.lrange(lane_list("media", "live"), 0, -1)
    assert json.loads(base64.b64decode(json.loads(message)["body"]))[0] == [job["id"]]  # one book, its id alone
    assert client.get(f"/v1/jobs/{job['id']}").json()["kind"] == "book"


def test_once_built_the_m4b_is_served_from_storage_whole_and_by_range(
    client: TestClient, inproc_key: str, tmp_path: Path
) -> None:
    batch = cached_book(client, inproc_key, chapters=3)
    job_id = ask(client, batch["id"]).json()["id"]

    ended = build(job_id)
    whole = ask(client, batch["id"])
    size = int(whole.headers["content-length"])
    head = ask(client, batch["id"], Range="bytes=0-99")
    tail = ask(client, batch["id"], Range="bytes=-10")
    middle = ask(client, batch["id"], Range=f"bytes={size // 2}-")
    past = ask(client, batch["id"], Range=f"bytes={size}-")

    assert ended["status"] == JobStatus.succeeded, ended["error"]
    assert ended["result"]["size"] == size == len(whole.content) and ended["result"]["chapters"] == 3
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/mp4" and whole.content[4:8] == b"ftyp"
    assert head.status_code == 206 and head.content == whole.content[:100]
    assert head.headers["content-range"] == f"bytes 0-99/{size}"
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    assert middle.status_code == 206 and middle.content == whole.content[size // 2 :]
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    assert past.json()["error"]["type"] == "range_not_satisfiable"
    book = tmp_path / "book.m4b"
    book.write_bytes(whole.content)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_chapters", str(book)],
        capture_output=True,
        check=True,
    )
    assert len(json.loads(probe.stdout)["chapters"]) == 3


def test_a_range_across_stored_chunks_reads_only_what_it_covers(client: TestClient, inproc_key: str) -> None:
    """Chunks of 1 MiB: a 3 s book is far smaller, so the file is stored again in 1 KiB chunks."""
    from shared.books import files

    batch = cached_book(client, inproc_key, chapters=1)
    build(ask(client, batch["id"]).json()["id"])
    whole = ask(client, batch["id"]).content
    with session_scope() as s:
        file_id = s.scalars(select(BookFile.id).where(BookFile.batch_id == batch["id"])).one()
    chunk = files.FILE_CHUNK
    try:
        files.FILE_CHUNK = 1024
        files.DatabaseStore().write(file_id, BytesIO(whole))
        with session_scope() as s:
            chunks = len(s.scalars(select(BookFileChunk.number).where(BookFileChunk.file_id == file_id)).all())
        across = b"".join(files.DatabaseStore().read(file_id, 1000, 3100))
    finally:
        files.FILE_CHUNK = chunk

    assert chunks == -(-len(whole) // 1024)
    assert across == whole[1000:3100]


def test_chapters_are_a_zip_of_one_file_per_chapter(client: TestClient, inproc_key: str) -> None:
    batch = cached_book(client, inproc_key, chapters=2)

    build(ask(client, batch["id"], "chapters").json()["id"])
    r = ask(client, batch["id"], "chapters")

    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(BytesIO(r.content)).namelist()
    assert len(names) == 2 and all(name.endswith(".flac") for name in names)


def test_a_book_whose_lines_change_gets_a_new_file_and_the_old_one_goes(client: TestClient, inproc_key: str) -> None:
    batch = cached_book(client, inproc_key)
    build(ask(client, batch["id"]).json()["id"])
    old = ask(client, batch["id"])
    (other,) = cache(inproc_key, [f"换了的一句{uuid.uuid4().hex[:6]}。"], seconds=1.0)
    with session_scope() as s:  # the first line run again, with another audio
        first = s.scalars(select(Job).where(Job.batch_id == batch["id"]).order_by(Job.line).limit(1)).one()
        first.snippet_key = other

    rebuilt = ask(client, batch["id"])
    build(rebuilt.json()["id"])
    new = ask(client, batch["id"])

    assert old.status_code == 200 and rebuilt.status_code == 202 and new.status_code == 200
    assert new.headers["etag"] != old.headers["etag"] and len(new.content) > len(old.content)
    with session_scope() as s:
        assert len(s.scalars(select(BookFile.id).where(BookFile.batch_id == batch["id"])).all()) == 1


def test_after_a_failed_build_the_next_request_queues_a_new_job(client: TestClient, inproc_key: str) -> None:
    batch = cached_book(client, inproc_key)
    failed = ask(client, batch["id"]).json()["id"]
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == failed).values(status=JobStatus.failed, error="ffmpeg died"))

    retried = ask(client, batch["id"])

    assert retried.status_code == 202 and retried.json()["id"] != failed
    assert build(retried.json()["id"])["status"] == JobStatus.succeeded
    assert ask(client, batch["id"]).status_code == 200


def test_a_book_file_goes_with_the_retention_sweep_and_is_built_again_when_asked(
    client: TestClient, inproc_key: str
) -> None:
    batch = cached_book(client, inproc_key)
    build(ask(client, batch["id"]).json()["id"])
    with session_scope() as s:
        s.execute(
            update(BookFile).where(BookFile.batch_id == batch["id"]).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    swept = retention.sweep(new_session, get_settings())

    assert swept.book_files >= 1
    with session_scope() as s:
        assert s.scalars(select(BookFile.id).where(BookFile.batch_id == batch["id"])).all() == []
    assert ask(client, batch["id"]).status_code == 202


@pytest.mark.parametrize("header", ["bytes=5-2", "items=0-10", "bytes=0-1,5-9", "bytes=-"])
def test_a_range_header_it_cannot_serve_as_one_range_gets_the_whole_file(
    client: TestClient, inproc_key: str, header: str
) -> None:
    batch = cached_book(client, inproc_key, chapters=1, lines_each=1)
    build(ask(client, batch["id"]).json()["id"])

    r = ask(client, batch["id"], Range=header)

    assert r.status_code == 200 and len(r.content) == int(r.headers["content-length"])
