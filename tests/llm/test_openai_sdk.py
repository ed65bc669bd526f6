"""@llm_call on the official openai SDK against a real llama-server (OpenAI Chat Completions)."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
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

from multi_llm_otel import EventScope, llm_call
from multi_llm_otel.testing import Captured

pytestmark = pytest.mark.llm

API_KEY = "sk-test-NEVER-EXPORT-THIS-KEY-0123456789"


@pytest.fixture
def client(llama_server: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{llama_server}/v1", api_key=API_KEY, max_retries=2) as c:
        yield c


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@llm_call
def complete(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(**kwargs)


def test_non_streaming_call(client: openai.OpenAI, telemetry: Captured, llama_server: str) -> None:
    response = complete(client, model=MODEL, messages=messages("Say hi."), max_tokens=8, temperature=0.0)

    assert type(response) is ChatCompletion
    span = only_span(telemetry)
    attrs = dict(span.attributes or {})
    usage = response.usage
    assert usage is not None
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else None
    assert span.name == f"chat {MODEL}"
    assert attrs["gen_ai.operation.name"] == "chat"
    # An OpenAI SDK client pointed at llama.cpp is not "openai".
    assert attrs["gen_ai.provider.name"] == "llama.cpp"
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == int(llama_server.rsplit(":", 1)[1])
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.request.max_tokens"] == 8
    assert attrs["gen_ai.request.temperature"] == 0.0
    assert attrs["gen_ai.response.model"] == response.model
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert attrs["gen_ai.response.finish_reasons"] == (response.choices[0].finish_reason,)
    assert attrs["multi_llm.event.scope"] == "system"
    assert event_names(span) == ["llm_request", "llm_response", *expected_cache_event(cached)]

    request = event(span, "llm_request")
    # Before the answer, a server on an unknown port is not named; the answer names it.
    assert "provider" not in request
    assert event(span, "llm_response")["provider"] == "llama.cpp"
    assert request["model"] == MODEL
    assert request["stream"] is False
    assert request["max_tokens"] == 8
    assert "messages" not in request, "prompt text must not be exported without opt-in"
    reply = event(span, "llm_response")
    assert reply["response_id"] == response.id
    assert reply["input_tokens"] == usage.prompt_tokens
    assert reply["output_tokens"] == usage.completion_tokens
    assert reply["finish_reasons"] == (response.choices[0].finish_reason,)
    assert reply["duration_ms"] > 0
    assert "output_text" not in reply
    assert_logs_mirror_span_events(telemetry, span)

    assert token_sums(telemetry) == {"input": usage.prompt_tokens, "output": usage.completion_tokens}
    durations = telemetry.metrics()["gen_ai.client.operation.duration"]
    assert sum(p.count for p in durations) == 1
    assert dict(durations[0].attributes or {})["gen_ai.provider.name"] == "llama.cpp"


def test_content_capture_is_opt_in(client: openai.OpenAI, telemetry: Captured) -> None:
    @llm_call(capture_content=True)
    def ask(**kwargs: Any) -> Any:
        return client.chat.completions.create(**kwargs)

    response = ask(model=MODEL, messages=messages("Capture me."), max_tokens=4)
    span = only_span(telemetry)
    assert "Capture me." in event(span, "llm_request")["messages"]
    assert event(span, "llm_response")["output_text"] == response.choices[0].message.content


def test_a_streamed_answer_is_captured_only_on_opt_in(client: openai.OpenAI, telemetry: Captured) -> None:
    @llm_call(capture_content=True)
    def ask(**kwargs: Any) -> Any:
        return client.chat.completions.create(**kwargs)

    captured = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in ask(model=MODEL, messages=messages("Capture me."), max_tokens=6, stream=True)
        if chunk.choices
    )
    for chunk in complete(client, model=MODEL, messages=messages("Not me."), max_tokens=6, stream=True):
        assert isinstance(chunk, ChatCompletionChunk)
    with_text, without = (event(span, "llm_response") for span in telemetry.spans())
    assert captured
    assert with_text["output_text"] == captured
    assert "output_text" not in without
    assert without["finish_reasons"] == with_text["finish_reasons"]


def test_streaming_with_usage(client: openai.OpenAI, telemetry: Captured) -> None:
    stream = complete(
        client,
        model=MODEL,
        messages=messages("Count to five."),
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)

    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    usage_chunk = chunks[-1]
    assert usage_chunk.usage is not None
    assert usage_chunk.choices == []
    span = only_span(telemetry)
    attrs = dict(span.attributes or {})
    reply = event(span, "llm_response")
    assert reply["stream"] is True
    assert reply["completed"] is True
    assert reply["chunk_count"] == len(chunks)
    assert reply["time_to_first_chunk_ms"] > 0
    assert reply["input_tokens"] == usage_chunk.usage.prompt_tokens
    assert reply["output_tokens"] == usage_chunk.usage.completion_tokens
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert reply["finish_reasons"] == tuple(finish)
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert attrs["gen_ai.request.stream"] is True
    assert event(span, "llm_request")["stream"] is True
    assert_logs_mirror_span_events(telemetry, span)
    assert "gen_ai.client.operation.time_to_first_chunk" in telemetry.metrics()


def test_streaming_without_usage_reports_no_tokens(client: openai.OpenAI, telemetry: Captured) -> None:
    chunks = list(complete(client, model=MODEL, messages=messages("Hello"), max_tokens=6, stream=True))

    span = only_span(telemetry)
    reply = event(span, "llm_response")
    assert reply["chunk_count"] == len(chunks)
    assert "input_tokens" not in reply
    assert "output_tokens" not in reply
    # No usage chunk, so no cache information either: nothing to guess from.
    assert event_names(span) == ["llm_request", "llm_response"]


def test_early_break_ends_the_span_once(client: openai.OpenAI, telemetry: Captured) -> None:
    stream = complete(client, model=MODEL, messages=messages("Tell a long story."), max_tokens=40, stream=True)
    for index, _ in enumerate(stream):
        if index == 1:
            break
    assert telemetry.spans() == [], "the span must stay open while the stream is still usable"
    del stream
    gc.collect()

    span = only_span(telemetry)
    reply = event(span, "llm_response")
    assert reply["completed"] is False
    assert reply["chunk_count"] == 2
    assert dict(span.attributes or {})["multi_llm.stream.completed"] is False


def test_close_and_with_block_end_the_call(client: openai.OpenAI, telemetry: Captured) -> None:
    with complete(client, model=MODEL, messages=messages("Hi"), max_tokens=20, stream=True) as stream:
        next(iter(stream))
    stream.close()
    span = only_span(telemetry)
    assert event(span, "llm_response")["chunk_count"] == 1


def test_tool_call(client: openai.OpenAI, telemetry: Captured) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    response = complete(
        client,
        model=MODEL,
        messages=messages("Weather in Paris?"),
        tools=tools,
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=200,
    )
    span = only_span(telemetry)
    assert event(span, "llm_request")["tool_count"] == 1
    # The tiny model may run out of tokens inside the arguments; the event says what the server said.
    assert response.choices[0].finish_reason in ("tool_calls", "length")
    assert event(span, "llm_response")["finish_reasons"] == (response.choices[0].finish_reason,)


def test_json_schema_output(client: openai.OpenAI, telemetry: Captured) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    complete(
        client,
        model=MODEL,
        messages=messages("Answer in JSON."),
        max_tokens=30,
        response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
    )
    span = only_span(telemetry)
    assert event(span, "llm_request")["response_format"] == "json_schema"


def test_cache_miss_then_hit(client: openai.OpenAI, telemetry: Captured) -> None:
    # A long system prompt no earlier request used: the first call must read nothing from the
    # server's prompt cache, the repeat must read the shared prefix.
    system = f"Session {uuid.uuid4()}. " + " ".join(f"Rule {i}: be brief and polite." for i in range(60))
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": "Hi"}]
    first = complete(client, model=MODEL, messages=msgs, max_tokens=4, temperature=0.0)
    second = complete(client, model=MODEL, messages=msgs, max_tokens=4, temperature=0.0)

    def cached(response: ChatCompletion) -> int:
        assert response.usage is not None
        assert response.usage.prompt_tokens_details is not None
        return response.usage.prompt_tokens_details.cached_tokens or 0

    assert cached(second) > 200
    first_span, second_span = telemetry.spans()
    assert event_names(first_span)[2:] == expected_cache_event(cached(first))
    hit = event(second_span, "cache_hit")
    assert hit["cache"] == "provider"
    assert hit["cache_read_tokens"] == cached(second)
    assert second.usage is not None
    assert hit["input_tokens"] == second.usage.prompt_tokens
    assert dict(second_span.attributes or {})["gen_ai.usage.cache_read.input_tokens"] == cached(second)


def test_error_propagates_the_same_exception(client: openai.OpenAI, telemetry: Captured) -> None:
    raised: list[BaseException] = []

    @llm_call
    def ask(**kwargs: Any) -> Any:
        try:
            return client.chat.completions.create(**kwargs)
        except openai.APIError as exc:
            raised.append(exc)
            raise

    too_long = "word " * 6000
    with pytest.raises(openai.BadRequestError) as info:
        ask(model=MODEL, messages=messages(too_long), max_tokens=4)

    assert info.value is raised[0]
    span = only_span(telemetry)
    assert_error_span(span, "BadRequestError")
    error = event(span, "llm_error")
    assert error["status_code"] == 400
    assert error["error_code"] == "exceed_context_size_error"
    assert len(error["message"]) <= 500
    assert "llm_response" not in event_names(span)
    assert_logs_mirror_span_events(telemetry, span)
    assert telemetry.logs("llm_error")[0].severity_text == "ERROR"


def test_decorating_the_sdk_method_and_scope_callable(client: openai.OpenAI, telemetry: Captured) -> None:
    create = llm_call(client.chat.completions.create, scope=lambda **kw: EventScope.user(kw["user"]))
    create(model=MODEL, messages=messages("Hi"), max_tokens=4, user="user_42")
    span = only_span(telemetry)
    assert dict(span.attributes or {})["user.id"] == "user_42"
    assert event(span, "llm_request")["user.id"] == "user_42"
    assert event(span, "llm_request")["multi_llm.event.scope"] == "user"


async def test_async_client_stream_and_break(llama_server: str, telemetry: Captured) -> None:
    async with openai.AsyncOpenAI(base_url=f"{llama_server}/v1", api_key=API_KEY, max_retries=2) as aclient:

        @llm_call
        async def ask(**kwargs: Any) -> Any:
            return await aclient.chat.completions.create(**kwargs)

        response = await ask(model=MODEL, messages=messages("Hi"), max_tokens=4)
        assert type(response) is ChatCompletion
        stream = await ask(model=MODEL, messages=messages("Story"), max_tokens=30, stream=True)
        assert isinstance(stream, openai.AsyncStream)
        async for _ in stream:
            break
        await stream.close()

    first, second = telemetry.spans()
    assert event(first, "llm_response")["response_id"] == response.id
    assert event(second, "llm_response")["completed"] is False
    assert event(second, "llm_response")["chunk_count"] == 1


def test_responses_api(client: openai.OpenAI, telemetry: Captured) -> None:
    @llm_call
    def respond(**kwargs: Any) -> Any:
        return client.responses.create(**kwargs)

    response = respond(model=MODEL, input="Say hi.", max_output_tokens=8)
    stream = respond(model=MODEL, input="Say hi again.", max_output_tokens=8, stream=True)
    events = list(stream)

    first, second = telemetry.spans()
    assert response.usage is not None
    reply = event(first, "llm_response")
    assert reply["response_id"] == response.id
    assert reply["input_tokens"] == response.usage.input_tokens
    assert reply["output_tokens"] == response.usage.output_tokens
    assert event(first, "llm_request")["max_tokens"] == 8
    completed = [e for e in events if e.type == "response.completed"]
    assert len(completed) == 1
    final = completed[0].response
    assert final.usage is not None
    streamed = event(second, "llm_response")
    assert streamed["chunk_count"] == len(events)
    assert streamed["response_id"] == final.id
    assert streamed["output_tokens"] == final.usage.output_tokens
    assert streamed["completed"] is True
