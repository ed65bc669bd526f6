"""The bridge reuses a log record's cleaned attributes for its span event instead of having
``Span.add_event`` clean them again: the span event must be exactly what ``add_event`` makes,
under any limits, and never share anything mutable with the record."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests._redacting import RedactSecret

from multi_llm_otel import EventToSpanEventBridge, _span_event_bridge

scalars = st.one_of(st.text(max_size=12), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False))
values = st.one_of(
    scalars,
    st.lists(st.text(max_size=12), max_size=3),
    st.lists(st.integers(-5, 5), max_size=3),
    st.binary(max_size=4),
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(), max_size=2),
    st.lists(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(), max_size=1), min_size=1, max_size=2),
)
attribute_sets = st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=12)
limits = st.one_of(st.none(), st.integers(0, 14))


def _bridged(
    attributes: dict[str, Any],
    span_limits: SpanLimits,
    log_limits: LogRecordLimits,
    *,
    reuse: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[dict[str, Any], int, Any]:
    """(attributes, dropped count, the mapping itself) of the span event the bridge adds for
    one record with ``attributes``, emitted through an SDK logger provider with ``log_limits``."""
    monkeypatch.setattr(_span_event_bridge, "_REUSE_CLEANED", reuse)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(span_limits=span_limits)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(log_record_limits=log_limits)
    logger_provider.add_log_record_processor(EventToSpanEventBridge())
    logger = logger_provider.get_logger("t")
    with tracer_provider.get_tracer("t").start_as_current_span("s"):
        logger.emit(event_name="e", attributes=attributes, timestamp=7)
    [span] = spans.get_finished_spans()
    [event] = span.events
    assert event.name == "e"
    assert event.timestamp == 7
    return dict(event.attributes or {}), event.dropped_attributes, event.attributes


@pytest.mark.filterwarnings("ignore::opentelemetry.sdk._logs._internal.LogRecordDroppedAttributesWarning")
@settings(max_examples=300, deadline=None)
@given(
    attributes=attribute_sets,
    event_count=limits,
    span_length=limits,
    log_count=limits,
    log_length=limits,
)
def test_the_span_event_is_what_add_event_makes_under_any_limits(
    attributes: dict[str, Any],
    event_count: int | None,
    span_length: int | None,
    log_count: int | None,
    log_length: int | None,
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        span_limits = SpanLimits(max_event_attributes=event_count, max_attribute_length=span_length)
        log_limits = LogRecordLimits(max_attributes=log_count, max_attribute_length=log_length)
        fast = _bridged(attributes, span_limits, log_limits, reuse=True, monkeypatch=monkeypatch)
        slow = _bridged(attributes, span_limits, log_limits, reuse=False, monkeypatch=monkeypatch)
    assert fast[:2] == slow[:2]
    assert type(fast[2]) is type(slow[2]) is BoundedAttributes
    assert (fast[2].maxlen, fast[2].max_value_len) == (slow[2].maxlen, slow[2].max_value_len)
    with pytest.raises(TypeError):
        fast[2]["added"] = 1  # immutable, as add_event makes it


def test_the_reuse_is_taken_for_plain_values_under_the_default_limits() -> None:
    # Without it the property above would compare the slow path with itself.
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("s") as span:
        record = BoundedAttributes(None, {"a": "x", "b": ("y",), "c": 1}, immutable=False)
        assert _span_event_bridge._cleaned_copy(span, record) is not None  # type: ignore[arg-type]
        nested = BoundedAttributes(None, {"a": {"k": 1}}, immutable=False)
        assert _span_event_bridge._cleaned_copy(span, nested) is None  # type: ignore[arg-type]


def test_a_processor_changing_the_record_afterwards_leaves_the_span_event_alone() -> None:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))

    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(EventToSpanEventBridge())
    logger_provider.add_log_record_processor(RedactSecret(logs))
    with tracer_provider.get_tracer("t").start_as_current_span("s"):
        logger_provider.get_logger("t").emit(event_name="e", attributes={"secret": "s3cret", "n": 1})
    [span] = spans.get_finished_spans()
    assert dict(span.events[0].attributes or {}) == {"secret": "s3cret", "n": 1}
    [record] = logs.get_finished_logs()
    assert dict(record.log_record.attributes or {}) == {"secret": "redacted", "n": 1}


def test_an_sdk_built_differently_turns_the_reuse_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _span_event_bridge._reuse_works()

    class Reshaped(BoundedAttributes):
        """As a future SDK might: items kept elsewhere than ``_dict``."""

        def __iter__(self) -> Any:
            return iter(())

    monkeypatch.setattr(_span_event_bridge, "BoundedAttributes", Reshaped)
    assert not _span_event_bridge._reuse_works()

    class Grown(BoundedAttributes):
        """As a future SDK might: state the copy would not set."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.frozen_at = 0

    monkeypatch.setattr(_span_event_bridge, "BoundedAttributes", Grown)
    assert not _span_event_bridge._reuse_works()


def test_a_subclassed_span_goes_through_its_own_add_event(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    from opentelemetry.sdk.trace import _Span

    class Audited(_Span):
        def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
            seen.append(name)
            super().add_event(name, attributes, timestamp)

    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s")
    span.__class__ = Audited
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(EventToSpanEventBridge())
    logger_provider.get_logger("t").emit(event_name="e", attributes={"a": 1}, context=trace.set_span_in_context(span))
    assert seen == ["e"]


def test_a_span_keeping_its_limits_elsewhere_is_left_to_add_event() -> None:
    # As a future SDK's might: the copy is declined rather than failing the bridge.
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s")
    del span._limits  # type: ignore[attr-defined]
    record = BoundedAttributes(None, {"a": 1}, immutable=False)
    assert _span_event_bridge._cleaned_copy(span, record) is None  # type: ignore[arg-type]
