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

The counts are exact: every span or log record handed to a batch processor is exported or
counted once, in one kind. Evictions are counted by the queue that makes them (the SDK's own
"queue full" check races with its export thread), and what a timed-out shutdown gives up on,
queued or already being sent, is ``shutdown_abandoned_*`` (see ``abandon``).
"""

from __future__ import annotations

import collections
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from multi_llm_otel import _diagnostics
from multi_llm_otel._after_fork import on_fork_in_child, renew_http_connections

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "DIAGNOSTICS_METRIC",
    "CountingLogExporter",
    "CountingMetricExporter",
    "CountingSpanExporter",
    "abandon",
    "abandon_exports",
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


class _Flights:
    """The batches an exporter is sending right now. A shutdown that gives up waiting counts
    them as abandoned (``abandon``); when such an export ends after all, a failure is not
    counted again and a success takes its items back out of the abandoned count."""

    def __init__(self, signal: str) -> None:
        self.signal = signal
        self._lock = threading.Lock()
        self._sending: dict[int, list[Any]] = {}
        self._tokens = itertools.count()
        self._given_up = False

    def _after_fork_in_child(self) -> None:
        # The parent's exports are the parent's to count.
        self._lock = threading.Lock()
        self._sending = {}

    def start(self, amount: int) -> int:
        token = next(self._tokens)
        with self._lock:
            self._sending[token] = [amount, self._given_up]
            if self._given_up:
                _count_abandoned(self.signal, amount)
        return token

    def finish(self, token: int, ok: bool, exc: BaseException | None = None) -> None:
        with self._lock:
            amount, abandoned = self._sending.pop(token)
        if abandoned:
            if ok:
                _diagnostics.count(f"shutdown_abandoned_{self.signal}", -amount)
        elif not ok:
            _export_failed(self.signal, amount, exc)

    def abandon(self) -> int:
        """Count what is being sent now and whatever starts from now on as abandoned."""
        with self._lock:
            self._given_up = True
            amount = 0
            for entry in self._sending.values():
                if not entry[1]:
                    entry[1] = True
                    amount += entry[0]
            if amount:
                _count_abandoned(self.signal, amount)
        return amount


def _count_abandoned(signal: str, amount: int) -> None:
    _diagnostics.count(f"shutdown_abandoned_{signal}", amount)


class _Counting:
    """What the three counting exporters share: the batches in flight, and fresh connections
    in a forked child."""

    inner: Any

    def _watch(self, inner: Any, signal: str) -> None:
        self.inner = inner
        self.flights = _Flights(signal)
        on_fork_in_child(self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        self.flights._after_fork_in_child()
        try:
            renew_http_connections(self.inner)
        except Exception as exc:  # noqa: BLE001 - a fork must not fail because of telemetry
            _diagnostics.report("fork_reset_failed", f"{self.flights.signal}: {exc}", exc)

    def _send(self, amount: int, export: Callable[[], Any], success: Any, failure: Any) -> Any:
        token = self.flights.start(amount)
        try:
            result = export()
        except Exception as exc:  # noqa: BLE001 - counted, then reported as a failure as the SDK would
            self.flights.finish(token, False, exc)
            return failure
        self.flights.finish(token, result is success)
        return result


class CountingSpanExporter(_Counting, SpanExporter):
    """Passes spans to ``inner``; a failed export counts its spans as ``export_failed_spans``."""

    def __init__(self, inner: SpanExporter) -> None:
        self._watch(inner, "spans")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._send(  # type: ignore[no-any-return]
            len(spans), lambda: self.inner.export(spans), SpanExportResult.SUCCESS, SpanExportResult.FAILURE
        )

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


class CountingLogExporter(_Counting, LogRecordExporter):
    """Passes log records to ``inner``; a failed export counts them as ``export_failed_logs``."""

    def __init__(self, inner: LogRecordExporter) -> None:
        self._watch(inner, "logs")

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self._send(  # type: ignore[no-any-return]
            len(batch), lambda: self.inner.export(batch), LogRecordExportResult.SUCCESS, LogRecordExportResult.FAILURE
        )

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def _points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics
    )


class CountingMetricExporter(_Counting, MetricExporter):
    """Passes metrics to ``inner``; a failed export counts its data points as
    ``export_failed_metric_points``."""

    def __init__(self, inner: MetricExporter) -> None:
        # The reader asks the exporter for these; they are the inner exporter's choices.
        MetricExporter.__init__(
            self,
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._watch(inner, "metric_points")

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return self._send(  # type: ignore[no-any-return]
            _points(metrics_data),
            lambda: self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS,
            MetricExportResult.FAILURE,
        )

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis=timeout_millis))

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


_deque_appendleft = collections.deque.appendleft


class _CountingQueue(collections.deque):  # type: ignore[type-arg]
    """The batch processor's queue, bounded here rather than by ``maxlen`` so that every
    eviction is seen: an item is taken out either by the export thread (``pop``) or by the
    eviction below, each pop atomic, so each item is exported or counted, once. Once closed
    (at shutdown), whatever is still added is taken out and counted as abandoned."""

    def __init__(self, bound: int, signal: str) -> None:
        super().__init__()
        self.bound = bound
        self.signal = signal
        self.closed = False

    def appendleft(self, item: Any) -> None:
        _deque_appendleft(self, item)
        if len(self) > self.bound or self.closed:
            self._evict()

    def _evict(self) -> None:
        evicted = 0
        # Several emitting threads may evict at once: each pops while the queue is too long,
        # and a concurrent export can make one of them pop one item more than needed.
        while len(self) > self.bound:
            try:
                self.pop()
            except IndexError:
                break
            evicted += 1
        if evicted:
            _diagnostics.report(
                f"queue_dropped_{self.signal}",
                f"the export queue was full (exports slower than emission, or the backend is down); "
                f"the oldest {self.signal} are dropped to keep memory bounded",
                amount=evicted,
            )
        if self.closed:
            self.drain()

    def drain(self) -> int:
        """Close the queue, take out everything in it and count it as abandoned."""
        self.closed = True
        taken = 0
        while True:
            try:
                self.pop()
            except IndexError:
                break
            taken += 1
        if taken:
            _count_abandoned(self.signal, taken)
        return taken


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
            # "queue_full" is the SDK's guess, made before it adds the item and racing with
            # the export thread: the _CountingQueue counts the evictions it actually makes.
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
    if not isinstance(inner._queue, _CountingQueue):
        queue = _CountingQueue(inner._max_queue_size, signal)
        queue.extend(inner._queue)
        inner._queue = queue
    return True


def abandon(processor: object) -> int:
    """After shutdown, or when it stopped waiting: count as abandoned what the processor
    still holds, queued or being sent, and anything it would send from now on; returns the
    number of items counted now."""
    inner = _batch_processor(processor)
    taken = 0
    queue = getattr(inner, "_queue", None)
    if isinstance(queue, _CountingQueue):
        taken += queue.drain()
    return taken + abandon_exports(getattr(inner, "_exporter", None))


def abandon_exports(exporter: object) -> int:
    """Count as abandoned the exports a counting exporter is sending now, and any it starts
    from now on (a metric reader's exporter, say); returns the number of items counted now."""
    return exporter.flights.abandon() if isinstance(exporter, _Counting) else 0


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
