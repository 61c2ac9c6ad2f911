"""What real workers record shows in the API's /metrics: a line spoken by a worker adds to
the waiting and running times and to the cache misses, a line the engine cannot speak to its
engine errors, and the same line again is a cache hit."""

import httpx

from deploy.stack import Stack
from tests.plugins.services import wait_for
from tests.scrape import Samples, samples, value


def scrape(api: httpx.Client) -> Samples:
    r = api.get("/metrics")
    assert r.status_code == 200, r.text
    return samples(r.text)


def finished(api: httpx.Client, job_id: str) -> dict[str, object] | None:
    job: dict[str, object] = api.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed") else None


def test_a_worker_records_what_its_jobs_waited_ran_and_met(stack: Stack) -> None:
    text = "指标：工人记录等待和运行的时间。"
    # /metrics shows every tenant's figures: the operator's (local tenant's) key reads them.
    with stack.client() as api, stack.client(stack.new_key("local")) as operator:
        before = scrape(operator)
        spoken = api.post("/v1/synthesize", json={"text": text, "voice": "cmn"}).json()
        silent = api.post("/v1/synthesize", json={"text": "……", "voice": "cmn"}).json()  # nothing to speak
        assert wait_for(lambda: finished(api, spoken["id"]))["status"] == "succeeded"
        assert wait_for(lambda: finished(api, silent["id"]))["status"] == "failed"
        again = api.post("/v1/synthesize", json={"text": text, "voice": "cmn"})
        after = scrape(operator)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert again.status_code == 200  # answered from the cache the worker filled
    assert added("voxq_job_wait_seconds_count", kind="synthesis") == 2
    assert added("voxq_job_run_seconds_count", kind="synthesis") == 2
    assert added("voxq_job_run_seconds_sum", kind="synthesis") > 0
    assert added("voxq_snippet_cache_misses_total") == 2
    assert added("voxq_snippet_cache_hits_total") == 1
    assert added("voxq_engine_errors_total", engine="espeak", kind="synthesis", error="permanent") == 1
    assert value(after, "voxq_queue_depth", queue="tts", lane="live") == 0
