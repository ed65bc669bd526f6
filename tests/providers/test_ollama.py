"""The Ollama extractor on what the real ``ollama`` SDK returns, and on plain NDJSON objects.

No Ollama server can run here: the real ``ollama.Client`` / ``AsyncClient`` (ollama 0.6.3 is built
on ``httpx``, not ``httpx2``) runs on an ``httpx.MockTransport`` that serves recorded fixtures
written from Ollama's documented ``/api/chat`` format (``_recorded``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import ollama
import pytest
from tests.providers import _recorded as rec

from multi_llm_otel.providers import for_client, for_error, for_response, for_stream, provider_from_base_url
from multi_llm_otel.providers._base import ResponseInfo
from multi_llm_otel.providers.ollama import EXTRACTOR

CHAT_INFO = ResponseInfo(
    response_model="llama3.2",
    input_tokens=26,
    output_tokens=298,
    finish_reasons=["stop"],
    output_text="Hello! How are you today?",
)


def _server(lines: list[dict[str, Any]], status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    """Answers ``/api/chat`` as Ollama does: one JSON object, or NDJSON when ``stream`` is true."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/chat"
        if status != 200:
            return httpx.Response(status, json=lines[0])
        if json.loads(request.content).get("stream"):
            return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=rec.ndjson(lines))
        return httpx.Response(200, json=rec.OLLAMA_CHAT)

    return handle


def _client(lines: list[dict[str, Any]], status: int = 200) -> ollama.Client:
    return ollama.Client(host="http://127.0.0.1:11434", transport=httpx.MockTransport(_server(lines, status)))


def test_chat_response_from_a_real_client() -> None:
    response = _client(rec.ollama_lines()).chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert type(response) is ollama.ChatResponse
    assert for_response(response) is EXTRACTOR
    assert EXTRACTOR.response(response) == CHAT_INFO


def test_chat_json() -> None:
    assert for_response(rec.OLLAMA_CHAT) is EXTRACTOR
    assert EXTRACTOR.response(rec.OLLAMA_CHAT) == CHAT_INFO


def test_generate_response() -> None:
    response = ollama.GenerateResponse(**rec.OLLAMA_GENERATE)
    assert for_response(response) is EXTRACTOR
    info = EXTRACTOR.response(response)
    assert (info.input_tokens, info.output_tokens, info.output_text) == (26, 290, rec.OLLAMA_GENERATE["response"])


def test_missing_prompt_eval_count_stays_none() -> None:
    body = {key: value for key, value in rec.OLLAMA_CHAT.items() if key != "prompt_eval_count"}
    info = EXTRACTOR.response(ollama.ChatResponse(**body))
    assert (info.input_tokens, info.output_tokens, info.caching_reported) == (None, 298, False)


def test_stream_from_a_real_client() -> None:
    stream = _client(rec.ollama_lines()).chat(model="llama3.2", messages=[], stream=True)
    assert for_stream(stream) is EXTRACTOR
    accumulator = EXTRACTOR.accumulator(stream)
    for chunk in stream:
        assert type(chunk) is ollama.ChatResponse
        accumulator.add(chunk)
    assert accumulator.result() == CHAT_INFO


async def test_async_stream_from_a_real_client() -> None:
    client = ollama.AsyncClient(
        host="http://127.0.0.1:11434", transport=httpx.MockTransport(_server(rec.ollama_lines()))
    )
    stream = await client.chat(model="llama3.2", messages=[], stream=True)
    assert for_stream(stream) is EXTRACTOR
    accumulator = EXTRACTOR.accumulator(stream)
    async for chunk in stream:
        accumulator.add(chunk)
    assert accumulator.result() == CHAT_INFO


def test_stream_cut_before_done() -> None:
    stream = _client(rec.ollama_lines()).chat(model="llama3.2", messages=[], stream=True)
    accumulator = EXTRACTOR.accumulator(stream)
    accumulator.add(next(stream))
    stream.close()
    info = accumulator.result()
    assert (info.response_model, info.output_text, info.output_tokens, info.finish_reasons) == (
        "llama3.2",
        "Hello",
        None,
        [],
    )


def test_error_line_in_a_200_stream_from_a_real_client() -> None:
    stream = _client(rec.ollama_lines(error=True)).chat(model="llama3.2", messages=[], stream=True)
    accumulator = EXTRACTOR.accumulator(stream)
    with pytest.raises(ollama.ResponseError) as caught:
        rec.drain(stream, accumulator)
    assert accumulator.result().output_text == "Hello"
    assert for_error(caught.value) is EXTRACTOR
    error = EXTRACTOR.error(caught.value)
    assert (error.error_type, error.status_code, error.error_code) == ("ResponseError", None, None)
    assert error.message == "an error was encountered while running the model: unexpected EOF"


def test_ndjson_objects_with_an_error_line() -> None:
    lines = rec.ollama_lines(error=True)
    assert for_response(lines) is EXTRACTOR
    info = EXTRACTOR.response(lines)
    assert info.output_text == "Hello"
    assert info.error is not None
    assert info.error.message == "an error was encountered while running the model: unexpected EOF"


def test_ndjson_objects_match_the_sdk_objects() -> None:
    lines = rec.ollama_lines()
    assert EXTRACTOR.response(lines) == EXTRACTOR.response([ollama.ChatResponse(**line) for line in lines]) == CHAT_INFO


def test_http_error_from_a_real_client() -> None:
    client = _client([{"error": "model 'llama9' not found"}], status=404)
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama9", messages=[])
    error = EXTRACTOR.error(caught.value)
    assert (error.error_type, error.status_code, error.message) == ("ResponseError", 404, "model 'llama9' not found")


def test_a_bare_error_body_is_ollamas() -> None:
    body = {"error": "model 'llama9' not found"}
    assert for_response(body) is EXTRACTOR
    error = EXTRACTOR.response(body).error
    assert error is not None
    assert (error.error_type, error.message) == ("error", "model 'llama9' not found")


def test_request() -> None:
    messages = [{"role": "user", "content": "hi"}]
    info = EXTRACTOR.request(
        {
            "model": "llama3.2",
            "messages": messages,
            "stream": True,
            "options": ollama.Options(num_predict=128, temperature=0.1, top_p=0.8),
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "format": {"type": "object", "properties": {}},
        }
    )
    assert (info.model, info.stream, info.max_tokens, info.temperature, info.top_p) == ("llama3.2", True, 128, 0.1, 0.8)
    assert (info.tool_count, info.response_format, info.messages) == (1, "json_schema", messages)
    assert EXTRACTOR.request({"format": "json", "options": {"num_predict": -1}}).response_format == "json"
    assert EXTRACTOR.request({"options": {"num_predict": -1}}).max_tokens is None


def test_client_bound_method_and_naming() -> None:
    client = _client(rec.ollama_lines())
    for obj in (client, client.chat):
        assert for_client(obj) is EXTRACTOR
        assert EXTRACTOR.base_url(obj) == "http://127.0.0.1:11434"
    assert provider_from_base_url(EXTRACTOR.base_url(client), EXTRACTOR.name) == ("ollama", "127.0.0.1", 11434)


def test_other_generators_are_not_ollama_streams() -> None:
    def inner() -> Any:
        yield rec.OLLAMA_CHAT

    assert not EXTRACTOR.owns_stream(inner())
    assert for_stream(iter([rec.OLLAMA_CHAT])) is None
