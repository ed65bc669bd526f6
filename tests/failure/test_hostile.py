"""Hostile and broken input: nothing escapes ``emit`` or the decorator, the wrapped call's
result is the very object the function returned, and what the library emits can always be
encoded by the OTLP exporter (one value the encoder refuses would lose its whole batch).

Each degradation the properties accept is listed in the README ("Hostile input").
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import logging
import math
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from tests.collector._procs import wait_until
from tests.failure._harness import App, SinkCollector, phase_counts

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, bind_scope, llm_call
from multi_llm_otel.testing import Captured, capture

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # The library and the SDK warn about what they drop; hundreds of examples would flood.
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


# --- Hostile Python values -----------------------------------------------------------------


class Color(enum.IntEnum):
    RED = 1


class Shouty(str):
    def __str__(self) -> str:
        raise RuntimeError("str() of this str subclass raises")


class Hostile:
    """Everything about it raises (but ``repr``, which hypothesis needs to report examples)."""

    def __repr__(self) -> str:
        return "Hostile()"

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("iter")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"getattr {name}")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    __hash__ = object.__hash__


class BadMapping(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("items")


def nest(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"d": value}
    return value


def cyclic(kind: str) -> Any:
    if kind == "list":
        value: Any = [1]
        value.append(value)
        return value
    value = {"a": 1}
    value["self"] = {"back": value}
    return value


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
text = st.lists(st.characters(exclude_categories=()) | surrogates, max_size=16).map("".join)
huge_text = st.integers(0, 2_000_000).map(lambda n: "x" * n)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2) | st.integers(min_value=-(2**64), max_value=-(2**63) + 2),
    st.floats(),  # NaN and infinities included
    st.floats().map(lambda f: type("F", (float,), {})(f)),
    text,
    st.binary(max_size=8),
    st.sets(st.integers(), max_size=3),
    st.frozensets(st.integers(), max_size=3),
    st.complex_numbers(),
    st.decimals(),
    st.datetimes(),
    st.uuids(),
    st.just(Color.RED),
    text.map(Shouty),
    st.builds(object),
    st.builds(Hostile),
    st.builds(BadMapping),
)
keys = st.one_of(
    text, st.integers(), st.floats(), st.none(), st.booleans(), st.tuples(st.integers()), st.binary(max_size=4)
)
values = st.one_of(
    st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=25,
    ),
    huge_text,
    st.builds(nest, st.integers(0, 3000), leaves),
    st.sampled_from(["list", "dict"]).map(cyclic),
)


def encodable(captured: Captured) -> None:
    """What was captured goes through the OTLP exporters' own encoders without an error."""
    encode_spans(captured.spans()).SerializeToString()
    encode_logs(captured.log_exporter.get_finished_logs()).SerializeToString()


# --- The event model -------------------------------------------------------------------------


@PROPERTY
@given(event_type=text | huge_text, metadata=st.lists(st.tuples(keys, values), max_size=6), in_call=st.booleans())
def test_with_metadata_and_emit_never_raise(event_type: str, metadata: list[tuple[Any, Any]], in_call: bool) -> None:
    with capture() as captured:
        event = BusinessEvent.new(event_type)
        for key, value in metadata:
            assert event.with_metadata(key, value) is event
        # What with_metadata kept is plain JSON (strict: no NaN), whatever it was given.
        import json

        json.dumps(event.metadata, allow_nan=False)
        if in_call:

            @llm_call(provider="openai")
            def call() -> dict[str, Any]:
                multi_llm_otel.emit(event)
                return {}

            call()
        else:
            multi_llm_otel.emit(event)
        assert event.event_type in captured.event_names() or "\ufffd" in (captured.event_names()[-1] or "")
        encodable(captured)


@PROPERTY
@given(
    metadata=st.dictionaries(keys, values, max_size=5),
    scope=st.one_of(st.none(), st.builds(object), text),
    event_type=st.one_of(text, st.integers(), st.none()),
)
def test_fields_assigned_directly_never_break_emit_or_the_export(
    metadata: dict[Any, Any], scope: Any, event_type: Any
) -> None:
    """An event's fields are plain attributes: a program can put anything in them, past the
    rules ``with_metadata`` and the constructor apply."""
    with capture() as captured:
        event = BusinessEvent.new("direct")
        event.event_type = event_type
        event.metadata.update(metadata)
        multi_llm_otel.emit(event, scope if isinstance(scope, EventScope) else None)
        multi_llm_otel.emit(event, scope)  # a wrong scope type is reported, not raised
        encodable(captured)


@PROPERTY
@given(user_id=text | huge_text, hash_key=st.one_of(st.none(), st.binary(max_size=8)), emit_scope=st.booleans())
def test_scopes_never_break_emit(user_id: str, hash_key: bytes | None, emit_scope: bool) -> None:
    scope = EventScope.user(user_id)
    with capture(user_id_hash_key=hash_key) as captured:
        if emit_scope:
            multi_llm_otel.emit(BusinessEvent.new("s"), scope)
        else:
            with bind_scope(scope):
                multi_llm_otel.emit(BusinessEvent.new("s"))
        (record,) = captured.logs()
        attrs = dict(record.attributes or {})
        assert attrs["multi_llm.event.scope"] == "user"
        if hash_key is not None:
            assert str(attrs["user.id"]).startswith("hmac-sha256:")
        encodable(captured)


def test_wrong_scope_types_are_reported_not_raised() -> None:
    multi_llm_otel.reset_stats()
    with capture() as captured:
        multi_llm_otel.emit(BusinessEvent.new("x"), "user-1")  # type: ignore[arg-type]
        multi_llm_otel.emit("not an event")  # type: ignore[arg-type]

        @llm_call(scope=lambda: 1 / 0)
        def broken_scope_callable() -> dict[str, Any]:
            return {}

        @llm_call(scope=lambda: "not a scope")  # type: ignore[arg-type,return-value]
        def wrong_scope_callable() -> dict[str, Any]:
            return {}

        broken_scope_callable()
        wrong_scope_callable()
        # A decorated call whose scope callable fails falls back to the bound scope.
        assert captured.event_names() == ["llm_request", "llm_response"] * 2
    stats = multi_llm_otel.stats()
    assert stats["emit_failed"] == 2
    assert stats["scope_callable_failed"] == 2
    # bind_scope with a wrong type is a programming error at the binding site: it raises
    # TypeError there, before any request runs (documented).
    with pytest.raises(TypeError), bind_scope("user-1"):  # type: ignore[arg-type]
        pass


# --- Provider responses through a decorated function ----------------------------------------

counts = st.one_of(
    st.none(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**70),
    st.floats(),
    st.booleans(),
    text,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(text, st.integers(), max_size=2),
    st.builds(Hostile),
)


def maybe(draw: st.DrawFn, value: Any) -> Any:
    """The field's value, or the field missing (a marker the builders drop)."""
    return draw(st.sampled_from([value, _MISSING]))


_MISSING = object()


def pruned(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: pruned(v) if isinstance(v, dict) else v for k, v in obj.items() if v is not _MISSING}


@st.composite
def openai_response(draw: st.DrawFn) -> Any:
    usage = draw(
        st.one_of(
            st.none(),
            text,
            st.builds(Hostile),
            st.fixed_dictionaries(
                {},
                optional={
                    "prompt_tokens": counts,
                    "completion_tokens": counts,
                    "total_tokens": counts,
                    "prompt_tokens_details": st.one_of(
                        st.none(), counts, st.fixed_dictionaries({"cached_tokens": counts})
                    ),
                    "completion_tokens_details": st.one_of(
                        st.none(), st.fixed_dictionaries({"reasoning_tokens": counts})
                    ),
                },
            ),
        )
    )
    body = {
        "id": draw(st.one_of(text, st.none(), st.integers())),
        "object": "chat.completion",
        "model": draw(st.one_of(text, st.none(), st.integers(), st.builds(Hostile))),
        "choices": draw(
            st.one_of(
                st.none(),
                text,
                st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "finish_reason": st.one_of(st.none(), text, st.integers()),
                            "message": st.one_of(
                                st.none(), st.fixed_dictionaries({"content": st.one_of(text, st.none())})
                            ),
                        },
                    ),
                    max_size=2,
                ),
            )
        ),
        "usage": usage,
    }
    return pruned({k: maybe(draw, v) for k, v in body.items()})


@st.composite
def anthropic_response(draw: st.DrawFn) -> Any:
    usage = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {},
                optional={
                    "input_tokens": counts,
                    "output_tokens": counts,
                    "cache_read_input_tokens": counts,
                    "cache_creation_input_tokens": counts,
                },
            ),
        )
    )
    body = {
        "id": draw(st.one_of(text, st.none())),
        "type": "message",
        "role": "assistant",
        "model": draw(st.one_of(text, st.none(), st.integers())),
        "content": draw(st.one_of(st.none(), text, st.lists(st.fixed_dictionaries({"type": text}), max_size=2))),
        "stop_reason": draw(st.one_of(st.none(), text, st.integers())),
        "usage": usage,
    }
    return pruned({k: maybe(draw, v) for k, v in body.items()})


responses = st.one_of(
    openai_response(),
    anthropic_response(),
    st.fixed_dictionaries({"model": text, "message": st.none(), "done": st.booleans(), "eval_count": counts}),
    st.none(),
    st.lists(st.integers(), max_size=3),
    text,
    st.integers(),
    st.builds(Hostile),
    st.builds(BadMapping),
)


@PROPERTY
@given(
    response=responses, capture_content=st.booleans(), kind=st.sampled_from(["sync", "stream"]), model=text | huge_text
)
def test_a_decorated_call_returns_the_very_object_whatever_it_is(
    response: Any, capture_content: bool, kind: str, model: str
) -> None:
    multi_llm_otel.reset_stats()
    with capture() as captured:
        if kind == "sync":

            @llm_call(capture_content=capture_content)
            def call(**kwargs: Any) -> Any:
                return response

            result = call(model=model, messages=[{"role": "user", "content": "hi"}])
            assert result is response
        else:

            @llm_call(capture_content=capture_content)
            def stream(**kwargs: Any) -> Iterator[Any]:
                yield response
                yield response

            chunks = list(stream(model=model, messages=[{"role": "user", "content": "hi"}], stream=True))
            assert len(chunks) == 2
            assert all(chunk is response for chunk in chunks)
        # The call was instrumented: its span ended, with a request and a response event,
        # unless reading the response raised (documented degradation, counted).
        (span,) = captured.spans()
        names = [e.name for e in span.events]
        assert names[0] == "llm_request"
        assert "llm_response" in names or multi_llm_otel.stats().get("instrumentation_failed", 0) > 0
        encodable(captured)
        attrs = dict(span.attributes or {})
        for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
            if key in attrs:
                value = attrs[key]
                assert isinstance(value, int)
                assert not isinstance(value, bool)
                assert value >= 0


exceptions = st.one_of(
    st.builds(ValueError, text | huge_text),
    st.builds(RuntimeError, text),
    st.just(KeyboardInterrupt()),
    st.builds(lambda: Exception(Hostile())),
    st.builds(lambda m: OSError(2, m), text),
)


@PROPERTY
@given(exc=exceptions)
def test_exceptions_pass_through_unchanged(exc: BaseException) -> None:
    with capture() as captured:

        @llm_call(provider="openai")
        def call() -> Any:
            raise exc

        with pytest.raises(type(exc)) as raised:
            call()
        assert raised.value is exc
        assert captured.event_names()[-1] == "llm_error"
        encodable(captured)


# --- End to end: one hostile event cannot lose its neighbours' batch -----------------------


@pytest.mark.collector
def test_a_hostile_event_does_not_lose_its_batch(otelcol: Path, tmp_path: Path, figures: Callable[..., None]) -> None:
    """An integer outside int64 (valid JSON, kept by the metadata rule) once failed the OTLP
    encoding of its whole log batch; now every event of the batch arrives."""
    service = "failure-hostile-batch"
    with SinkCollector(otelcol, tmp_path / "sink") as collector:
        with App({"service_name": service, "endpoint": collector.http_url}, log=tmp_path / "app.log") as app:
            app("emit", phase="p", n=100)
            app("hostile")
            app("emit", phase="p", n=100, start=102)
            app("flush")
            stats = app("stats")
        counts = wait_until(
            lambda: (c := phase_counts(collector.requests(), service))["events"]["p"] >= 202 and c,
            15,
            "the batch with the hostile event",
            collector.server,
        )
    assert counts["event_records"]["p"] == 202
    assert not any(k.startswith("export_failed") for k in stats), stats
    figures(stats=stats)


def test_nan_and_infinity_become_null() -> None:
    event = BusinessEvent.new("x").with_metadata("a", math.nan).with_metadata("b", [math.inf])
    assert event.metadata == {"a": None, "b": [None]}


def test_unrepresentable_values_are_skipped_and_counted() -> None:
    multi_llm_otel.reset_stats()
    event = BusinessEvent.new("x")
    for value in (
        b"bytes",
        {1, 2},
        decimal.Decimal(1),
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        uuid.uuid4(),
        cyclic("list"),
    ):
        event.with_metadata("k", value)
    event.with_metadata(1, "non-string key")  # type: ignore[arg-type]
    assert event.metadata == {}
    assert multi_llm_otel.stats() == {"metadata_value_rejected": 6, "metadata_key_rejected": 1}
