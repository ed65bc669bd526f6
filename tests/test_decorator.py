"""@llm_call without a server: function kinds, transparency, context hygiene and failure isolation.

Responses here are plain dicts of the providers' JSON (the raw-HTTP path users take); the SDK
paths run against the real llama-server in tests/llm.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace

import multi_llm_otel
from multi_llm_otel import EventScope, bind_scope, llm_call, record_cache
from multi_llm_otel.testing import Captured


def openai_json(cached: int | None = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": usage,
    }


def openai_chunks() -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "model": "gpt-4o-2024"}
    text = [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in "abc"]
    end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    usage = {**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}
    return [*text, end, usage]


def names(telemetry: Captured) -> list[str | None]:
    return telemetry.event_names()


def response_event(telemetry: Captured) -> dict[str, Any]:
    (record,) = telemetry.logs("llm_response")
    return dict(record.attributes or {})


def test_returns_the_very_object(telemetry: Captured) -> None:
    payload = openai_json(cached=0)

    @llm_call(model="gpt-4o")
    def call() -> dict[str, Any]:
        return payload

    assert call() is payload
    assert names(telemetry) == ["llm_request", "llm_response", "cache_miss"]
    span = telemetry.spans()[0]
    assert span.name == "chat gpt-4o"
    assert dict(span.attributes or {})["gen_ai.usage.input_tokens"] == 120


def test_cache_rule_hit_miss_and_nothing(telemetry: Captured) -> None:
    @llm_call
    def call(cached: int | None) -> dict[str, Any]:
        return openai_json(cached)

    call(50)
    call(0)
    call(None)
    assert names(telemetry) == [
        "llm_request",
        "llm_response",
        "cache_hit",
        "llm_request",
        "llm_response",
        "cache_miss",
        "llm_request",
        "llm_response",
    ]
    hit = dict(telemetry.logs("cache_hit")[0].attributes or {})
    assert hit["cache_read_tokens"] == 50
    assert hit["cache"] == "provider"


def test_nature_name_and_signature_are_kept() -> None:
    def plain(a: int, *, b: str = "x") -> int:
        """Doc."""
        return a

    async def coro(a: int) -> int:
        return a

    def gen(n: int) -> Iterator[int]:
        yield n

    async def agen(n: int) -> AsyncIterator[int]:
        yield n

    for func, check in (
        (plain, inspect.isfunction),
        (coro, inspect.iscoroutinefunction),
        (gen, inspect.isgeneratorfunction),
        (agen, inspect.isasyncgenfunction),
    ):
        wrapped = llm_call(func)
        assert check(wrapped), func.__name__
        assert wrapped.__name__ == func.__name__
        assert inspect.signature(wrapped) == inspect.signature(func)
        assert wrapped.__doc__ == func.__doc__
    assert llm_call(plain).__doc__ == "Doc."
    assert not inspect.iscoroutinefunction(llm_call(plain))


def test_same_exception_object_propagates(telemetry: Captured) -> None:
    boom = ConnectionError("refused")

    @llm_call(provider="openai", model="m")
    def call() -> None:
        raise boom

    with pytest.raises(ConnectionError) as info:
        call()
    assert info.value is boom
    assert names(telemetry) == ["llm_request", "llm_error"]
    error = dict(telemetry.logs("llm_error")[0].attributes or {})
    assert error["error_type"] == "ConnectionError"
    assert error["message"] == "refused"
    assert dict(telemetry.spans()[0].attributes or {})["error.type"] == "ConnectionError"


async def test_async_function(telemetry: Captured) -> None:
    @llm_call
    async def call() -> dict[str, Any]:
        await asyncio.sleep(0)
        return openai_json(None)

    result = await call()
    assert result["id"] == "chatcmpl-1"
    assert names(telemetry) == ["llm_request", "llm_response"]


def test_generator_function_of_chunks(telemetry: Captured) -> None:
    @llm_call(model="gpt-4o")
    def stream() -> Iterator[dict[str, Any]]:
        yield from openai_chunks()

    received = list(stream())
    assert received == openai_chunks()
    reply = response_event(telemetry)
    assert reply["chunk_count"] == 5
    assert reply["completed"] is True
    assert reply["output_tokens"] == 3
    assert reply["finish_reasons"] == ("stop",)


def test_generator_send_and_return_value_pass_through(telemetry: Captured) -> None:
    @llm_call
    def echo() -> Iterator[Any]:
        got = yield "first"
        got = yield f"got {got}"
        return f"done {got}"

    gen = echo()
    assert next(gen) == "first"
    assert gen.send("x") == "got x"
    with pytest.raises(StopIteration) as stop:
        gen.send("y")
    assert stop.value.value == "done y"
    assert response_event(telemetry)["chunk_count"] == 2


def test_span_is_not_current_across_yield(telemetry: Captured) -> None:
    """The trap peers fell into: code run between two chunks must not land under the call."""
    inside: list[Any] = []

    @llm_call(model="m")
    def stream() -> Iterator[int]:
        inside.append(trace.get_current_span())
        yield 1
        yield 2

    outer = trace.get_current_span()
    gen = stream()
    next(gen)
    assert trace.get_current_span() is outer
    gen.close()
    assert trace.get_current_span() is outer
    (span,) = telemetry.spans()
    assert inside[0].get_span_context().span_id == span.context.span_id
    assert response_event(telemetry)["completed"] is False


async def test_async_generator_break_detaches_cleanly(telemetry: Captured, caplog: pytest.LogCaptureFixture) -> None:
    @llm_call(model="m")
    async def stream() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    async def consume() -> None:
        gen = stream()
        async for item in gen:
            if item == 2:
                break
        await gen.aclose()

    await asyncio.gather(*(consume() for _ in range(5)))
    assert "Failed to detach context" not in caplog.text
    assert len(telemetry.spans()) == 5
    assert all(dict(r.attributes or {})["chunk_count"] == 3 for r in telemetry.logs("llm_response"))


def test_dropped_generator_ends_the_call(telemetry: Captured) -> None:
    @llm_call
    def stream() -> Iterator[int]:
        yield from range(10)

    gen = stream()
    next(gen)
    del gen
    gc.collect()
    assert response_event(telemetry)["completed"] is False


def test_broken_instrumentation_never_breaks_the_call(
    telemetry: Captured, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("exporter on fire")

    monkeypatch.setattr(telemetry.emitter.logger, "emit", explode)
    payload = openai_json()

    @llm_call
    def call() -> dict[str, Any]:
        return payload

    with caplog.at_level(logging.WARNING, logger="multi_llm_otel"):
        assert call() is payload
        assert call() is payload
    assert multi_llm_otel.stats()["emit_failed"] >= 2
    assert caplog.text.count("emit_failed") == 1, "reported once, not on every call"
    assert len(telemetry.spans()) == 2, "the span still ends"


def test_scope_callable_and_bound_scope(telemetry: Captured) -> None:
    @llm_call(scope=lambda user, prompt: EventScope.user(user))
    def per_user(user: str, prompt: str) -> dict[str, Any]:
        return openai_json(None)

    @llm_call
    def bound() -> dict[str, Any]:
        return openai_json(None)

    per_user("alice", "hi")
    with bind_scope(EventScope.user("bob")):
        bound()
    bound()
    users = [dict(r.attributes or {}).get("user.id") for r in telemetry.logs("llm_request")]
    assert users == ["alice", "bob", None]


def test_scope_callable_failure_falls_back(telemetry: Captured) -> None:
    @llm_call(scope=lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    def call() -> dict[str, Any]:
        return openai_json(None)

    assert call()["id"] == "chatcmpl-1"
    assert multi_llm_otel.stats()["scope_callable_failed"] == 1
    assert dict(telemetry.logs("llm_request")[0].attributes or {})["multi_llm.event.scope"] == "system"


def test_application_cache_hook(telemetry: Captured) -> None:
    cache: dict[str, dict[str, Any]] = {}

    @llm_call(model="m")
    def cached_call(prompt: str) -> dict[str, Any]:
        if prompt in cache:
            record_cache(hit=True, key=prompt)
            return cache[prompt]
        record_cache(hit=False, key=prompt)
        cache[prompt] = openai_json(cached=50)
        return cache[prompt]

    cached_call("q")
    cached_call("q")
    hits = [dict(r.attributes or {}) for r in telemetry.logs() if r.event_name in ("cache_hit", "cache_miss")]
    assert [(h["cache"], h["cache_key"]) for h in hits] == [("application", "q"), ("application", "q")]
    assert [r.event_name for r in telemetry.logs() if r.event_name in ("cache_hit", "cache_miss")] == [
        "cache_miss",
        "cache_hit",
    ]


def test_own_span_off_attaches_to_current_span(telemetry: Captured) -> None:
    @llm_call(own_span=False)
    def call() -> dict[str, Any]:
        return openai_json(None)

    tracer = telemetry.tracer_provider.get_tracer("other-instrumentation")
    with tracer.start_as_current_span("chat gpt-4o (theirs)"):
        call()
    (span,) = telemetry.spans()
    assert span.name == "chat gpt-4o (theirs)"
    assert [e.name for e in span.events] == ["llm_request", "llm_response"]
    assert "gen_ai.client.operation.duration" not in telemetry.metrics(), "their instrumentation counts"


def test_unknown_response_type_still_gets_events(telemetry: Captured) -> None:
    class Answer:
        text = "hello"

    answer = Answer()

    @llm_call(provider="in-house", model="m1")
    def call() -> Answer:
        return answer

    assert call() is answer
    assert names(telemetry) == ["llm_request", "llm_response"]
    reply = response_event(telemetry)
    assert reply["provider"] == "in-house"
    assert "input_tokens" not in reply


async def test_concurrent_async_calls_keep_their_own_spans(telemetry: Captured) -> None:
    @llm_call(model="m")
    async def call(i: int) -> dict[str, Any]:
        await asyncio.sleep(0)
        multi_llm_otel.emit(multi_llm_otel.BusinessEvent.new("error").with_metadata("i", i))
        await asyncio.sleep(0)
        return openai_json(None)

    await asyncio.gather(*(call(i) for i in range(200)))
    spans = telemetry.spans()
    assert len(spans) == 200
    for span in spans:
        custom = [e for e in span.events if e.name == "error"]
        assert len(custom) == 1
    assert sorted(dict(e.attributes or {})["i"] for s in spans for e in s.events if e.name == "error") == list(
        range(200)
    )


def test_unreadable_response_still_ends_with_a_response_event(telemetry: Captured) -> None:
    class Hostile(dict[str, Any]):
        """Looks like an OpenAI completion, but reading it fails."""

        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("property exploded")

    hostile = Hostile(choices=[], object="chat.completion")

    @llm_call(model="m")
    def call() -> Hostile:
        return hostile

    assert call() is hostile
    assert names(telemetry) == ["llm_request", "llm_response"]
    assert response_event(telemetry)["duration_ms"] >= 0
    assert multi_llm_otel.stats()["response_unreadable"] == 1


def test_credentials_in_any_error_message_are_masked(telemetry: Captured) -> None:
    secret = "sk-test-abcdefghijklmnopqrstuvwxyz0123"

    @llm_call(model="m")
    def call() -> None:
        raise RuntimeError(f"proxy refused: Authorization: Bearer {secret} (api key {secret})")

    with pytest.raises(RuntimeError):
        call()
    message = dict(telemetry.logs("llm_error")[0].attributes or {})["message"]
    assert secret not in message
    assert "Bearer [REDACTED]" in message
    assert message.startswith("proxy refused")
