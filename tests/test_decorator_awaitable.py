"""A decorated plain callable that returns a coroutine (an async SDK method, an object with
``async def __call__``, ``def f(): return aclient...create(...)``) ends the call when it is
awaited, not when the coroutine is handed back (#11 item 2)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any

import pytest
from opentelemetry import trace

from multi_llm_otel import llm_call, record_cache
from multi_llm_otel.testing import Captured


def completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


class Upstream(Exception):
    status_code = 503


async def request(*, model: str, fail: bool = False, delay: float = 0.0) -> dict[str, Any]:
    await asyncio.sleep(delay)
    if fail:
        raise Upstream("service unavailable")
    return completion()


async def test_a_returned_coroutine_ends_the_call_when_awaited(telemetry: Captured) -> None:
    @llm_call
    def ask(model: str) -> Coroutine[Any, Any, dict[str, Any]]:
        return request(model=model, delay=0.01)

    pending = ask(model="gpt-4o")
    assert telemetry.event_names() == ["llm_request"]
    assert telemetry.spans() == [], "the span is still open until the request ran"
    result = await pending
    assert result["id"] == "chatcmpl-1"
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    [span] = telemetry.spans()
    assert span.attributes is not None
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    [record] = telemetry.logs("llm_response")
    assert isinstance(record.body, dict)
    assert record.body["duration_ms"] >= 10


async def test_a_failed_awaited_request_records_llm_error(telemetry: Captured) -> None:
    ask = llm_call(request)  # a plain callable reference, like llm_call(aclient.chat.completions.create)

    with pytest.raises(Upstream):
        await llm_call(lambda **kw: request(**kw))(model="gpt-4o", fail=True)
    assert telemetry.event_names() == ["llm_request", "llm_error"]
    [span] = telemetry.spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    [record] = telemetry.logs("llm_error")
    assert dict(record.attributes or {})["status_code"] == 503
    assert await ask(model="m") == completion()


async def test_an_object_with_async_call(telemetry: Captured) -> None:
    class Client:
        async def __call__(self, *, model: str) -> dict[str, Any]:
            assert trace.get_current_span().is_recording(), "the span is current while the request runs"
            record_cache(False)
            return await request(model=model)

    ask = llm_call(Client())
    await ask(model="gpt-4o")
    assert telemetry.event_names() == ["llm_request", "cache_miss", "llm_response"]
    [span] = telemetry.spans()
    assert span.name == "chat gpt-4o"


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_coroutine_never_awaited_still_ends_its_span(telemetry: Captured) -> None:
    @llm_call
    def ask(model: str) -> Coroutine[Any, Any, dict[str, Any]]:
        return request(model=model)

    pending = ask(model="gpt-4o")
    assert telemetry.spans() == []
    del pending
    gc.collect()
    [span] = telemetry.spans()
    assert span.name == "chat gpt-4o"
    assert telemetry.event_names() == ["llm_request"]
