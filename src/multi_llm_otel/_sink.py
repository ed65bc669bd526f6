"""The embedded default sink: every span, log record and metric point as one JSON line.

Used when no OTLP endpoint is configured, so telemetry is readable with no server at all,
on the console or in a file (``configure(sink=...)`` or ``MULTI_LLM_OTEL_SINK``).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import IO, Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from multi_llm_otel import _diagnostics
from multi_llm_otel._after_fork import on_fork_in_child

_FORK_WAIT_S = 2.0


class JsonLinesWriter:
    """One shared, thread-safe line writer for the three exporters."""

    def __init__(self, target: str | IO[str] | None) -> None:
        self._own = isinstance(target, str)
        if isinstance(target, str):
            self._stream: IO[str] = open(target, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        else:
            self._stream = target or sys.stderr
        self._lock = threading.Lock()
        self._held_for_fork = False
        on_fork_in_child(self._after_fork_in_child, self._before_fork, self._after_fork_in_parent)

    # fork() copies locks as they are: had an export thread of the parent been writing, the
    # child's copies of this lock and of the stream's own buffer lock would stay held, and
    # the child would never write again (it then waits out its shutdown bound at exit and
    # loses what it emitted). So no write may be under way when the process forks; a stream
    # blocked for longer than the wait below (a full pipe) does not block the fork.
    def _before_fork(self) -> None:
        self._held_for_fork = self._lock.acquire(timeout=_FORK_WAIT_S)

    def _after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def _after_fork_in_child(self) -> None:
        self._held_for_fork = False
        self._lock = threading.Lock()

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False, default=repr, separators=(",", ":")) + "\n" for r in records)
        with self._lock:
            self._stream.write(text)
            self._stream.flush()

    def close(self) -> None:
        if not self._own:
            return
        try:
            self._stream.close()
        except OSError as exc:
            # Closing flushes; on a full disk that fails, and shutdown must not raise. The
            # records in the failed writes are already counted as failed exports.
            _diagnostics.report("sink_close_failed", f"{exc.strerror or exc}")


def _hex(value: int, width: int) -> str | None:
    return f"{value:0{width}x}" if value else None


def span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.context
    parent = span.parent
    return {
        "signal": "span",
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": _hex(ctx.trace_id, 32) if ctx else None,
        "span_id": _hex(ctx.span_id, 16) if ctx else None,
        "parent_span_id": _hex(parent.span_id, 16) if parent else None,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": dict(e.attributes or {})} for e in span.events
        ],
    }


def log_record(item: ReadableLogRecord) -> dict[str, Any]:
    rec = item.log_record
    return {
        "signal": "log",
        "event_name": rec.event_name,
        "time_unix_nano": rec.timestamp,
        "trace_id": _hex(rec.trace_id or 0, 32),
        "span_id": _hex(rec.span_id or 0, 16),
        "severity": rec.severity_text,
        "body": rec.body,
        "attributes": dict(rec.attributes or {}),
    }


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        self._writer = writer

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._writer.write([span_record(s) for s in spans])
        return SpanExportResult.SUCCESS


class JsonLinesLogExporter(LogRecordExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        self._writer = writer

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self._writer.write([log_record(r) for r in batch])
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Every line is flushed as it is written."""
        return True

    def shutdown(self) -> None:
        """Nothing to release: the writer is closed by whoever made it."""


class JsonLinesMetricExporter(MetricExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        super().__init__(preferred_temporality={}, preferred_aggregation={})
        self._writer = writer

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        records: list[dict[str, Any]] = []
        for resource_metrics in metrics_data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        record: dict[str, Any] = {
                            "signal": "metric",
                            "name": metric.name,
                            "unit": metric.unit,
                            "attributes": dict(point.attributes or {}),
                        }
                        if isinstance(point, HistogramDataPoint):
                            record.update(count=point.count, sum=point.sum, min=point.min, max=point.max)
                        elif isinstance(point, NumberDataPoint):
                            record["value"] = point.value
                        records.append(record)
        if records:
            self._writer.write(records)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to release: the writer is closed by whoever made it."""


__all__ = [
    "JsonLinesLogExporter",
    "JsonLinesMetricExporter",
    "JsonLinesSpanExporter",
    "JsonLinesWriter",
]
