"""POST /v1/generate in the in-process API: what is refused before any job exists."""

from fastapi.testclient import TestClient


def test_generation_without_an_llm_server_is_a_503(client: TestClient) -> None:
    r = client.post("/v1/generate", json={"input": "你好"})

    assert r.status_code == 503
    assert "VOXQ_LLM_URL" in r.json()["error"]["message"]


def test_a_generation_needs_an_input(client: TestClient) -> None:
    assert client.post("/v1/generate", json={"persona": "导游"}).status_code == 422
