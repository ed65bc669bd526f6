"""The OpenAI extractor on real ``openai`` SDK objects and on plain JSON.

Streams and errors come from a real ``openai.OpenAI`` / ``AsyncOpenAI`` client on an
``httpx2.MockTransport`` serving the recorded fixtures of ``_recorded`` (documented formats).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response
from tests.providers import _recorded as rec

from multi_llm_otel.providers import for_client, for_error, for_response, for_stream, provider_from_base_url
from multi_llm_otel.providers._base import ResponseInfo
from multi_llm_otel.providers.openai import EXTRACTOR

Handler = Callable[[httpx2.Request], httpx2.Response]


def _stream_reply(body: bytes) -> Handler:
    return lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def _json_reply(body: object, status: int = 200) -> Handler:
    return lambda request: httpx2.Response(status, json=body)


@pytest.fixture
def client_for() -> Iterator[Callable[..., openai.OpenAI]]:
    clients: list[openai.OpenAI] = []

    def make(handler: Handler, base_url: str = "https://api.openai.com/v1") -> openai.OpenAI:
        client = openai.OpenAI(
            api_key="sk-test-not-a-real-key-000000",
            base_url=base_url,
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _accumulate(stream: object, items: Iterable[Any]) -> ResponseInfo:
    extractor = for_stream(stream)
    assert extractor is EXTRACTOR
    accumulator = extractor.accumulator(stream)
    for item in items:
        accumulator.add(item)
    return accumulator.result()


# --- Non-streamed responses -------------------------------------------------------------------


@pytest.mark.parametrize("as_sdk", [True, False], ids=["sdk", "json"])
def test_chat_completion(as_sdk: bool) -> None:
    obj: object = ChatCompletion.model_validate(rec.OPENAI_CHAT) if as_sdk else rec.OPENAI_CHAT
    assert for_response(obj) is EXTRACTOR
    info = EXTRACTOR.response(obj)
    assert info == ResponseInfo(
        response_model="gpt-4o-2024-08-06",
        response_id="chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        input_tokens=1117,
        output_tokens=46,
        cache_read_tokens=1024,
        cache_write_tokens=None,
        reasoning_tokens=12,
        caching_reported=True,
        finish_reasons=["stop"],
        output_text="The image shows a wooden boardwalk.",
    )


def test_one_finish_reason_per_choice() -> None:
    info = EXTRACTOR.response(ChatCompletion.model_validate(rec.openai_chat_two_choices()))
    assert info.finish_reasons == ["stop", "length"]
    assert info.output_text == "The image shows a wooden boardwalk."


def test_no_cache_field_means_caching_not_reported() -> None:
    body = {**rec.OPENAI_CHAT, "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}
    info = EXTRACTOR.response(ChatCompletion.model_validate(body))
    assert (info.input_tokens, info.cache_read_tokens, info.caching_reported) == (10, None, False)


def test_cache_write_tokens_of_the_2026_spec() -> None:
    body = {**rec.OPENAI_CHAT}
    body["usage"] = {**body["usage"], "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 1100}}
    info = EXTRACTOR.response(ChatCompletion.model_validate(body))
    assert (info.cache_read_tokens, info.cache_write_tokens, info.caching_reported) == (0, 1100, True)


@pytest.mark.parametrize("as_sdk", [True, False], ids=["sdk", "json"])
def test_llama_cpp_timings_give_a_server_hint(as_sdk: bool) -> None:
    obj: object = ChatCompletion.model_validate(rec.LLAMA_CPP_CHAT) if as_sdk else rec.LLAMA_CPP_CHAT
    info = EXTRACTOR.response(obj)
    assert info.server_hint == "llama.cpp"
    assert (info.input_tokens, info.cache_read_tokens, info.output_tokens) == (280, 268, 5)


def test_plain_openai_has_no_server_hint() -> None:
    assert EXTRACTOR.response(rec.OPENAI_CHAT).server_hint is None


def test_error_body_with_http_200_from_a_real_client(client_for: Callable[..., openai.OpenAI]) -> None:
    """LM Studio answers some failures (context overflow on 0.4.21) with HTTP 200 and an error body."""
    client = client_for(_json_reply({"error": "Context length exceeded"}), "http://localhost:1234/v1")
    completion = client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hi"}])
    extractor = for_response(completion)
    assert extractor is EXTRACTOR
    info = extractor.response(completion)
    assert info.error is not None
    assert info.error.message == "Context length exceeded"
    assert info.input_tokens is None
    assert info.finish_reasons == []


@pytest.mark.parametrize("as_sdk", [True, False], ids=["sdk", "json"])
def test_responses_api(as_sdk: bool) -> None:
    body = rec.openai_response()
    obj: object = Response.model_validate(body) if as_sdk else body
    assert for_response(obj) is EXTRACTOR
    info = EXTRACTOR.response(obj)
    assert info == ResponseInfo(
        response_model="gpt-4.1-2025-04-14",
        response_id=rec.RESPONSE_ID,
        input_tokens=36,
        output_tokens=87,
        cache_read_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,
        caching_reported=True,
        finish_reasons=["completed"],
        output_text="In a peaceful grove, a unicorn slept.",
    )


def test_responses_api_incomplete_reason() -> None:
    info = EXTRACTOR.response(Response.model_validate(rec.openai_response(status="incomplete")))
    assert info.finish_reasons == ["max_output_tokens"]


def test_responses_api_failed_with_error() -> None:
    body = rec.openai_response(status="failed")
    body["error"] = {"code": "server_error", "message": "The model failed to generate a response."}
    info = EXTRACTOR.response(Response.model_validate(body))
    assert info.error is not None
    assert (info.error.error_type, info.error.error_code) == ("server_error", "server_error")
    assert info.finish_reasons == ["failed"]


# --- Streams: raw chunks ----------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", [True, False], ids=["include_usage", "no_usage"])
def test_chat_stream_from_a_real_client(client_for: Callable[..., openai.OpenAI], include_usage: bool) -> None:
    chunks = rec.openai_chunks(include_usage=include_usage)
    client = client_for(_stream_reply(rec.sse(chunks, named=False, done=True)))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
    assert type(stream) is openai.Stream
    info = _accumulate(stream, stream)
    assert (info.response_model, info.response_id) == ("gpt-4o-mini", "chatcmpl-stream1")
    assert info.finish_reasons == ["stop"]
    assert info.output_text == "Hello world"
    if include_usage:
        assert (info.input_tokens, info.output_tokens, info.cache_read_tokens) == (19, 3, 0)
        assert info.caching_reported
    else:
        assert (info.input_tokens, info.output_tokens, info.caching_reported) == (None, None, False)


def test_chat_stream_cut_before_the_usage_chunk(client_for: Callable[..., openai.OpenAI]) -> None:
    client = client_for(_stream_reply(rec.sse(rec.openai_chunks(include_usage=True), named=False, done=True)))
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[], stream=True, stream_options={"include_usage": True}
    )
    accumulator = EXTRACTOR.accumulator(stream)
    for number, chunk in enumerate(stream):
        accumulator.add(chunk)
        if number == 1:
            break
    stream.close()
    info = accumulator.result()
    assert info.output_text == "Hello"
    assert info.finish_reasons == []
    assert (info.input_tokens, info.output_tokens) == (None, None)


async def test_async_chat_stream_from_a_real_client() -> None:
    body = rec.sse(rec.openai_chunks(include_usage=True, timings=True), named=False, done=True)

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    async with openai.AsyncOpenAI(
        api_key="sk-test",
        base_url="http://127.0.0.1:8080/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    ) as client:
        stream = await client.chat.completions.create(model="gemma", messages=[], stream=True)
        assert type(stream) is openai.AsyncStream
        assert for_stream(stream) is EXTRACTOR
        accumulator = EXTRACTOR.accumulator(stream)
        async for chunk in stream:
            accumulator.add(chunk)
    info = accumulator.result()
    assert (info.input_tokens, info.output_tokens, info.output_text) == (19, 3, "Hello world")
    assert info.server_hint == "llama.cpp"


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_chunks_as_json_match_the_sdk(include_usage: bool) -> None:
    chunks = rec.openai_chunks(include_usage=include_usage, timings=include_usage)
    from_json = EXTRACTOR.response(chunks)
    from_sdk = EXTRACTOR.response([ChatCompletionChunk.model_validate(chunk) for chunk in chunks])
    assert from_json == from_sdk
    assert for_response(chunks) is EXTRACTOR
    assert from_json.output_text == "Hello world"


def test_legacy_completions_stream(client_for: Callable[..., openai.OpenAI]) -> None:
    base = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct"}
    chunks = [
        {**base, "choices": [{"index": 0, "text": "Once", "logprobs": None, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "text": " upon", "logprobs": None, "finish_reason": "length"}]},
    ]
    client = client_for(_stream_reply(rec.sse(chunks, named=False, done=True)))
    stream = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Tell", stream=True)
    for info in (_accumulate(stream, stream), EXTRACTOR.response(chunks)):
        assert (info.output_text, info.finish_reasons, info.response_id) == ("Once upon", ["length"], "cmpl-1")


def test_mid_stream_error_chunk_as_json() -> None:
    chunks: list[Any] = [*rec.openai_chunks(include_usage=False)[:2], rec.LLAMA_CPP_ERROR_BODY]
    info = EXTRACTOR.response(chunks)
    assert info.output_text == "Hello"
    assert info.error is not None
    assert (info.error.error_type, info.error.error_code, info.error.status_code) == (
        "exceed_context_size_error",
        "exceed_context_size_error",
        400,
    )


def test_mid_stream_error_from_a_real_client(client_for: Callable[..., openai.OpenAI]) -> None:
    """The SDK raises on a ``data:`` object with top-level ``error``: the decorator sees an exception."""
    events: list[Any] = [*rec.openai_chunks(include_usage=False)[:2], {"error": rec.OPENAI_ERROR_BODY["error"]}]
    client = client_for(_stream_reply(rec.sse(events, named=False)))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
    accumulator = EXTRACTOR.accumulator(stream)
    with pytest.raises(openai.APIError) as caught:
        rec.drain(stream, accumulator)
    assert accumulator.result().output_text == "Hello"
    assert for_error(caught.value) is EXTRACTOR
    error = EXTRACTOR.error(caught.value)
    assert (error.error_type, error.error_code, error.status_code) == ("APIError", "context_length_exceeded", None)


# --- Streams: the SDK's helpers ---------------------------------------------------------------


def test_chat_stream_manager_iterated(client_for: Callable[..., openai.OpenAI]) -> None:
    client = client_for(_stream_reply(rec.sse(rec.openai_chunks(include_usage=True), named=False, done=True)))
    manager = client.chat.completions.stream(model="gpt-4o-mini", messages=[])
    assert for_stream(manager) is EXTRACTOR
    accumulator = EXTRACTOR.accumulator(manager)
    with manager as stream:
        assert for_stream(stream) is EXTRACTOR
        for event in stream:
            accumulator.add(event)
    info = accumulator.result()
    assert (info.input_tokens, info.output_tokens, info.output_text, info.finish_reasons) == (
        19,
        3,
        "Hello world",
        ["stop"],
    )


def test_chat_stream_manager_read_without_iterating(client_for: Callable[..., openai.OpenAI]) -> None:
    """``get_final_completion()`` reads the stream inside the SDK: only the helper's snapshot saw it."""
    client = client_for(_stream_reply(rec.sse(rec.openai_chunks(include_usage=True), named=False, done=True)))
    manager = client.chat.completions.stream(model="gpt-4o-mini", messages=[])
    accumulator = EXTRACTOR.accumulator(manager)
    assert accumulator.result() == ResponseInfo()
    with manager as stream:
        stream.get_final_completion()
    info = accumulator.result()
    assert (info.input_tokens, info.output_tokens, info.output_text) == (19, 3, "Hello world")


@pytest.mark.parametrize("helper", [False, True], ids=["create_stream", "responses_stream"])
def test_responses_stream_from_a_real_client(client_for: Callable[..., openai.OpenAI], helper: bool) -> None:
    client = client_for(_stream_reply(rec.sse(rec.openai_response_events(), named=True)))
    if helper:
        manager = client.responses.stream(model="gpt-4.1", input="Tell me a story")
        assert for_stream(manager) is EXTRACTOR
        accumulator = EXTRACTOR.accumulator(manager)
        with manager as stream:
            for event in stream:
                accumulator.add(event)
    else:
        raw = client.responses.create(model="gpt-4.1", input="Tell me a story", stream=True)
        accumulator = EXTRACTOR.accumulator(raw)
        for event in raw:
            accumulator.add(event)
    info = accumulator.result()
    assert (info.response_id, info.input_tokens, info.output_tokens) == (rec.RESPONSE_ID, 36, 87)
    assert info.output_text == "In a peaceful grove, a unicorn slept."
    assert info.finish_reasons == ["completed"]


def test_responses_stream_cut_keeps_the_text_seen() -> None:
    events = rec.openai_response_events()[:5]
    info = EXTRACTOR.response(events)
    assert info.response_id == rec.RESPONSE_ID
    assert info.output_text == "In a peaceful grove,"
    assert (info.input_tokens, info.output_tokens) == (None, None)


def test_responses_stream_error_event() -> None:
    events: list[Any] = [
        *rec.openai_response_events()[:2],
        {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None, "sequence_number": 2},
    ]
    info = EXTRACTOR.response(events)
    assert info.error is not None
    assert (info.error.error_type, info.error.error_code, info.error.message) == (
        "rate_limit_exceeded",
        "rate_limit_exceeded",
        "Slow down",
    )


# --- Errors -----------------------------------------------------------------------------------


def _request() -> httpx2.Request:
    return httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")


@pytest.mark.parametrize("unwrapped", [True, False], ids=["as_the_sdk_builds_it", "whole_body"])
def test_bad_request_error(unwrapped: bool) -> None:
    body = rec.OPENAI_ERROR_BODY
    response = httpx2.Response(400, request=_request(), json=body)
    exc = openai.BadRequestError("Error code: 400", response=response, body=body["error"] if unwrapped else body)
    assert for_error(exc) is EXTRACTOR
    error = EXTRACTOR.error(exc)
    assert (error.error_type, error.status_code, error.error_code) == (
        "BadRequestError",
        400,
        "context_length_exceeded",
    )
    assert error.message == body["error"]["message"]


def test_quota_error_keeps_its_code() -> None:
    body = rec.OPENAI_QUOTA_BODY
    exc = openai.RateLimitError(
        "quota", response=httpx2.Response(429, request=_request(), json=body), body=body["error"]
    )
    error = EXTRACTOR.error(exc)
    assert (error.error_type, error.status_code, error.error_code) == ("RateLimitError", 429, "insufficient_quota")


def test_llama_server_int_code_gives_its_type(client_for: Callable[..., openai.OpenAI]) -> None:
    client = client_for(_json_reply(rec.LLAMA_CPP_ERROR_BODY, 400), "http://127.0.0.1:8080/v1")
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemma", messages=[])
    error = EXTRACTOR.error(caught.value)
    assert (error.error_type, error.status_code, error.error_code) == (
        "BadRequestError",
        400,
        "exceed_context_size_error",
    )
    assert error.message == rec.LLAMA_CPP_ERROR_BODY["error"]["message"]


def test_lm_studio_string_error(client_for: Callable[..., openai.OpenAI]) -> None:
    client = client_for(_json_reply(rec.LM_STUDIO_ERROR_BODY, 404), "http://localhost:1234/v1")
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="qwen", messages=[])
    error = EXTRACTOR.error(caught.value)
    assert (error.error_type, error.status_code, error.error_code) == ("NotFoundError", 404, None)
    assert error.message == rec.LM_STUDIO_ERROR_BODY["error"]


def test_connection_error_has_no_status() -> None:
    error = EXTRACTOR.error(openai.APIConnectionError(request=_request()))
    assert (error.error_type, error.status_code, error.error_code, error.message) == (
        "APIConnectionError",
        None,
        None,
        "Connection error.",
    )
    assert EXTRACTOR.error(openai.APITimeoutError(request=_request())).error_type == "APITimeoutError"


def test_error_message_is_bounded_and_masks_keys() -> None:
    message = "Incorrect API key provided: sk-live0123456789abcdefghijkl. " + "x" * 2000
    body = {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}
    exc = openai.AuthenticationError(
        "401", response=httpx2.Response(401, request=_request(), json=body), body=body["error"]
    )
    error = EXTRACTOR.error(exc)
    assert error.message is not None
    assert len(error.message) == 500
    assert "sk-live0123456789" not in error.message
    assert "[REDACTED]" in error.message


def test_error_never_carries_headers_or_the_api_key(client_for: Callable[..., openai.OpenAI]) -> None:
    client = client_for(_json_reply(rec.OPENAI_QUOTA_BODY, 429))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[])
    dumped = json.dumps(EXTRACTOR.error(caught.value).__repr__())
    assert "sk-test-not-a-real-key" not in dumped
    assert "authorization" not in dumped.lower()


def test_foreign_errors_are_not_owned() -> None:
    assert not EXTRACTOR.owns_error(ValueError("x"))


# --- Requests, clients, naming ----------------------------------------------------------------


def test_request_of_chat_completions() -> None:
    messages = [{"role": "user", "content": "hi"}]
    info = EXTRACTOR.request(
        {
            "model": "gpt-4o",
            "messages": messages,
            "stream": True,
            "max_completion_tokens": 256,
            "temperature": 0.2,
            "top_p": 1,
            "tools": [{"type": "function", "function": {"name": "f"}}] * 3,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
            "api_key": "sk-never-read",
        }
    )
    assert (info.model, info.stream, info.max_tokens, info.temperature, info.top_p) == ("gpt-4o", True, 256, 0.2, 1.0)
    assert (info.tool_count, info.response_format, info.messages) == (3, "json_schema", messages)
    assert "sk-never-read" not in repr(info)


def test_request_of_the_responses_api() -> None:
    info = EXTRACTOR.request(
        {
            "model": "gpt-4.1",
            "input": "Tell me a story",
            "instructions": "Be brief",
            "max_output_tokens": 100,
            "text": {"format": {"type": "json_object"}},
        }
    )
    assert (info.max_tokens, info.response_format, info.messages, info.system_instructions) == (
        100,
        "json_object",
        "Tell me a story",
        "Be brief",
    )


def test_request_with_sdk_sentinels_and_parse_types() -> None:
    class Answer:
        pass

    info = EXTRACTOR.request(
        {"model": "gpt-4o", "temperature": openai.NOT_GIVEN, "max_tokens": openai.omit, "response_format": Answer}
    )
    assert (info.temperature, info.max_tokens, info.stream, info.response_format) == (None, None, False, "json_schema")


def test_client_resource_and_bound_method_and_naming(client_for: Callable[..., openai.OpenAI]) -> None:
    client = client_for(_json_reply({}), "http://localhost:11434/v1")
    for obj in (client, client.chat.completions, client.chat.completions.create):
        assert for_client(obj) is EXTRACTOR
        assert EXTRACTOR.base_url(obj) == "http://localhost:11434/v1/"
    assert provider_from_base_url(EXTRACTOR.base_url(client), EXTRACTOR.name) == ("ollama", "localhost", 11434)
    default = client_for(_json_reply({}))
    assert provider_from_base_url(EXTRACTOR.base_url(default), EXTRACTOR.name) == ("openai", "api.openai.com", 443)
