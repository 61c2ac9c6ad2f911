"""The OpenAPI schema says what the API enforces, and the same condition has the same status everywhere."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.main import app
from api.schemas import (
    DialectBatchRequest,
    DialectRequest,
    GenerateJobRequest,
    NormalizeRequest,
    PrecomputeRequest,
    SpeechRequest,
    SynthesizeRequest,
)
from shared.config import get_settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return app.openapi()


def test_every_route_is_described(spec: dict[str, Any]) -> None:
    undescribed = [
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if not op.get("description")
    ]
    assert undescribed == []


# FastAPI's own models, worded by FastAPI.
_FASTAPI_SCHEMAS = {"HTTPValidationError", "ValidationError"}
_REQUEST_BODIES: list[type[BaseModel]] = [
    SynthesizeRequest,
    SpeechRequest,
    DialectRequest,
    GenerateJobRequest,
    PrecomputeRequest,
    NormalizeRequest,
    DialectBatchRequest,
]


def test_every_schema_field_is_described(spec: dict[str, Any]) -> None:
    undescribed = [
        f"{name}.{field}"
        for name, schema in spec["components"]["schemas"].items()
        if name not in _FASTAPI_SCHEMAS
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description", "").strip()
    ]
    assert undescribed == []


@pytest.mark.parametrize("body", _REQUEST_BODIES, ids=lambda body: body.__name__)
def test_the_main_request_bodies_have_an_example_the_api_accepts(spec: dict[str, Any], body: type[BaseModel]) -> None:
    schema = spec["components"]["schemas"][body.__name__]
    examples = schema.get("examples", [])
    field_examples = [field for field, prop in schema["properties"].items() if prop.get("examples")]

    assert examples or field_examples, f"{body.__name__} has no example"
    for example in examples:
        body.model_validate(example)


def test_a_job_shows_the_input_and_result_of_its_kind(spec: dict[str, Any]) -> None:
    job = spec["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schemas = spec["components"]["schemas"]

    assert job["discriminator"]["propertyName"] == "kind"
    mapping = {kind: ref.rsplit("/", 1)[1] for kind, ref in job["discriminator"]["mapping"].items()}
    assert mapping == {
        "synthesis": "SynthesisJobOut",
        "generation": "GenerationJobOut",
        "dialect": "DialectJobOut",
        "book": "BookJobOut",
    }
    results = {kind: str(schemas[name]["properties"]["result"]) for kind, name in mapping.items()}
    assert "SynthesisResult" in results["synthesis"] and "GenerationResult" in results["generation"]
    assert "DialectAnswer" in results["dialect"] and "BookResult" in results["book"]
    assert set(schemas["DialectAnswer"]["properties"]["label"]["enum"]) == {
        "普通话",
        "四川话",
        "粤语",
        "上海话",
        "东北话",
        "河南话",
        "湖南话",
        "陕西话",
    }


def test_the_schema_states_the_limits_and_choices_the_api_enforces(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    limit = get_settings().max_text_chars

    for name, field in [("SynthesizeRequest", "text"), ("DialectText", "text"), ("SpeechRequest", "input")]:
        assert schemas[name]["properties"][field]["maxLength"] == limit, name
    assert schemas["SpeechRequest"]["properties"]["response_format"]["enum"] == [
        *("mp3", "opus", "aac", "flac", "wav", "pcm"),
        *("wav_ulaw_8k", "wav_alaw_8k", "ulaw_8k", "alaw_8k"),
    ]
    assert schemas["SpeechRequest"]["properties"]["voice"]["minLength"] == 1
    speed = schemas["SynthesizeRequest"]["properties"]["speed"]
    assert (speed["minimum"], speed["maximum"]) == (0.25, 4.0)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/synthesize", {"text": "好" * 6000}),
        ("/v1/dialect", {"text": "好" * 6000}),
        ("/v1/audio/speech", {"model": "tts-1", "voice": "cmn", "input": "好" * 6000}),
        ("/v1/snippets/precompute", {"phrases": ["好" * 6000]}),
        ("/v1/dialect/batch", {"items": [{"text": "好" * 6000}]}),
    ],
)
def test_a_text_over_the_limit_is_413_on_every_route(client: TestClient, path: str, body: dict[str, Any]) -> None:
    r = client.post(path, json=body)

    assert r.status_code == 413, r.text
    assert r.json()["error"]["type"] == "too_large"
    assert "6000 characters; the limit is 5000" in r.json()["error"]["message"]


def test_an_unknown_id_is_named_with_its_kind(client: TestClient) -> None:
    assert client.get("/v1/batches/batch_x").json()["error"]["message"] == "no batch 'batch_x'"
    assert client.get("/v1/jobs/job_x").json()["error"]["message"] == "no job 'job_x'"
    assert client.get("/v1/voices/voice_x").json()["error"]["message"] == "no voice 'voice_x'"


@pytest.mark.parametrize("text", ["", "   ", "\u200b"])
@pytest.mark.parametrize("path", ["/v1/synthesize", "/v1/dialect"])
def test_an_empty_text_is_400_on_every_route(client: TestClient, path: str, text: str) -> None:
    r = client.post(path, json={"text": text})

    assert r.status_code == 400, r.text
    assert "text is empty" in r.json()["error"]["message"]


def test_the_schema_declares_the_bearer_key_and_the_error_answers(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`voxq keys create`).",
    }
    assert spec["security"] == [{"apiKey": []}] and spec["paths"]["/health"]["get"]["security"] == []
    synthesize = spec["paths"]["/v1/synthesize"]["post"]["responses"]
    assert {"400", "401", "413", "422", "429"} <= set(synthesize)
    error = synthesize["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorOut")
    audio = spec["paths"]["/v1/jobs/{job_id}/audio"]["get"]["responses"]["200"]["content"]
    assert {"audio/wav", "audio/flac", "audio/mpeg"} <= set(audio) and "application/json" not in audio


def test_swagger_ui_and_redoc_load_nothing_from_another_host(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn" not in html.lower() and "googleapis" not in html
        for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/redoc.standalone.js"):
            if asset.rsplit("/", 1)[1] in html:
                assert client.get(asset).status_code == 200


def test_an_error_answer_has_the_documented_shape(client: TestClient) -> None:
    body = client.post("/v1/synthesize", json={"text": ""}).json()
    assert set(body) == {"error"} and {"type", "message"} <= set(body["error"])
