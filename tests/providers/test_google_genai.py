"""Google Gen AI through the public provider interface, on recorded responses.

No Gemini or Vertex AI server can run here, so these are recorded responses in the documented
``generateContent`` / ``streamGenerateContent`` JSON (values made up), served to the REAL
``google-genai`` client through an httpx mock transport, or turned into the SDK's real
``GenerateContentResponse`` with ``model_validate``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from multi_llm_otel import llm_call, providers
from multi_llm_otel.providers.google_genai import EXTRACTOR
from multi_llm_otel.testing import Captured, capture

MODEL = "gemini-2.5-flash"

RESPONSE: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [{"text": "Thinking it over.", "thought": True}, {"text": "The sky is blue."}],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 2100,
        "cachedContentTokenCount": 2048,
        "candidatesTokenCount": 6,
        "thoughtsTokenCount": 40,
        "totalTokenCount": 2146,
    },
    "modelVersion": "gemini-2.5-flash-001",
    "responseId": "mT9aZ-rec0rdedRespOnse",
}

STREAM: list[dict[str, Any]] = [
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "The sky "}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 2, "totalTokenCount": 14},
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "stream-1",
    },
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "is blue."}]}, "finishReason": "MAX_TOKENS", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 12,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 3,
            "totalTokenCount": 20,
        },
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "stream-1",
    },
]

ERROR = {"error": {"code": 400, "message": "API key not valid. key=AIzaSyFAKEFAKEFAKE", "status": "INVALID_ARGUMENT"}}


def handler(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith(":streamGenerateContent"):
        body = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in STREAM)
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    payload = json.loads(request.content)
    if payload["contents"][0]["parts"][0]["text"] == "fail":
        return httpx.Response(400, json=ERROR)
    return httpx.Response(200, json=RESPONSE)


async def async_handler(request: httpx.Request) -> httpx.Response:
    return handler(request)


@pytest.fixture
def client() -> Iterator[genai.Client]:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    ahttp = httpx.AsyncClient(transport=httpx.MockTransport(async_handler))
    yield genai.Client(api_key="test-key", http_options=types.HttpOptions(httpx_client=http, httpx_async_client=ahttp))
    http.close()


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    with capture() as captured:
        yield captured


def span_attrs(telemetry: Captured) -> dict[str, Any]:
    (span,) = telemetry.spans()
    return dict(span.attributes or {})


def reply(telemetry: Captured) -> dict[str, Any]:
    (record,) = telemetry.logs("llm_response")
    return dict(record.attributes or {})


def test_sdk_response_is_read() -> None:
    response = types.GenerateContentResponse.model_validate(RESPONSE)
    assert providers.for_response(response) is EXTRACTOR
    info = EXTRACTOR.response(response)
    assert info.response_model == "gemini-2.5-flash-001"
    assert info.response_id == "mT9aZ-rec0rdedRespOnse"
    # The prompt count already holds the cached part; thinking is output.
    assert (info.input_tokens, info.cache_read_tokens) == (2100, 2048)
    assert (info.output_tokens, info.reasoning_tokens) == (46, 40)
    assert info.caching_reported is True
    assert info.finish_reasons == ["STOP"]
    assert info.output_text == "The sky is blue."


def test_json_and_model_dump_read_the_same() -> None:
    sdk = EXTRACTOR.response(types.GenerateContentResponse.model_validate(RESPONSE))
    for shape in (RESPONSE, types.GenerateContentResponse.model_validate(RESPONSE).model_dump()):
        assert providers.for_response(shape) is EXTRACTOR
        assert EXTRACTOR.response(shape) == sdk


def test_no_cache_field_is_no_cache_information() -> None:
    body = copy.deepcopy(RESPONSE)
    del body["usageMetadata"]["cachedContentTokenCount"]
    info = EXTRACTOR.response(types.GenerateContentResponse.model_validate(body))
    assert info.cache_read_tokens is None
    assert info.caching_reported is False


def test_generate_content_through_the_real_client(client: genai.Client, telemetry: Captured) -> None:
    @llm_call
    def ask(**kwargs: Any) -> Any:
        return client.models.generate_content(**kwargs)

    config = types.GenerateContentConfig(max_output_tokens=64, temperature=0.2, response_mime_type="application/json")
    response = ask(model=MODEL, contents="Why is the sky blue?", config=config)

    assert isinstance(response, types.GenerateContentResponse)
    attrs = span_attrs(telemetry)
    assert attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert attrs["server.address"] == "generativelanguage.googleapis.com"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.response.model"] == response.model_version
    assert attrs["gen_ai.response.id"] == response.response_id
    assert attrs["gen_ai.usage.input_tokens"] == 2100
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 2048
    assert attrs["gen_ai.usage.output_tokens"] == 46
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 40
    assert attrs["gen_ai.response.finish_reasons"] == ("STOP",)
    assert telemetry.event_names() == ["llm_request", "llm_response", "cache_hit"]
    (request,) = telemetry.logs("llm_request")
    assert dict(request.attributes or {})["response_format"] == "json_object"


def test_generate_content_stream(client: genai.Client, telemetry: Captured) -> None:
    @llm_call(capture_content=True)
    def ask(**kwargs: Any) -> Any:
        return client.models.generate_content_stream(**kwargs)

    chunks = list(ask(model=MODEL, contents="Why is the sky blue?"))

    assert [type(c) for c in chunks] == [types.GenerateContentResponse] * 2
    event = reply(telemetry)
    assert event["stream"] is True
    assert event["completed"] is True
    assert event["chunk_count"] == 2
    # Running totals: the last chunk's counts, not a sum.
    assert (event["input_tokens"], event["output_tokens"], event["reasoning_tokens"]) == (12, 8, 3)
    assert event["finish_reasons"] == ("MAX_TOKENS",)
    assert event["output_text"] == "The sky is blue."
    assert event["response_id"] == "stream-1"
    assert span_attrs(telemetry)["gen_ai.provider.name"] == "gcp.gemini"


async def test_async_generate_content_and_stream(client: genai.Client, telemetry: Captured) -> None:
    @llm_call
    async def ask(**kwargs: Any) -> Any:
        return await client.aio.models.generate_content(**kwargs)

    @llm_call
    async def stream(**kwargs: Any) -> Any:
        return await client.aio.models.generate_content_stream(**kwargs)

    response = await ask(model=MODEL, contents="Hi")
    texts = [chunk.text async for chunk in await stream(model=MODEL, contents="Hi")]

    assert response.response_id == RESPONSE["responseId"]
    assert texts == ["The sky ", "is blue."]
    first, second = (dict(r.attributes or {}) for r in telemetry.logs("llm_response"))
    assert first["input_tokens"] == 2100
    assert second["output_tokens"] == 8
    assert second["completed"] is True


def test_api_error(client: genai.Client, telemetry: Captured) -> None:
    @llm_call
    def ask(**kwargs: Any) -> Any:
        return client.models.generate_content(**kwargs)

    with pytest.raises(errors.ClientError) as info:
        ask(model=MODEL, contents="fail")

    assert info.value.code == 400
    (record,) = telemetry.logs("llm_error")
    error = dict(record.attributes or {})
    assert error["error_type"] == "ClientError"
    assert error["status_code"] == 400
    assert error["error_code"] == "INVALID_ARGUMENT"
    assert "API key not valid" in error["message"]
    assert span_attrs(telemetry)["error.type"] == "ClientError"


def test_vertex_ai_client_is_named_by_its_url() -> None:
    vertex = genai.Client(vertexai=True, project="p", location="us-central1", credentials=_NoCredentials())
    assert providers.for_client(vertex.models.generate_content) is EXTRACTOR
    url = EXTRACTOR.base_url(vertex.models.generate_content)
    assert providers.provider_from_base_url(url, "")[0] == "gcp.vertex_ai"


class _NoCredentials:
    """Stands in for google.auth credentials: the client is built, never used."""

    token = "t"
    expired = False
    valid = True
    quota_project_id = None
