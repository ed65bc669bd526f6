"""``emit`` never raises into its caller, and the scope bound with ``bind_scope`` follows the request."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, bind_scope, current_scope
from multi_llm_otel.testing import Captured, capture


def scopes_of(captured: Captured) -> list[tuple[Any, Any]]:
    """(scope kind, user id) of every log record, in order."""
    return [
        ((r.attributes or {}).get("multi_llm.event.scope"), (r.attributes or {}).get("user.id"))
        for r in captured.logs()
    ]


def health_warnings(caplog: pytest.LogCaptureFixture, kind: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "multi_llm_otel" and f": {kind}" in r.getMessage()]


# --- emit never raises ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [None, "llm_request", 42, {"event_type": "x"}, BusinessEvent, object()],
    ids=lambda v: type(v).__name__,
)
def test_emit_with_garbage_for_an_event_does_not_raise(
    captured: Captured, caplog: pytest.LogCaptureFixture, event: Any
) -> None:
    multi_llm_otel.emit(event)
    multi_llm_otel.emit(event, EventScope.system())
    assert captured.logs() == []
    assert multi_llm_otel.stats() == {"emit_failed": 2}
    assert len(health_warnings(caplog, "emit_failed")) == 1


@pytest.mark.parametrize("scope", ["user_123", 5, {"User": "u"}, object()], ids=lambda v: type(v).__name__)
def test_emit_with_garbage_for_a_scope_does_not_raise(
    captured: Captured, caplog: pytest.LogCaptureFixture, scope: Any
) -> None:
    multi_llm_otel.emit(BusinessEvent.new("x"), scope)
    assert multi_llm_otel.stats() == {"emit_failed": 1}
    assert len(health_warnings(caplog, "emit_failed")) == 1
    # The emitter still works afterwards.
    multi_llm_otel.emit(BusinessEvent.new("y"))
    assert captured.event_names() == ["y"]


def test_emit_of_an_event_corrupted_after_creation_does_not_raise(captured: Captured) -> None:
    event = BusinessEvent.new("x")
    event.metadata["bad"] = {1, 2}  # type: ignore[assignment]
    event.created_at = "not a datetime"  # type: ignore[assignment]
    multi_llm_otel.emit(event)
    assert multi_llm_otel.stats() == {"emit_failed": 1}


def test_emit_when_the_exporter_fails_does_not_raise(captured: Captured, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def emit(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("exporter is down")

    captured.emitter.logger = Broken()  # type: ignore[assignment]
    with captured.tracer_provider.get_tracer("t").start_as_current_span("s"):
        multi_llm_otel.emit(BusinessEvent.new("x"))
    assert multi_llm_otel.stats() == {"emit_failed": 1}
    assert "exporter is down" in health_warnings(caplog, "emit_failed")[0]


def test_emit_goes_through_the_active_emitter(captured: Captured) -> None:
    from multi_llm_otel._emitter import active

    assert active() is captured.emitter
    multi_llm_otel.emit(BusinessEvent.new("a"))
    captured.emitter.emit(BusinessEvent.new("b"))
    assert captured.event_names() == ["a", "b"]


def test_emit_without_any_setup_does_not_raise() -> None:
    # No configure(), no capture(): the API's no-op providers; nothing to see, nothing raised.
    multi_llm_otel.emit(BusinessEvent.new("x").with_metadata("k", 1), EventScope.user("u"))
    assert multi_llm_otel.stats().get("emit_failed", 0) == 0


# --- Property: emit never raises ------------------------------------------------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
any_text = st.lists(st.characters() | surrogates, max_size=12).map("".join)
python_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | any_text
    | st.binary(max_size=4)
    | st.sets(st.integers(), max_size=3)
    | st.builds(object),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(any_text, st.integers(), st.floats(), st.none()), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def events(draw: st.DrawFn) -> BusinessEvent:
    event = BusinessEvent(
        draw(st.uuids(version=4)),
        draw(any_text),
        {},
        draw(st.datetimes(timezones=st.just(timezone.utc))),
    )
    for key, value in draw(st.lists(st.tuples(st.one_of(any_text, st.integers()), python_values), max_size=8)):
        event.with_metadata(key, value)  # type: ignore[arg-type]
    return event


garbage = st.one_of(st.none(), st.integers(), any_text, st.binary(), st.builds(object), python_values)
scopes = st.one_of(
    st.none(),
    st.just(EventScope.system()),
    st.builds(EventScope.user, any_text),
    st.builds(EventScope, st.one_of(st.none(), any_text)),
    garbage,
)


def _otlp_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _otlp_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_otlp_ints(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=st.one_of(events(), garbage), scope=scopes, in_span=st.booleans(), limits=st.booleans())
def test_property_emit_never_raises(event: Any, scope: Any, in_span: bool, limits: bool) -> None:
    options: dict[str, Any] = {"max_attributes": 8, "max_value_length": 4} if limits else {}
    with capture(**options) as captured:
        if in_span:
            with captured.tracer_provider.get_tracer("t").start_as_current_span("s"):
                multi_llm_otel.emit(event, scope)
        else:
            multi_llm_otel.emit(event, scope)
        records = captured.logs()
        valid = isinstance(event, BusinessEvent) and (scope is None or isinstance(scope, EventScope))
        if valid:
            [record] = records
            assert record.event_name == event.event_type
            # The body is the metadata, with integers outside int64 as decimal strings (OTLP).
            assert record.body == _otlp_ints(event.metadata)
            assert (record.attributes or {})["multi_llm.event.id"] == str(event.id)
            # The bridge takes named events only, as the specification says.
            assert len(captured.span_events()) == (1 if in_span and event.event_type else 0)
        else:
            assert records == []


# --- bind_scope -----------------------------------------------------------------------------


def test_the_bound_scope_is_used_when_emit_gets_none(captured: Captured) -> None:
    assert current_scope() == EventScope.system()
    with bind_scope(EventScope.user("u1")) as bound:
        assert bound == EventScope.user("u1")
        assert current_scope() == EventScope.user("u1")
        multi_llm_otel.emit(BusinessEvent.new("x"))
        multi_llm_otel.emit(BusinessEvent.new("x"), EventScope.user("explicit"))
        multi_llm_otel.emit(BusinessEvent.new("x"), EventScope.system())
    multi_llm_otel.emit(BusinessEvent.new("x"))
    assert scopes_of(captured) == [("user", "u1"), ("user", "explicit"), ("system", None), ("system", None)]


def test_bindings_nest_and_are_restored(captured: Captured) -> None:
    with bind_scope(EventScope.user("outer")):
        with bind_scope(EventScope.user("inner")):
            multi_llm_otel.emit(BusinessEvent.new("x"))
        multi_llm_otel.emit(BusinessEvent.new("x"))
        with bind_scope(EventScope.system()):
            multi_llm_otel.emit(BusinessEvent.new("x"))
        multi_llm_otel.emit(BusinessEvent.new("x"))
    assert current_scope() == EventScope.system()
    assert scopes_of(captured) == [("user", "inner"), ("user", "outer"), ("system", None), ("user", "outer")]


def test_the_binding_is_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), bind_scope(EventScope.user("u")):
        raise RuntimeError("boom")
    assert current_scope() == EventScope.system()


def test_bind_scope_takes_only_a_scope() -> None:
    with pytest.raises(TypeError), bind_scope("user_123"):  # type: ignore[arg-type]
        pass
    assert current_scope() == EventScope.system()


async def test_bindings_do_not_leak_across_asyncio_tasks(captured: Captured) -> None:
    both_bound = asyncio.Event()
    ready = 0

    async def request(user: str) -> list[EventScope]:
        nonlocal ready
        seen = []
        with bind_scope(EventScope.user(user)):
            ready += 1
            if ready == 2:
                both_bound.set()
            await both_bound.wait()  # both tasks are inside their blocks now
            for _ in range(3):
                seen.append(current_scope())
                multi_llm_otel.emit(BusinessEvent.new(user))
                await asyncio.sleep(0)
        return seen

    async def unbound() -> EventScope:
        await both_bound.wait()
        return current_scope()

    a, b, c = await asyncio.gather(request("alice"), request("bob"), unbound())
    assert a == [EventScope.user("alice")] * 3
    assert b == [EventScope.user("bob")] * 3
    assert c == EventScope.system()
    assert current_scope() == EventScope.system()
    for record in captured.logs():
        assert (record.attributes or {})["user.id"] == record.event_name
    assert len(captured.logs()) == 6


async def test_a_task_started_inside_a_binding_inherits_it() -> None:
    async def child() -> EventScope:
        return current_scope()

    with bind_scope(EventScope.user("parent")):
        task = asyncio.create_task(child())
    assert await task == EventScope.user("parent")


def test_bindings_do_not_leak_across_threads(captured: Captured) -> None:
    barrier = threading.Barrier(2)
    seen: dict[str, EventScope] = {}

    def worker(name: str, scope: EventScope | None) -> None:
        if scope is None:
            barrier.wait()
            seen[name] = current_scope()
            barrier.wait()
            return
        with bind_scope(scope):
            barrier.wait()  # the other thread looks while this binding is in force
            seen[name] = current_scope()
            multi_llm_otel.emit(BusinessEvent.new(name))
            barrier.wait()

    with bind_scope(EventScope.user("main")):
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(worker, "bound", EventScope.user("t1")), pool.submit(worker, "free", None)]
            for future in futures:
                future.result()
        assert current_scope() == EventScope.user("main")
    assert seen == {"bound": EventScope.user("t1"), "free": EventScope.system()}
    assert scopes_of(captured) == [("user", "t1")]


def test_emit_events_created_with_an_explicit_id_and_time(captured: Captured) -> None:
    event = BusinessEvent(uuid.uuid4(), "x", {"k": 1}, datetime(2000, 1, 1, tzinfo=timezone.utc))
    multi_llm_otel.emit(event)
    [record] = captured.logs()
    assert record.timestamp == 946_684_800 * 10**9
