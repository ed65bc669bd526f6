"""The Anthropic extractor on real ``anthropic`` SDK objects and on plain JSON.

Streams and errors come from a real ``anthropic.Anthropic`` / ``AsyncAnthropic`` client on an
``httpx2.MockTransport`` serving the recorded fixtures of ``_recorded`` (documented formats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.beta import BetaRawMessageStreamEvent
from pydantic import TypeAdapter
from tests.providers import _recorded as rec

from multi_llm_otel.providers import for_client, for_error, for_response, for_stream, provider_from_base_url
from multi_llm_otel.providers._base import ResponseInfo
from multi_llm_otel.providers.anthropic import EXTRACTOR

Handler = Callable[[httpx2.Request], httpx2.Response]


def _stream_reply(events: list[Any]) -> Handler:
    body = rec.sse(events, named=True)
    return lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def _json_reply(body: object, status: int = 200) -> Handler:
    return lambda request: httpx2.Response(status, json=body)


@pytest.fixture
def client_for() -> Iterator[Callable[..., anthropic.Anthropic]]:
    clients: list[anthropic.Anthropic] = []

    def make(handler: Handler, base_url: str = "https://api.anthropic.com") -> anthropic.Anthropic:
        client = anthropic.Anthropic(
            api_key="sk-ant-test-not-a-real-key",
            base_url=base_url,
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --- Messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("as_sdk", [True, False], ids=["sdk", "json"])
def test_message_with_a_cache_write(as_sdk: bool) -> None:
    body = rec.anthropic_message()
    obj: object = Message.model_validate(body) if as_sdk else body
    assert for_response(obj) is EXTRACTOR
    assert EXTRACTOR.response(obj) == ResponseInfo(
        response_model="claude-sonnet-4-5-20250929",
        response_id="msg_013Zva2CMHLNnXjNJJKqJ2EF",
        input_tokens=21 + 188086,
        output_tokens=393,
        cache_read_tokens=0,
        cache_write_tokens=188086,
        caching_reported=True,
        finish_reasons=["end_turn"],
        output_text="Hi! My name is Claude.",
    )


def test_message_with_a_cache_hit_and_thinking_tokens() -> None:
    usage = {
        "input_tokens": 21,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 188086,
        "output_tokens": 393,
        "output_tokens_details": {"thinking_tokens": 120},
    }
    info = EXTRACTOR.response(Message.model_validate(rec.anthropic_message(usage)))
    assert (info.input_tokens, info.cache_read_tokens, info.cache_write_tokens) == (188107, 188086, 0)
    assert info.reasoning_tokens == 120


def test_cache_write_from_the_ttl_split_alone() -> None:
    usage = {
        "input_tokens": 50,
        "output_tokens": 10,
        "cache_creation": {"ephemeral_5m_input_tokens": 456, "ephemeral_1h_input_tokens": 100},
    }
    info = EXTRACTOR.response(rec.anthropic_message(usage))
    assert (info.cache_write_tokens, info.input_tokens, info.caching_reported) == (556, 606, True)


@pytest.mark.parametrize("as_sdk", [True, False], ids=["sdk", "json"])
def test_message_without_cache_fields(as_sdk: bool) -> None:
    body = rec.anthropic_message({"input_tokens": 12, "output_tokens": 6}, stop_reason="max_tokens")
    obj: object = Message.model_validate(body) if as_sdk else body
    info = EXTRACTOR.response(obj)
    assert (info.input_tokens, info.cache_read_tokens, info.caching_reported) == (12, None, False)
    assert info.finish_reasons == ["max_tokens"]


def test_error_body_as_a_response() -> None:
    assert for_response(rec.ANTHROPIC_ERROR_BODY) is EXTRACTOR
    error = EXTRACTOR.response(rec.ANTHROPIC_ERROR_BODY).error
    assert error is not None
    assert (error.error_type, error.error_code, error.message) == ("overloaded_error", "overloaded_error", "Overloaded")


# --- Streams ----------------------------------------------------------------------------------

STREAM_INFO = ResponseInfo(
    response_model="claude-opus-4-6",
    response_id="msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
    input_tokens=25 + 2048,
    output_tokens=15,
    cache_read_tokens=2048,
    cache_write_tokens=0,
    caching_reported=True,
    finish_reasons=["tool_use"],
    output_text="Hello!",
)


def test_raw_stream_from_a_real_client(client_for: Callable[..., anthropic.Anthropic]) -> None:
    client = client_for(_stream_reply(rec.anthropic_events()))
    stream = client.messages.create(model="claude-opus-4-6", max_tokens=64, messages=[], stream=True)
    assert type(stream) is anthropic.Stream
    assert for_stream(stream) is EXTRACTOR
    accumulator = EXTRACTOR.accumulator(stream)
    for event in stream:
        accumulator.add(event)
    assert accumulator.result() == STREAM_INFO


def test_stream_events_as_json_match_the_sdk() -> None:
    events = rec.anthropic_events()
    assert for_response(events) is EXTRACTOR
    from_json = EXTRACTOR.response(events)
    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    # The SDK has no type for ``ping`` (its Stream drops it) nor for an event it does not know.
    known = [event for event in events if event["type"] not in ("content_block_flourish", "ping")]
    from_sdk = EXTRACTOR.response([adapter.validate_python(event) for event in known])
    assert from_json == from_sdk == STREAM_INFO


def test_beta_stream_events() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(BetaRawMessageStreamEvent)
    events = [
        adapter.validate_python(event) for event in rec.anthropic_events(unknown=False) if event["type"] != "ping"
    ]
    assert EXTRACTOR.response(events) == STREAM_INFO


def test_cumulative_output_tokens_are_not_summed() -> None:
    info = EXTRACTOR.response(rec.anthropic_events(tool=False))
    assert info.output_tokens == 15
    assert info.finish_reasons == ["end_turn"]


def test_stream_cut_reports_what_was_seen() -> None:
    info = EXTRACTOR.response(rec.anthropic_events()[:4])
    assert info.output_text == "Hello"
    assert info.input_tokens == 25 + 2048
    assert info.finish_reasons == []


def test_error_event_as_json() -> None:
    events: list[Any] = [*rec.anthropic_events()[:4], rec.ANTHROPIC_ERROR_BODY]
    info = EXTRACTOR.response(events)
    assert info.output_text == "Hello"
    assert info.error is not None
    assert (info.error.error_type, info.error.message) == ("overloaded_error", "Overloaded")


def test_error_event_from_a_real_client(client_for: Callable[..., anthropic.Anthropic]) -> None:
    """The SDK raises on ``event: error``, with the stream's HTTP status (200) on the exception."""
    client = client_for(_stream_reply([*rec.anthropic_events()[:4], rec.ANTHROPIC_ERROR_BODY]))
    stream = client.messages.create(model="claude-opus-4-6", max_tokens=64, messages=[], stream=True)
    accumulator = EXTRACTOR.accumulator(stream)
    with pytest.raises(anthropic.APIStatusError) as caught:
        rec.drain(stream, accumulator)
    assert accumulator.result().output_text == "Hello"
    assert for_error(caught.value) is EXTRACTOR
    error = EXTRACTOR.error(caught.value)
    assert (error.status_code, error.error_code, error.message) == (200, "overloaded_error", "Overloaded")


def test_message_stream_manager_iterated(client_for: Callable[..., anthropic.Anthropic]) -> None:
    client = client_for(_stream_reply(rec.anthropic_events()))
    manager = client.messages.stream(model="claude-opus-4-6", max_tokens=64, messages=[])
    assert for_stream(manager) is EXTRACTOR
    accumulator = EXTRACTOR.accumulator(manager)
    with manager as stream:
        assert for_stream(stream) is EXTRACTOR
        for event in stream:
            accumulator.add(event)
    assert accumulator.result() == STREAM_INFO


def test_message_stream_read_through_text_stream(client_for: Callable[..., anthropic.Anthropic]) -> None:
    """``text_stream`` and ``get_final_message()`` read inside the SDK: only its snapshot saw the events."""
    client = client_for(_stream_reply(rec.anthropic_events()))
    manager = client.messages.stream(model="claude-opus-4-6", max_tokens=64, messages=[])
    accumulator = EXTRACTOR.accumulator(manager)
    assert accumulator.result() == ResponseInfo()
    with manager as stream:
        assert "".join(stream.text_stream) == "Hello!"
    assert accumulator.result() == STREAM_INFO


async def test_async_stream_from_a_real_client() -> None:
    body = rec.sse(rec.anthropic_events(), named=True)

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    async with anthropic.AsyncAnthropic(
        api_key="sk-ant-test",
        base_url="http://127.0.0.1:9931",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    ) as client:
        stream = await client.messages.create(model="claude-opus-4-6", max_tokens=64, messages=[], stream=True)
        assert type(stream) is anthropic.AsyncStream
        accumulator = EXTRACTOR.accumulator(stream)
        async for event in stream:
            accumulator.add(event)
        assert accumulator.result() == STREAM_INFO

        async with client.messages.stream(model="claude-opus-4-6", max_tokens=64, messages=[]) as helper:
            assert for_stream(helper) is EXTRACTOR
            accumulator = EXTRACTOR.accumulator(helper)
            await helper.get_final_message()
        assert accumulator.result() == STREAM_INFO


# --- Errors -----------------------------------------------------------------------------------


def test_bad_request_from_a_real_client(client_for: Callable[..., anthropic.Anthropic]) -> None:
    client = client_for(_json_reply(rec.ANTHROPIC_BAD_REQUEST_BODY, 400))
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude-opus-4-6", max_tokens=64, messages=[])
    error = EXTRACTOR.error(caught.value)
    assert (error.error_type, error.status_code, error.error_code, error.message) == (
        "BadRequestError",
        400,
        "invalid_request_error",
        "max_tokens: Field required",
    )


def test_overloaded_is_529() -> None:
    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    response = httpx2.Response(529, request=request, json=rec.ANTHROPIC_ERROR_BODY)
    exc = anthropic.OverloadedError("Overloaded", response=response, body=rec.ANTHROPIC_ERROR_BODY)
    error = EXTRACTOR.error(exc)
    assert (error.error_type, error.status_code, error.error_code) == ("OverloadedError", 529, "overloaded_error")


def test_llama_server_error_on_the_anthropic_route(client_for: Callable[..., anthropic.Anthropic]) -> None:
    client = client_for(_json_reply(rec.LLAMA_CPP_ERROR_BODY, 400), "http://127.0.0.1:8080")
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="gemma", max_tokens=64, messages=[])
    error = EXTRACTOR.error(caught.value)
    assert (error.status_code, error.error_code) == (400, "exceed_context_size_error")


def test_connection_error() -> None:
    exc = anthropic.APIConnectionError(request=httpx2.Request("POST", "https://api.anthropic.com/v1/messages"))
    error = EXTRACTOR.error(exc)
    assert (error.error_type, error.status_code, error.error_code) == ("APIConnectionError", None, None)


# --- Requests, clients, naming ----------------------------------------------------------------


def test_request() -> None:
    info = EXTRACTOR.request(
        {
            "model": "claude-opus-4-6",
            "max_tokens": 1024,
            "system": "You are terse.",
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.5,
            "top_p": 0.9,
            "tools": [{"name": "get_weather", "input_schema": {}}],
            "output_config": {"format": {"type": "json_schema", "schema": {}}},
            "stream": False,
        }
    )
    assert (info.model, info.max_tokens, info.temperature, info.top_p, info.tool_count) == (
        "claude-opus-4-6",
        1024,
        0.5,
        0.9,
        1,
    )
    assert (info.response_format, info.system_instructions, info.stream) == ("json_schema", "You are terse.", False)


def test_request_with_an_output_format_type() -> None:
    class Answer:
        pass

    assert EXTRACTOR.request({"output_format": Answer}).response_format == "json_schema"


def test_client_and_naming(client_for: Callable[..., anthropic.Anthropic]) -> None:
    official = client_for(_json_reply({}))
    for obj in (official, official.messages, official.messages.create):
        assert for_client(obj) is EXTRACTOR
    assert provider_from_base_url(EXTRACTOR.base_url(official), EXTRACTOR.name) == (
        "anthropic",
        "api.anthropic.com",
        443,
    )
    lm_studio = client_for(_json_reply({}), "http://localhost:1234")
    assert provider_from_base_url(EXTRACTOR.base_url(lm_studio.messages), EXTRACTOR.name) == (
        "lmstudio",
        "localhost",
        1234,
    )
