"""Counting what the export pipeline loses, so that no loss is silent.

The SDK loses telemetry in three places without telling the application in a readable way:

- A batch processor whose queue is full evicts the **oldest** item, logs one warning and
  counts it only when ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` is set.
- An exporter that gives up (backend down or refusing, retries exhausted, request too large,
  encoding error) returns ``FAILURE``; the batch processor ignores the result, and
  ``force_flush()`` still returns ``True``.
- Items emitted after shutdown are dropped with an info log.

``configure()`` wraps its exporters and watches its batch processors with what is here, so
each of these becomes a count in ``multi_llm_otel.stats()`` (in items: ``export_failed_spans``,
``export_failed_logs``, ``export_failed_metric_points``, ``queue_dropped_spans``,
``queue_dropped_logs``, ``dropped_after_shutdown_spans``, ``dropped_after_shutdown_logs``),
one warning per kind, and a cumulative counter ``multi_llm.otel.diagnostics`` exported with
the application's own metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from multi_llm_otel import _diagnostics

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "DIAGNOSTICS_METRIC",
    "CountingLogExporter",
    "CountingMetricExporter",
    "CountingSpanExporter",
    "queued",
    "register_diagnostics_metric",
    "watch_queue",
]

DIAGNOSTICS_METRIC: Final = "multi_llm.otel.diagnostics"
DIAGNOSTICS_KIND: Final = "multi_llm.diagnostic.kind"

_WHY = "the backend was unreachable, refused the data or timed out, and the SDK's retries ran out"


def _export_failed(signal: str, amount: int, exc: BaseException | None = None) -> None:
    _diagnostics.report(
        f"export_failed_{signal}",
        f"an export of {amount} {signal.replace('_', ' ')} failed and was dropped ({_WHY})",
        exc,
        amount=amount,
    )


class CountingSpanExporter(SpanExporter):
    """Passes spans to ``inner``; a failed export counts its spans as ``export_failed_spans``."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - counted, then reported as a failure as the SDK would
            _export_failed("spans", len(spans), exc)
            return SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            _export_failed("spans", len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class CountingLogExporter(LogRecordExporter):
    """Passes log records to ``inner``; a failed export counts them as ``export_failed_logs``."""

    def __init__(self, inner: LogRecordExporter) -> None:
        self.inner = inner

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        try:
            result = self.inner.export(batch)
        except Exception as exc:  # noqa: BLE001
            _export_failed("logs", len(batch), exc)
            return LogRecordExportResult.FAILURE
        if result is not LogRecordExportResult.SUCCESS:
            _export_failed("logs", len(batch))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def _points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics
    )


class CountingMetricExporter(MetricExporter):
    """Passes metrics to ``inner``; a failed export counts its data points as
    ``export_failed_metric_points``."""

    def __init__(self, inner: MetricExporter) -> None:
        # The reader asks the exporter for these; they are the inner exporter's choices.
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self.inner = inner

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        try:
            result = self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception as exc:  # noqa: BLE001
            _export_failed("metric_points", _points(metrics_data), exc)
            return MetricExportResult.FAILURE
        if result is not MetricExportResult.SUCCESS:
            _export_failed("metric_points", _points(metrics_data))
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class _QueueWatch:
    """Stands in for the SDK's processor-metrics object (its ``ProcessorMetricsT`` protocol),
    which the batch processor calls exactly when it evicts or refuses an item."""

    def __init__(self, inner: Any, signal: str) -> None:
        self.inner = inner
        self.signal = signal

    def register_queue_size(self, get_queue_size: Any) -> None:
        self.inner.register_queue_size(get_queue_size)

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        try:
            if error_type == "already_shutdown":
                _diagnostics.report(
                    f"dropped_after_shutdown_{self.signal}",
                    f"{self.signal} emitted after shutdown were dropped",
                    amount=count,
                )
            else:
                _diagnostics.report(
                    f"queue_dropped_{self.signal}",
                    f"the export queue was full (exports slower than emission, or the backend is down); "
                    f"the oldest {self.signal} are dropped to keep memory bounded",
                    amount=count,
                )
        finally:
            self.inner.drop_items(count, error_type)

    def finish_items(self, count: int) -> None:
        self.inner.finish_items(count)


def _batch_processor(processor: object) -> Any:
    return getattr(processor, "_batch_processor", None)


def watch_queue(processor: object, signal: str) -> bool:
    """Count the evictions of an SDK batch processor (``BatchSpanProcessor`` or
    ``BatchLogRecordProcessor``). The hook uses the SDK's internal layout (checked on
    opentelemetry-sdk 1.45); if that changes, this is reported once and the SDK's own
    warning remains the only sign of an eviction."""
    inner = _batch_processor(processor)
    metrics = getattr(inner, "_metrics", None)
    if metrics is None or not hasattr(metrics, "drop_items"):
        _diagnostics.report(
            "queue_drop_counting_unavailable",
            f"this opentelemetry-sdk's {type(processor).__name__} cannot be watched; evicted {signal} are not counted",
        )
        return False
    if not isinstance(metrics, _QueueWatch):
        inner._metrics = _QueueWatch(metrics, signal)
    return True


def queued(processor: object) -> int | None:
    """How many items wait in a batch processor's queue (``None`` if it cannot be read)."""
    queue = getattr(_batch_processor(processor), "_queue", None)
    try:
        return len(queue) if queue is not None else None
    except TypeError:
        return None


def register_diagnostics_metric(meter: Meter) -> None:
    """A cumulative counter of ``stats()``, one series per kind, exported with the
    application's metrics: losses show up on the backend once it is reachable again."""

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        return [Observation(value, {DIAGNOSTICS_KIND: kind}) for kind, value in sorted(_diagnostics.stats().items())]

    meter.create_observable_counter(
        DIAGNOSTICS_METRIC,
        callbacks=[observe],
        unit="{item}",
        description="What multi-llm-otel had to drop, truncate or skip, by kind (see multi_llm_otel.stats())",
    )
