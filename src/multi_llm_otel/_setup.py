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
import os
import signal
import threading
from collections.abc import Mapping
from types import FrameType
from typing import IO, Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from multi_llm_otel import _health
from multi_llm_otel._context import set_process_scope
from multi_llm_otel._emitter import Emitter, install
from multi_llm_otel._events import EventScope
from multi_llm_otel._mapping import scope_attributes
from multi_llm_otel._sink import (
    JsonLinesLogExporter,
    JsonLinesMetricExporter,
    JsonLinesSpanExporter,
    JsonLinesWriter,
)

__all__ = ["Telemetry", "configure"]

_SIGNALS = ("traces", "logs", "metrics")
_PATHS = {"traces": "v1/traces", "logs": "v1/logs", "metrics": "v1/metrics"}


class Telemetry:
    """The handle ``configure()`` returns: flush and shut down what it set up."""

    def __init__(
        self,
        emitter: Emitter,
        providers: Mapping[str, Any],
        installed: Mapping[str, bool],
        exporters: Mapping[str, str],
        writer: JsonLinesWriter | None,
        shutdown_timeout: float,
    ) -> None:
        self.emitter = emitter
        self.tracer_provider = providers["traces"]
        self.logger_provider = providers["logs"]
        self.meter_provider = providers["metrics"]
        self.installed = dict(installed)
        self.exporters = dict(exporters)
        self._writer = writer
        self._shutdown_timeout = shutdown_timeout
        self._done = False
        self._lock = threading.Lock()

    def _owned(self) -> list[Any]:
        names = ("tracer_provider", "logger_provider", "meter_provider")
        return [getattr(self, n) for n, s in zip(names, _SIGNALS) if self.installed[s]]

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Flush every provider this handle owns. The SDK reports success even when an export
        failed; failed exports show in the SDK's warnings and in the Collector's counters."""
        ok = True
        for provider in self._owned():
            try:
                ok = bool(provider.force_flush(timeout_millis)) and ok
            except Exception as exc:  # noqa: BLE001 - flushing must not break the caller
                _health.report("flush_failed", str(exc), exc)
                ok = False
        return ok

    def shutdown(self) -> bool:
        """Flush and shut down, at most ``shutdown_timeout`` seconds; safe to call twice.
        Returns False when the deadline passed with exports still running."""
        with self._lock:
            if self._done:
                return True
            self._done = True
        atexit.unregister(self.shutdown)

        def run() -> None:
            for provider in self._owned():
                try:
                    provider.shutdown()
                except Exception as exc:  # noqa: BLE001 - shutdown must not break exit
                    _health.report("shutdown_failed", str(exc), exc)

        worker = threading.Thread(target=run, name="multi-llm-otel-shutdown", daemon=True)
        worker.start()
        worker.join(self._shutdown_timeout)
        if worker.is_alive():
            _health.report("shutdown_timed_out", f"exports still running after {self._shutdown_timeout} s were abandoned")
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


def _otlp_endpoint_set() -> bool:
    names = ["OTEL_EXPORTER_OTLP_ENDPOINT"] + [f"OTEL_EXPORTER_OTLP_{s.upper()}_ENDPOINT" for s in _SIGNALS]
    return any(os.environ.get(n) for n in names)


def _exporter_kind(signal_name: str, otlp: bool) -> str:
    chosen = os.environ.get(f"OTEL_{signal_name.upper()}_EXPORTER", "").strip().lower()
    if chosen in ("otlp", "console", "none"):
        return chosen
    if chosen:
        _health.report("bad_environment_value", f"OTEL_{signal_name.upper()}_EXPORTER={chosen!r} is not supported here")
    return "otlp" if otlp else "console"


def _otlp_exporter(signal_name: str, protocol: str, endpoint: str | None, headers: Mapping[str, str] | None) -> Any:
    kwargs: dict[str, Any] = {}
    if headers is not None:
        kwargs["headers"] = dict(headers)
    if protocol == "grpc":
        if endpoint is not None:
            kwargs["endpoint"] = endpoint
        if signal_name == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpan

            return GrpcSpan(**kwargs)
        if signal_name == "logs":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLog

            return GrpcLog(**kwargs)
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetric

        return GrpcMetric(**kwargs)
    if endpoint is not None:
        kwargs["endpoint"] = f"{endpoint.rstrip('/')}/{_PATHS[signal_name]}"
    if signal_name == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpan

        return HttpSpan(**kwargs)
    if signal_name == "logs":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLog

        return HttpLog(**kwargs)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetric

    return HttpMetric(**kwargs)


def _protocol(protocol: str | None) -> str:
    chosen = (protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip().lower()
    if chosen not in ("grpc", "http/protobuf"):
        _health.report("unsupported_protocol", f"{chosen!r}: the Python SDK exports grpc or http/protobuf; using http/protobuf")
        return "http/protobuf"
    return chosen


def configure(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, str | int | float | bool] | None = None,
    scope: EventScope | None = None,
    sink: str | IO[str] | None = None,
    span_events: bool = True,
    log_records: bool = True,
    user_id_hash_key: bytes | str | None = None,
    shutdown_timeout: float = 5.0,
    handle_sigterm: bool = True,
) -> Telemetry:
    """Set up traces, logs and metrics for ``service_name`` and return the handle.

    ``service_name`` is a default: ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` win, so
    operators can rename a service without a code change. ``scope`` declares that the whole
    process serves one scope: it goes on the Resource (``multi_llm.event.scope``, and
    ``user.id``) so Collector pipelines can route on it, and becomes the default event scope.
    Calling ``configure()`` again returns the first handle unchanged.
    """
    with _configure_lock:
        if _configured:
            _health.report("configure_called_twice", "the first configuration stays in force")
            return _configured[0]
        key = user_id_hash_key if user_id_hash_key is not None else os.environ.get("MULTI_LLM_OTEL_USER_ID_HASH_KEY") or None
        key_bytes = key.encode() if isinstance(key, str) else key
        attrs: dict[str, Any] = {"service.name": service_name or "unknown_service"}
        attrs.update(resource_attributes or {})
        if scope is not None:
            attrs.update(scope_attributes(scope, key_bytes))
            set_process_scope(scope)
        # Resource.create lets the attributes given here win over the environment; merging the
        # environment's again on top makes OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win.
        resource = Resource.create(attrs).merge(OTELResourceDetector().detect())

        otlp = endpoint is not None or _otlp_endpoint_set()
        proto = _protocol(protocol)
        kinds = {s: _exporter_kind(s, otlp) for s in _SIGNALS}
        target = sink if sink is not None else os.environ.get("MULTI_LLM_OTEL_SINK") or None
        writer = JsonLinesWriter(target) if "console" in kinds.values() else None

        def exporter(signal_name: str) -> Any:
            if kinds[signal_name] == "otlp":
                return _otlp_exporter(signal_name, proto, endpoint, headers)
            assert writer is not None
            return {"traces": JsonLinesSpanExporter, "logs": JsonLinesLogExporter, "metrics": JsonLinesMetricExporter}[
                signal_name
            ](writer)

        installed = {s: False for s in _SIGNALS}
        providers: dict[str, Any] = {}
        if _is_placeholder(trace.get_tracer_provider()):
            tp = TracerProvider(resource=resource, shutdown_on_exit=False)
            if kinds["traces"] != "none":
                span_exporter: SpanExporter = exporter("traces")
                tp.add_span_processor(BatchSpanProcessor(span_exporter))
            trace.set_tracer_provider(tp)
            installed["traces"] = True
        providers["traces"] = trace.get_tracer_provider()
        if _is_placeholder(_logs.get_logger_provider()):
            lp = LoggerProvider(resource=resource, shutdown_on_exit=False)
            if kinds["logs"] != "none":
                log_exporter: LogRecordExporter = exporter("logs")
                lp.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
            _logs.set_logger_provider(lp)
            installed["logs"] = True
        providers["logs"] = _logs.get_logger_provider()
        if _is_placeholder(metrics.get_meter_provider()):
            readers = []
            if kinds["metrics"] != "none":
                metric_exporter: MetricExporter = exporter("metrics")
                readers.append(PeriodicExportingMetricReader(metric_exporter))
            mp = MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)
            metrics.set_meter_provider(mp)
            installed["metrics"] = True
        providers["metrics"] = metrics.get_meter_provider()

        emitter = Emitter(
            providers["traces"],
            providers["logs"],
            providers["metrics"],
            span_events=span_events,
            log_records=log_records,
            user_id_hash_key=key_bytes,
        )
        install(emitter)
        handle = Telemetry(emitter, providers, installed, kinds, writer, shutdown_timeout)
        atexit.register(handle.shutdown)
        if handle_sigterm:
            _install_sigterm(handle)
        _configured.append(handle)
        return handle


def _install_sigterm(handle: Telemetry) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        handle.shutdown()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
