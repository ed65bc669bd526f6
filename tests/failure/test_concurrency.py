"""Concurrency: every event lands on its own call's span and in its own request's scope.

The decorator captures the context when the call starts and gives the call's span to
everything it emits, so interleaved asyncio tasks and threads cannot attach telemetry to a
neighbour. ``bind_scope`` is a context variable: a scope bound for one request is invisible
to other tasks and threads and gone when the request ends, even on a reused pool thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, bind_scope, current_scope, llm_call
from multi_llm_otel.testing import Captured


def response(model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{model}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def probe(i: int) -> None:
    multi_llm_otel.emit(BusinessEvent.new("probe").with_metadata("i", i))


def check(telemetry: Captured, n: int, scoped: bool = True) -> None:
    """n calls ``m-<i>``, each with request, probe(i), response, all on the call's own span,
    in the scope ``user-<i>``; the log records carry the same span."""
    spans = telemetry.spans()
    assert len(spans) == n
    by_i: dict[int, Any] = {}
    for span in spans:
        i = int(span.name.rsplit("-", 1)[1])
        assert i not in by_i
        by_i[i] = span
        assert [e.name for e in span.events] == ["llm_request", "probe", "llm_response"]
        probe_event = span.events[1]
        assert dict(probe_event.attributes or {})["i"] == i, "a neighbour's event on this span"
        if scoped:
            for event in span.events:
                assert dict(event.attributes or {})["user.id"] == f"user-{i}"
            assert dict(span.attributes or {})["user.id"] == f"user-{i}"
    assert sorted(by_i) == list(range(n))
    logs = telemetry.logs()
    assert Counter(r.event_name for r in logs) == {"llm_request": n, "probe": n, "llm_response": n}
    for record in logs:
        attrs = dict(record.attributes or {})
        i = attrs["i"] if record.event_name == "probe" else int(str(attrs["model"]).rsplit("-", 1)[1])
        span = by_i[i]
        assert record.span_id == span.context.span_id
        assert record.trace_id == span.context.trace_id
        if scoped:
            assert attrs["user.id"] == f"user-{i}"


async def test_1000_concurrent_async_calls(telemetry: Captured, figures: Callable[..., None]) -> None:
    @llm_call(provider="openai")
    async def ask(i: int, *, model: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        probe(i)
        await asyncio.sleep(0.001 * (i % 7))
        return response(model)

    async def request(i: int) -> dict[str, Any]:
        with bind_scope(EventScope.user(f"user-{i}")):
            await asyncio.sleep(0)
            return await ask(i, model=f"m-{i}")

    started = time.perf_counter()
    results = await asyncio.gather(*(request(i) for i in range(1000)))
    figures(wall_s=time.perf_counter() - started)
    assert [r["model"] for r in results] == [f"m-{i}" for i in range(1000)]
    check(telemetry, 1000)
    assert current_scope() == EventScope.system(), "a task's scope leaked into the caller"
    assert multi_llm_otel.stats() == {}


def test_16_threads(telemetry: Captured, figures: Callable[..., None]) -> None:
    per_thread = 40
    barrier = threading.Barrier(16)

    @llm_call(provider="openai")
    def ask(i: int, *, model: str) -> dict[str, Any]:
        time.sleep(0)
        probe(i)
        time.sleep(0.0005 * (i % 3))
        return response(model)

    def worker(t: int) -> None:
        barrier.wait()
        for k in range(per_thread):
            i = t * per_thread + k
            with bind_scope(EventScope.user(f"user-{i}")):
                ask(i, model=f"m-{i}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures(wall_s=time.perf_counter() - started)
    check(telemetry, 16 * per_thread)


def test_scope_does_not_leak_on_a_reused_pool_thread(telemetry: Captured) -> None:
    """Even requests bind a user, odd ones bind nothing: the odd ones must be system-scoped
    although they run on the threads the even ones just used."""

    @llm_call(provider="openai")
    def ask(i: int, *, model: str) -> dict[str, Any]:
        probe(i)
        return response(model)

    def request(i: int) -> None:
        if i % 2 == 0:
            with bind_scope(EventScope.user(f"user-{i}")):
                ask(i, model=f"m-{i}")
        else:
            ask(i, model=f"m-{i}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(request, range(200)))
    for record in telemetry.logs():
        attrs = dict(record.attributes or {})
        i = attrs["i"] if record.event_name == "probe" else int(str(attrs["model"]).rsplit("-", 1)[1])
        if i % 2:
            assert attrs["multi_llm.event.scope"] == "system"
            assert "user.id" not in attrs
        else:
            assert attrs["user.id"] == f"user-{i}"


async def test_interleaved_streams_consumed_later_keep_their_spans(telemetry: Captured) -> None:
    """Async generators (streams) started in one place and consumed, interleaved, by other
    tasks: each chunk's events go to the stream's own call."""

    @llm_call(provider="openai")
    async def stream(i: int, *, model: str) -> AsyncIterator[dict[str, Any]]:
        for k in range(3):
            await asyncio.sleep(0)
            if k == 1:
                probe(i)
            yield {"id": f"c-{i}", "object": "chat.completion.chunk", "model": model, "choices": []}

    streams = []
    for i in range(100):
        with bind_scope(EventScope.user(f"user-{i}")):
            streams.append(stream(i, model=f"m-{i}"))

    async def consume(s: AsyncIterator[dict[str, Any]]) -> int:
        return len([chunk async for chunk in s])

    assert await asyncio.gather(*(consume(s) for s in reversed(streams))) == [3] * 100
    check(telemetry, 100, scoped=False)


def test_context_follows_a_thread_only_when_copied(telemetry: Captured) -> None:
    """A plain ``threading.Thread`` starts with an empty context (Python's rule): its events
    are not on the call's span and are system-scoped. ``contextvars.copy_context().run`` or
    ``asyncio.to_thread`` carries the call's span and scope over. Documented in the README."""

    @llm_call(provider="openai")
    def ask(*, model: str) -> dict[str, Any]:
        plain = threading.Thread(target=probe, args=(1,))
        plain.start()
        plain.join()
        ctx = contextvars.copy_context()
        copied = threading.Thread(target=ctx.run, args=(probe, 2))
        copied.start()
        copied.join()
        return response(model)

    with bind_scope(EventScope.user("user-x")):
        ask(model="m-0")
    (span,) = telemetry.spans()
    on_span = [dict(e.attributes or {})["i"] for e in span.events if e.name == "probe"]
    assert on_span == [2]
    probes = {dict(r.attributes or {})["i"]: r for r in telemetry.logs("probe")}
    assert probes[2].span_id == span.context.span_id
    assert dict(probes[2].attributes or {})["user.id"] == "user-x"
    assert probes[1].span_id != span.context.span_id
    assert dict(probes[1].attributes or {})["multi_llm.event.scope"] == "system"
    assert multi_llm_otel.stats()["span_event_without_span"] == 1


async def test_asyncio_to_thread_carries_the_call(telemetry: Captured) -> None:
    @llm_call(provider="openai")
    async def ask(*, model: str) -> dict[str, Any]:
        await asyncio.to_thread(probe, 0)
        return response(model)

    await ask(model="m-0")
    (span,) = telemetry.spans()
    assert [e.name for e in span.events] == ["llm_request", "probe", "llm_response"]
