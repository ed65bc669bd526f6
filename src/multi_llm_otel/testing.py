"""Assert on your own telemetry: ``capture()`` records what this library emits, in memory.

    from multi_llm_otel.testing import capture

    with capture() as telemetry:
        answer(client, "hi")            # a function decorated with @llm_call
    assert telemetry.event_names() == ["llm_request", "llm_response"]

Inside the block the library emits through in-memory providers of its own; the application's
global providers are left alone, and the previous state comes back on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from multi_llm_otel._emitter import Emitter, install, restore
from multi_llm_otel._span_event_bridge import EventToSpanEventBridge

__all__ = ["Captured", "capture"]


class Captured:
    """What was emitted inside a ``capture()`` block."""

    def __init__(self, *, span_events: bool = True, log_records: bool = True, **emitter_options: Any) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.metric_reader = InMemoryMetricReader()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.logger_provider = LoggerProvider(shutdown_on_exit=False)
        # As configure() does: events on their spans too, unless switched off.
        if span_events:
            self.logger_provider.add_log_record_processor(EventToSpanEventBridge())
        if log_records:
            self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader], shutdown_on_exit=False)
        self.emitter = Emitter(self.tracer_provider, self.logger_provider, self.meter_provider, **emitter_options)

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.span_exporter.get_finished_spans())

    def span_events(self, name: str | None = None) -> list[Event]:
        """Span events of every finished span, optionally only those called ``name``."""
        return [e for s in self.spans() for e in s.events if name is None or e.name == name]

    def logs(self, event_name: str | None = None) -> list[LogRecord]:
        """Log records in emission order, optionally only those with ``event_name``."""
        records = [r.log_record for r in self.log_exporter.get_finished_logs()]
        return [r for r in records if event_name is None or r.event_name == event_name]

    def event_names(self) -> list[str | None]:
        """The event names of the log records, in order: the business events as emitted."""
        return [r.event_name for r in self.logs()]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric data points by metric name (cumulative since the block started)."""
        found: dict[str, list[Any]] = {}
        data = self.metric_reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def clear(self) -> None:
        self.span_exporter.clear()
        self.log_exporter.clear()


@contextmanager
def capture(**emitter_options: Any) -> Iterator[Captured]:
    """Capture the library's spans, events, log records and metrics for the ``with`` block.

    ``span_events=False`` leaves out the span event bridge, ``log_records=False`` the log
    records; other keyword arguments go to ``Emitter`` (``user_id_hash_key``...).
    """
    captured = Captured(**emitter_options)
    previous = install(captured.emitter)
    try:
        yield captured
    finally:
        restore(previous)
        captured.tracer_provider.shutdown()
        captured.logger_provider.shutdown()
        captured.meter_provider.shutdown()
