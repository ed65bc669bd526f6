"""@llm_call on the official anthropic SDK against a real llama-server (Anthropic Messages)."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.lib.streaming import MessageStream
from anthropic.types import Message
from tests.llm._assertions import (
    MODEL,
    assert_error_span,
    assert_logs_mirror_span_events,
    event,
    event_names,
    expected_cache_event,
    only_span,
    token_sums,
)

from multi_llm_otel import llm_call
from multi_llm_otel.testing import Captured

pytestmark = pytest.mark.llm

API_KEY = "sk-ant-test-NEVER-EXPORT-THIS-KEY-0123456789"


@pytest.fixture
def client(llama_server: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=llama_server, api_key=API_KEY, max_retries=2) as c:
        yield c


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@llm_call
def create(client: anthropic.Anthropic, **kwargs: Any) -> Any:
    return client.messages.create(**kwargs)


def total_input(usage: Any) -> int:
    """GenAI conventions count cached tokens as input; Anthropic reports them apart."""
    return int(usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0))


def test_non_streaming_message(client: anthropic.Anthropic, telemetry: Captured) -> None:
    message = create(client, model=MODEL, messages=messages("Say hi."), max_tokens=8)

    assert type(message) is Message
    span = only_span(telemetry)
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}"
    assert attrs["gen_ai.provider.name"] != "anthropic", "a local server is not Anthropic"
    assert attrs["gen_ai.response.id"] == message.id
    assert attrs["gen_ai.usage.input_tokens"] == total_input(message.usage)
    assert attrs["gen_ai.usage.output_tokens"] == message.usage.output_tokens
    assert attrs["gen_ai.response.finish_reasons"] == (message.stop_reason,)
    cached = message.usage.cache_read_input_tokens
    assert event_names(span) == ["llm_request", "llm_response", *expected_cache_event(cached)]
    assert_logs_mirror_span_events(telemetry, span)
    assert token_sums(telemetry) == {"input": total_input(message.usage), "output": message.usage.output_tokens}


def test_raw_event_stream_takes_cumulative_output_tokens(client: anthropic.Anthropic, telemetry: Captured) -> None:
    stream = create(client, model=MODEL, messages=messages("Count to ten."), max_tokens=20, stream=True)
    assert isinstance(stream, anthropic.Stream)
    events = list(stream)

    start = next(e for e in events if e.type == "message_start")
    deltas = [e for e in events if e.type == "message_delta"]
    span = only_span(telemetry)
    reply = event(span, "llm_response")
    assert reply["chunk_count"] == len(events)
    assert reply["completed"] is True
    # message_delta carries the running total, not an increment.
    assert reply["output_tokens"] == deltas[-1].usage.output_tokens
    assert reply["response_id"] == start.message.id
    assert reply["finish_reasons"] == (deltas[-1].delta.stop_reason,)


def test_stream_helper_with_final_message(client: anthropic.Anthropic, telemetry: Captured) -> None:
    @llm_call
    def stream_reply(**kwargs: Any) -> Any:
        return client.messages.stream(**kwargs)

    with stream_reply(model=MODEL, messages=messages("Say something."), max_tokens=16) as stream:
        assert isinstance(stream, MessageStream)
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert final.content[0].type == "text"
    assert final.content[0].text == text
    span = only_span(telemetry)
    reply = event(span, "llm_response")
    assert reply["output_tokens"] == final.usage.output_tokens
    assert reply["input_tokens"] == total_input(final.usage)
    assert reply["finish_reasons"] == (final.stop_reason,)
    assert reply["completed"] is True


def test_early_break_then_drop(client: anthropic.Anthropic, telemetry: Captured) -> None:
    stream = create(client, model=MODEL, messages=messages("A long story please."), max_tokens=40, stream=True)
    for index, _ in enumerate(stream):
        if index == 2:
            break
    del stream
    gc.collect()
    span = only_span(telemetry)
    reply = event(span, "llm_response")
    assert reply["completed"] is False
    assert reply["chunk_count"] == 3


def test_cache_read_on_repeated_prefix(client: anthropic.Anthropic, telemetry: Captured) -> None:
    system = f"Session {uuid.uuid4()}. " + " ".join(f"Rule {i}: answer briefly." for i in range(60))
    create(client, model=MODEL, system=system, messages=messages("Hi"), max_tokens=4)
    second = create(client, model=MODEL, system=system, messages=messages("Hi"), max_tokens=4)

    read = second.usage.cache_read_input_tokens
    assert read is not None
    assert read > 200
    hit = event(telemetry.spans()[1], "cache_hit")
    assert hit["cache_read_tokens"] == read
    assert hit["input_tokens"] == total_input(second.usage)


def test_error_is_reported_and_reraised(client: anthropic.Anthropic, telemetry: Captured) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        create(client, model=MODEL, messages=messages("word " * 6000), max_tokens=4)

    span = only_span(telemetry)
    assert_error_span(span, "BadRequestError")
    error = event(span, "llm_error")
    assert error["status_code"] == 400 == info.value.status_code
    body = info.value.body
    assert isinstance(body, dict)
    assert error["error_code"] == body["error"]["type"]


async def test_async_stream(llama_server: str, telemetry: Captured) -> None:
    async with anthropic.AsyncAnthropic(base_url=llama_server, api_key=API_KEY, max_retries=2) as aclient:

        @llm_call
        async def ask(**kwargs: Any) -> Any:
            return await aclient.messages.create(**kwargs)

        stream = await ask(model=MODEL, messages=messages("Hi"), max_tokens=10, stream=True)
        events = [e async for e in stream]

    span = only_span(telemetry)
    reply = event(span, "llm_response")
    assert reply["chunk_count"] == len(events)
    assert reply["output_tokens"] == [e for e in events if e.type == "message_delta"][-1].usage.output_tokens
