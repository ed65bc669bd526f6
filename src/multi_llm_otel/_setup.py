"""``configure()``: tracer, logger and meter providers for one service in one call.

Defaults, and why:
- OTLP when an endpoint is given or any ``OTEL_EXPORTER_OTLP_*ENDPOINT`` is set, over
  ``http/protobuf`` unless ``OTEL_EXPORTER_OTLP_PROTOCOL`` (or ``protocol=``) says ``grpc``: the
  specification's default, and it passes proxies that gRPC does not. Otherwise the embedded JSON
  lines sink on stderr, so an unconfigured program still shows what it emits.
- ``OTEL_{TRACES,LOGS,METRICS}_EXPORTER`` = ``otlp`` / ``console`` / ``none`` pick per signal.
- The SDK's batch processors with their standard queue sizes and delays (spans: queue 2,048,
  batch 512, every 5 s; logs: 2,048 / 512 / 1 s; all ``OTEL_BSP_*`` / ``OTEL_BLRP_*`` variables
  apply): export runs on a background thread, and a full queue drops the oldest item instead of
  blocking the caller.
- Shutdown (the handle, ``atexit``, and ``SIGTERM`` when the program has no handler of its own)
  flushes what is queued, but never waits longer than ``shutdown_timeout`` seconds, so a hung
  exporter cannot hang exit.
- Providers the application already installed are kept and used; only missing ones are set.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from multi_llm_otel import _diagnostics
from multi_llm_otel._emitter import SCOPE_NAME, Emitter, install
from multi_llm_otel._events import EventScope
from multi_llm_otel._export_losses import abandon, abandon_exports, register_diagnostics_metric, watch_queue
from multi_llm_otel._mapping import scope_attributes
from multi_llm_otel._pricing import PriceSource, set_prices
from multi_llm_otel._process_exit import flush_forked_children, install_sigterm
from multi_llm_otel._scope_binding import set_process_scope
from multi_llm_otel._sdk_setup import (
    batch_processor,
    logger_provider,
    report_problems,
    signal_exporter,
    sink_writer,
    tracer_provider,
)
from multi_llm_otel._settings import SIGNALS, Settings, resolve
from multi_llm_otel._sink import JsonLinesWriter
from multi_llm_otel._span_event_bridge import add_bridge

__all__ = ["Telemetry", "configure"]


class Telemetry:
    """The handle ``configure()`` returns: flush and shut down what it set up."""

    # How long a second shutdown() caller waits past the deadline for the first one's counting.
    _COUNTING_GRACE_S = 0.5

    def __init__(
        self,
        emitter: Emitter,
        providers: Mapping[str, Any],
        installed: Mapping[str, bool],
        exporters: Mapping[str, str],
        writer: JsonLinesWriter | None,
        shutdown_timeout: float,
        processors: Mapping[str, Any] | None = None,
    ) -> None:
        self.emitter = emitter
        self.tracer_provider = providers["traces"]
        self.logger_provider = providers["logs"]
        self.meter_provider = providers["metrics"]
        self.installed = dict(installed)
        self.exporters = dict(exporters)
        self._writer = writer
        self._shutdown_timeout = shutdown_timeout
        self._processors = dict(processors or {})
        self._done = False
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._deadline = 0.0
        self._result = True
        self._flushing_thread: int | None = None

    def _after_fork_in_child(self) -> None:
        # A lock another thread held at fork() time would stay locked in the child forever,
        # and a shutdown the parent was running is not the child's to wait for.
        self._lock = threading.Lock()
        self._finished = threading.Event()
        if self._done:
            self._finished.set()

    def _owned(self) -> list[Any]:
        names = ("tracer_provider", "logger_provider", "meter_provider")
        return [getattr(self, n) for n, s in zip(names, SIGNALS, strict=True) if self.installed[s]]

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Flush every provider this handle owns. The SDK reports success even when an export
        failed; failed exports show in the SDK's warnings and in the Collector's counters."""
        ok = True
        for provider in self._owned():
            try:
                ok = bool(provider.force_flush(timeout_millis)) and ok
            except Exception as exc:  # noqa: BLE001 - flushing must not break the caller
                _diagnostics.report("flush_failed", str(exc), exc)
                ok = False
        return ok

    def shutdown(self) -> bool:
        """Flush and shut down, at most ``shutdown_timeout`` seconds; safe to call twice.
        Returns False when the deadline passed with exports still running; what was still
        queued or being sent then is counted (``shutdown_abandoned_spans`` / ``_logs``) and
        warned about. A call made while another one is flushing (``atexit`` and ``SIGTERM``
        both, say) waits for that flush, within the same deadline, and returns its result."""
        with self._lock:
            first = not self._done
            if first:
                self._done = True
                self._deadline = time.monotonic() + self._shutdown_timeout
                self._flushing_thread = threading.get_ident()
        if not first:
            # The thread running the flush cannot wait for itself (a handler of the
            # program's own that calls shutdown() again, say). The grace covers the counting
            # the first call does once its deadline has passed.
            if self._flushing_thread != threading.get_ident():
                self._finished.wait(max(0.0, self._deadline - time.monotonic()) + self._COUNTING_GRACE_S)
            return self._result if self._finished.is_set() else False
        try:
            self._result = self._flush_and_shut_down()
        finally:
            self._finished.set()
        return self._result

    def _flush_and_shut_down(self) -> bool:
        atexit.unregister(self.shutdown)

        def run(provider: Any) -> None:
            try:
                provider.shutdown()
            except Exception as exc:  # noqa: BLE001 - shutdown must not break exit
                _diagnostics.report("shutdown_failed", str(exc), exc)

        # One thread per provider: a signal whose exporter hangs does not keep the others
        # from flushing, and the whole shutdown still ends by the one deadline.
        workers = [
            threading.Thread(target=run, args=(p,), name="multi-llm-otel-shutdown", daemon=True) for p in self._owned()
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, self._deadline - time.monotonic()))
        timed_out = any(w.is_alive() for w in workers)
        # Whatever the processors still hold now is not going to be sent by this shutdown:
        # queued items, and the batch in flight when the deadline passed.
        left = {s: abandon(p) for s, p in self._processors.items()}
        if self.installed["metrics"]:
            readers = getattr(self.meter_provider, "_metric_readers", ())
            left["metric points"] = sum(abandon_exports(getattr(r, "_exporter", None)) for r in readers)
        if timed_out:
            waiting = ", ".join(f"{n} {s}" for s, n in left.items() if n) or "nothing"
            _diagnostics.report(
                "shutdown_timed_out",
                f"exports still running after {self._shutdown_timeout} s were abandoned ({waiting} not sent)",
            )
            return False
        if self._writer is not None:
            self._writer.close()
        return True

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


_configured: list[Telemetry] = []
_configure_lock = threading.Lock()


def _is_placeholder(provider: object) -> bool:
    """The API's stand-in before anyone set a provider (its class is private for logs and metrics)."""
    return "Proxy" in type(provider).__name__


def configure(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, str | int | float | bool] | None = None,
    scope: EventScope | None = None,
    sink: str | IO[str] | None = None,
    span_events: bool | None = None,
    log_records: bool = True,
    user_id_hash_key: bytes | str | None = None,
    shutdown_timeout: float = 5.0,
    handle_sigterm: bool = True,
    prices: PriceSource = None,
) -> Telemetry:
    """Set up traces, logs and metrics for ``service_name`` and return the handle.

    ``service_name`` is a default: ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` win, so
    operators can rename a service without a code change. ``scope`` declares that the whole
    process serves one scope: it goes on the Resource (``multi_llm.event.scope``, and
    ``user.id``) so Collector pipelines can route on it, and becomes the default event scope.
    A setting that cannot be used (an invalid ``OTEL_*`` value, a sink file that cannot be
    written) is warned about once, naming it, and its default is used: this never raises.
    Calling ``configure()`` again returns the first handle unchanged. ``prices`` (a JSON file
    or a mapping, see ``multi_llm_otel._pricing``; default ``MULTI_LLM_OTEL_PRICES``, ``False``
    for none) prices each response as ``cost_usd`` and the ``multi_llm.client.cost`` counter.

    Events are log records; the logger provider set up here also puts each on its span as a
    span event (``EventToSpanEventBridge``) unless ``span_events=False`` or
    ``MULTI_LLM_OTEL_SPAN_EVENTS=false``, for backends that read log-based events. With
    ``log_records=False`` it exports no log records, and the events show as span events only.
    """
    settings = resolve(
        endpoint=endpoint, protocol=protocol, sink=sink, user_id_hash_key=user_id_hash_key, span_events=span_events
    )
    return configure_with_settings(
        settings,
        service_name,
        headers=headers,
        resource_attributes=resource_attributes,
        scope=scope,
        log_records=log_records,
        shutdown_timeout=shutdown_timeout,
        handle_sigterm=handle_sigterm,
        prices=prices,
    )


def configure_with_settings(
    settings: Settings,
    service_name: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, str | int | float | bool] | None = None,
    scope: EventScope | None = None,
    log_records: bool = True,
    shutdown_timeout: float = 5.0,
    handle_sigterm: bool = True,
    prices: PriceSource = None,
) -> Telemetry:
    """``configure()`` from settings already resolved (the commands adjust them first)."""
    with _configure_lock:
        if _configured:
            _diagnostics.report("configure_called_twice", "the first configuration stays in force")
            return _configured[0]
        report_problems(settings)
        key_bytes = settings.user_id_hash_key
        attrs: dict[str, Any] = {"service.name": service_name or "unknown_service"}
        attrs.update(resource_attributes or {})
        if scope is not None:
            attrs.update(scope_attributes(scope, key_bytes))
            set_process_scope(scope)
        if prices is not None:
            set_prices(prices)
        # Resource.create lets the attributes given here win over the environment; merging the
        # environment's again on top makes OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win.
        resource = Resource.create(attrs).merge(OTELResourceDetector().detect())
        writer = sink_writer(settings) if "console" in settings.exporters.values() else None

        installed = dict.fromkeys(SIGNALS, False)
        providers: dict[str, Any] = {}
        processors: dict[str, Any] = {}
        if _is_placeholder(trace.get_tracer_provider()):
            tp = tracer_provider(settings, resource)
            if settings.exporters["traces"] != "none":
                span_exporter: SpanExporter = signal_exporter("traces", settings, writer, headers)
                processors["spans"] = batch_processor(BatchSpanProcessor, span_exporter, settings.spans)
                watch_queue(processors["spans"], "spans")
                tp.add_span_processor(processors["spans"])
            trace.set_tracer_provider(tp)
            installed["traces"] = True
        providers["traces"] = trace.get_tracer_provider()
        if _is_placeholder(_logs.get_logger_provider()):
            lp = logger_provider(settings, resource)
            if settings.exporters["logs"] != "none" and log_records:
                log_exporter: LogRecordExporter = signal_exporter("logs", settings, writer, headers)
                processors["logs"] = batch_processor(BatchLogRecordProcessor, log_exporter, settings.logs)
                watch_queue(processors["logs"], "logs")
                lp.add_log_record_processor(processors["logs"])
            _logs.set_logger_provider(lp)
            installed["logs"] = True
        providers["logs"] = _logs.get_logger_provider()
        if settings.span_events:
            add_bridge(providers["logs"])
        if _is_placeholder(metrics.get_meter_provider()):
            readers = []
            if settings.exporters["metrics"] != "none":
                metric_exporter: MetricExporter = signal_exporter("metrics", settings, writer, headers)
                readers.append(
                    PeriodicExportingMetricReader(
                        metric_exporter,
                        export_interval_millis=settings.metric_export_interval_millis,
                        export_timeout_millis=settings.metric_export_timeout_millis,
                    )
                )
            mp = MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)
            metrics.set_meter_provider(mp)
            installed["metrics"] = True
        providers["metrics"] = metrics.get_meter_provider()
        try:
            register_diagnostics_metric(providers["metrics"].get_meter(SCOPE_NAME))
        except Exception as exc:  # noqa: BLE001 - stats() still has the counts
            _diagnostics.report("diagnostics_metric_failed", str(exc), exc)

        limits = settings.limits
        emitter = Emitter(
            providers["traces"],
            providers["logs"],
            providers["metrics"],
            user_id_hash_key=key_bytes,
            # Span events obey the event limit, log records the log one: the smaller fits both.
            max_attributes=min(limits.event_attributes, limits.log_attributes),
            max_value_length=limits.value_length,
        )
        install(emitter)
        handle = Telemetry(emitter, providers, installed, settings.exporters, writer, shutdown_timeout, processors)
        atexit.register(handle.shutdown)
        if handle_sigterm:
            install_sigterm(handle)
        flush_forked_children(handle)
        _configured.append(handle)
        return handle
