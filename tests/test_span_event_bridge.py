"""Conformance of ``EventToSpanEventBridge`` with the Logs SDK specification's "Event to span
event bridge": one test per condition under which it must, or must not, add a span event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import multi_llm_otel
from multi_llm_otel import EventToSpanEventBridge


class Pipeline:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.tracer_provider.get_tracer("test")
        self.logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(EventToSpanEventBridge())
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.logger = self.logger_provider.get_logger("test")

    def events(self) -> list[tuple[str, dict[str, Any], int | None]]:
        return [
            (e.name, dict(e.attributes or {}), e.timestamp) for s in self.spans.get_finished_spans() for e in s.events
        ]


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    p = Pipeline()
    yield p
    p.tracer_provider.shutdown()
    p.logger_provider.shutdown()


def test_an_event_record_in_a_recording_span_becomes_exactly_one_span_event(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span("s"):
        pipeline.logger.emit(event_name="llm_request", timestamp=1_000, attributes={"a": 1, "b": ("x", "y")})
    assert pipeline.events() == [("llm_request", {"a": 1, "b": ("x", "y")}, 1_000)]
    assert len(pipeline.logs.get_finished_logs()) == 1, "the record still reaches its own pipeline"


@pytest.mark.parametrize("name", [None, ""])
def test_a_record_without_an_event_name_is_not_bridged(pipeline: Pipeline, name: str | None) -> None:
    with pipeline.tracer.start_as_current_span("s"):
        pipeline.logger.emit(event_name=name, body="a plain log line")
    assert pipeline.events() == []


def test_a_record_without_valid_trace_and_span_ids_is_not_bridged(pipeline: Pipeline) -> None:
    pipeline.logger.emit(event_name="x")
    [record] = pipeline.logs.get_finished_logs()
    assert record.log_record.span_id == 0
    assert pipeline.events() == []


def test_the_record_s_own_context_wins_over_the_current_one(pipeline: Pipeline) -> None:
    target = pipeline.tracer.start_span("target")
    with pipeline.tracer.start_as_current_span("current"):
        pipeline.logger.emit(event_name="x", context=trace.set_span_in_context(target))
    target.end()
    spans = {s.name: [e.name for e in s.events] for s in pipeline.spans.get_finished_spans()}
    assert spans == {"current": [], "target": ["x"]}


def test_without_a_context_of_its_own_the_current_context_is_used(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span("current") as span:
        record = LogRecord(event_name="x", context=trace.set_span_in_context(span))
        record.context = None  # type: ignore[assignment]
        EventToSpanEventBridge().on_emit(ReadWriteLogRecord(record))
    assert [name for name, _, _ in pipeline.events()] == ["x"]


def test_a_span_that_is_not_recording_gets_no_event(pipeline: Pipeline) -> None:
    ended = pipeline.tracer.start_span("ended")
    ended.end()
    pipeline.logger.emit(event_name="x", context=trace.set_span_in_context(ended))
    unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_span("unsampled")
    pipeline.logger.emit(event_name="y", context=trace.set_span_in_context(unsampled))
    assert pipeline.events() == []
    assert len(pipeline.logs.get_finished_logs()) == 2


def test_ids_that_differ_from_the_span_in_the_context_are_not_bridged(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span("s") as span:
        ctx = span.get_span_context()
        other = SpanContext(ctx.trace_id, ctx.span_id ^ 1, is_remote=False, trace_flags=TraceFlags(1))
        record = LogRecord(event_name="x", context=trace.set_span_in_context(span))
        record.span_id = other.span_id
        EventToSpanEventBridge().on_emit(ReadWriteLogRecord(record))
        # A remote parent in the context is no recording span either.
        remote = trace.set_span_in_context(NonRecordingSpan(other))
        pipeline.logger.emit(event_name="y", context=remote)
    assert pipeline.events() == []


def test_without_a_timestamp_the_observed_timestamp_is_used(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span("s"):
        pipeline.logger.emit(event_name="x", observed_timestamp=42)
    assert pipeline.events() == [("x", {}, 42)]


def test_the_attributes_are_copied(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span("s") as span:
        record = LogRecord(event_name="x", attributes={"a": 1}, context=trace.set_span_in_context(span))
        writable = ReadWriteLogRecord(record)
        EventToSpanEventBridge().on_emit(writable)
        writable.log_record.attributes["a"] = 2  # type: ignore[index]
    assert pipeline.events()[0][1] == {"a": 1}


def test_a_failure_never_reaches_the_record_s_pipeline(pipeline: Pipeline) -> None:
    class Broken(NonRecordingSpan):
        def is_recording(self) -> bool:
            return True

        def add_event(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("span store full")

    ids = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1))
    token = otel_context.attach(trace.set_span_in_context(Broken(ids)))
    try:
        pipeline.logger.emit(event_name="x")
    finally:
        otel_context.detach(token)
    assert [r.log_record.event_name for r in pipeline.logs.get_finished_logs()] == ["x"]
    assert multi_llm_otel.stats() == {"span_event_bridge_failed": 1}
    assert EventToSpanEventBridge().force_flush() is True
