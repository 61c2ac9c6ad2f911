"""Expired audio through the API (in this process, on SQLite): 410 for a batch's and a job's
audio once the sweep deleted it, and deleting precomputed phrases.

The session's database is shared by every in-process test, so the clock is moved only for this
test's own rows (their batch or job ended, and their snippets' time came, 31 days ago); the
sweep then runs at the real time and touches nothing else."""

import uuid
from datetime import timedelta

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from shared.audio import retention
from shared.audio.codec import Audio, encode
from shared.audio.snippets import NewSnippet, store_snippet
from shared.config import get_settings
from shared.db import new_session, session_scope
from shared.jobs.contracts import ScriptLine
from shared.jobs.synthesis import synthesis_jobs
from shared.models import Batch, Job, Snippet, utcnow
from shared.tenants.auth import create_key, tenant_for_key

AGO = timedelta(days=31)


def cache(key: str, texts: list[str]) -> list[str]:
    """Put audio for `texts` (voice cmn) in the cache of the tenant of `key`, as a worker would."""
    tone = Audio(np.sin(np.linspace(0, 440 * 2 * np.pi, 22050)).astype(np.float32) * 0.3, 22050)
    with session_scope() as s:
        tenant = tenant_for_key(s, key)
        keys = [job.snippet_key or "" for job in synthesis_jobs(s, tenant, [ScriptLine(1, t) for t in texts], "cmn")]
        for snippet_key, text in zip(keys, texts, strict=True):
            store_snippet(s, NewSnippet(tenant, snippet_key, text, "cmn", "espeak", encode(tone), 22050, 1.0))
    return keys


def move_clock_back(keys: list[str], batch_id: str | None = None, job_id: str | None = None) -> None:
    """As if the batch (or job) ended 31 days ago; then sweep."""
    with session_scope() as s:
        retention.close_ended_batches(s)
        if batch_id:
            s.execute(update(Batch).where(Batch.id == batch_id).values(finished_at=utcnow() - AGO))
        if job_id:
            s.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow() - AGO))
        s.execute(update(Snippet).where(Snippet.key.in_(keys)).values(expires_at=utcnow() - timedelta(seconds=1)))
    retention.sweep(new_session, get_settings())


def still_stored(keys: list[str]) -> int:
    with session_scope() as s:
        return len(s.scalars(select(Snippet.id).where(Snippet.key.in_(keys))).all())


def test_an_expired_batchs_audio_and_its_lines_audio_are_410_gone(client: TestClient, inproc_key: str) -> None:
    texts = [f"第一行{uuid.uuid4().hex[:6]}。", f"第二行{uuid.uuid4().hex[:6]}。"]
    keys = cache(inproc_key, texts)
    batch = client.post("/v1/batches", files={"file": ("b.txt", "\n".join(texts).encode())}, data={"voice": "cmn"})
    assert batch.status_code == 202 and batch.json()["done"], batch.text  # every line was cached
    batch_id = batch.json()["id"]
    assert client.get(f"/v1/batches/{batch_id}/audio").status_code == 200
    line_job = client.get(f"/v1/batches/{batch_id}/jobs").json()[0]["id"]

    move_clock_back(keys, batch_id=batch_id)
    chapter = client.get(f"/v1/batches/{batch_id}/audio")
    lines = client.get(f"/v1/batches/{batch_id}/audio", params={"output": "zip"})
    one = client.get(f"/v1/jobs/{line_job}/audio")

    assert still_stored(keys) == 0
    assert chapter.status_code == 410 and lines.status_code == 410 and one.status_code == 410
    error = chapter.json()["error"]
    assert error["type"] == "audio_expired"
    assert f"batch {batch_id}" in error["message"] and "2 of its 2 lines" in error["message"]
    assert "VOXQ_SNIPPET_RETENTION_DAYS" in error["message"]
    assert one.json()["error"]["type"] == "audio_expired" and line_job in one.json()["error"]["message"]


def test_a_single_jobs_audio_is_410_gone_a_retention_after_it_finished(client: TestClient, inproc_key: str) -> None:
    text = f"单独的一句{uuid.uuid4().hex[:6]}。"
    keys = cache(inproc_key, [text])
    job = client.post("/v1/synthesize", json={"text": text, "voice": "cmn"})
    assert job.status_code == 200, job.text  # cached: answered at once
    assert client.get(f"/v1/jobs/{job.json()['id']}/audio").status_code == 200

    move_clock_back(keys, job_id=job.json()["id"])
    gone = client.get(f"/v1/jobs/{job.json()['id']}/audio")

    assert gone.status_code == 410 and gone.json()["error"]["type"] == "audio_expired"


def test_deleted_precomputed_phrases_are_freed_unless_a_batch_still_uses_them(
    client: TestClient, inproc_key: str
) -> None:
    alone, shared_phrase = f"只预存的{uuid.uuid4().hex[:6]}。", f"批里也用的{uuid.uuid4().hex[:6]}。"
    keys = cache(inproc_key, [alone, shared_phrase])
    body = {"phrases": [alone, shared_phrase], "voice": "cmn"}
    assert client.post("/v1/snippets/precompute", json=body).status_code == 200  # both cached: kept from now
    with session_scope() as s:
        assert s.scalars(select(Snippet.expires_at).where(Snippet.key.in_(keys))).all() == [None, None]
    files = {"file": ("b.txt", shared_phrase.encode())}
    assert client.post("/v1/batches", files=files, data={"voice": "cmn"}).status_code == 202

    deleted = client.post("/v1/snippets/delete", json=body)

    assert deleted.status_code == 200, deleted.text
    out = deleted.json()
    assert (out["deleted"], out["freed"]) == (2, 1)
    assert [(p["found"], p["freed"]) for p in out["phrases"]] == [(True, True), (True, False)]
    assert out["phrases"][1]["expires_at"] is not None  # the batch keeps it for its retention
    assert still_stored(keys[:1]) == 0 and still_stored(keys[1:]) == 1
    again = client.post("/v1/snippets/delete", json=body)
    assert again.status_code == 404 and again.json()["error"]["type"] == "not_found"


def test_deleting_another_tenants_precomputed_phrase_is_404_and_keeps_it(client: TestClient, inproc_key: str) -> None:
    phrase = f"别人的短语{uuid.uuid4().hex[:6]}。"
    keys = cache(inproc_key, [phrase])
    assert client.post("/v1/snippets/precompute", json={"phrases": [phrase], "voice": "cmn"}).status_code == 200
    with session_scope() as s:
        other = create_key(s, f"other-{uuid.uuid4().hex[:6]}")

    refused = client.post(
        "/v1/snippets/delete",
        json={"phrases": [phrase], "voice": "cmn"},
        headers={"Authorization": f"Bearer {other}"},
    )

    assert refused.status_code == 404 and refused.json()["error"]["type"] == "not_found"
    assert still_stored(keys) == 1
