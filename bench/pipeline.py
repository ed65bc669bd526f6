"""The one SDK pipeline every configuration exports through, so that export cost is equal.

Batch span and log processors with the SDK's default queue sizes and delays, exporters that
drop what they are given after counting it, and a periodic metric reader whose exporter drops
too (its interval is an hour: collection happens on ``force_flush`` only, as the per-call
``record()`` cost is what a benchmark of calls can see). ``keep`` makes the exporters also keep
the items, for the telemetry check that runs before timing.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class SpanSink(SpanExporter):
    def __init__(self) -> None:
        self.count = 0
        self.keep: list[Any] | None = None

    def export(self, spans: Any) -> SpanExportResult:
        self.count += len(spans)
        if self.keep is not None:
            self.keep.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class LogSink(LogRecordExporter):
    def __init__(self) -> None:
        self.count = 0
        self.keep: list[Any] | None = None

    def export(self, batch: Any) -> LogRecordExportResult:
        self.count += len(batch)
        if self.keep is not None:
            self.keep.extend(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class MetricSink(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.keep: list[Any] | None = None

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        if self.keep is not None:
            self.keep.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


class Pipeline:
    """Providers for one worker. ``install_global`` makes them the API's global providers,
    which is where the peers' instrumentations look for them."""

    def __init__(self, *, span_processor: bool = True) -> None:
        resource = Resource.create({"service.name": "multi-llm-otel-bench"})
        self.spans = SpanSink()
        self.logs = LogSink()
        self.metrics = MetricSink()
        self.tracer_provider = TracerProvider(resource=resource)
        if span_processor:
            self.tracer_provider.add_span_processor(BatchSpanProcessor(self.spans))
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(BatchLogRecordProcessor(self.logs))
        self.reader = PeriodicExportingMetricReader(self.metrics, export_interval_millis=3_600_000)
        self.meter_provider = MeterProvider(metric_readers=[self.reader], resource=resource)

    def install_global(self) -> None:
        trace.set_tracer_provider(self.tracer_provider)
        _logs.set_logger_provider(self.logger_provider)
        metrics.set_meter_provider(self.meter_provider)

    def keep(self, on: bool) -> None:
        for sink in (self.spans, self.logs, self.metrics):
            sink.keep = [] if on else None

    def flush(self) -> None:
        self.tracer_provider.force_flush()
        self.logger_provider.force_flush()
        self.meter_provider.force_flush()
