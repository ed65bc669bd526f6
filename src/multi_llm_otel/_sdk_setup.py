"""The SDK objects ``configure()`` assembles, each built from the resolved ``Settings`` with
every value passed explicitly: left to itself the SDK would read the variables again, and
raise on the values the resolver replaced by their defaults."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from multi_llm_otel import _diagnostics
from multi_llm_otel._export_losses import CountingLogExporter, CountingMetricExporter, CountingSpanExporter
from multi_llm_otel._settings import Batch, Settings
from multi_llm_otel._settings import Sampler as SamplerSettings
from multi_llm_otel._sink import (
    JsonLinesLogExporter,
    JsonLinesMetricExporter,
    JsonLinesSpanExporter,
    JsonLinesWriter,
)

__all__ = [
    "batch_processor",
    "ca_respecting_session",
    "logger_provider",
    "report_problems",
    "signal_exporter",
    "sink_writer",
    "tracer_provider",
]

_logger = logging.getLogger("multi_llm_otel")


def signal_exporter(
    signal_name: str, settings: Settings, writer: JsonLinesWriter | None, headers: Mapping[str, str] | None
) -> Any:
    """The exporter of one signal, wrapped so that failed exports become counts in ``stats()``."""
    if settings.exporters[signal_name] == "otlp":
        inner = otlp_exporter(signal_name, settings, headers)
    else:
        assert writer is not None
        inner = {
            "traces": JsonLinesSpanExporter,
            "logs": JsonLinesLogExporter,
            "metrics": JsonLinesMetricExporter,
        }[signal_name](writer)
    counting = {"traces": CountingSpanExporter, "logs": CountingLogExporter, "metrics": CountingMetricExporter}
    return counting[signal_name](inner)


def report_problems(settings: Settings) -> None:
    """One warning per unusable setting, naming it and the default used instead."""
    if not settings.problems:
        return
    _diagnostics.count("invalid_settings", len(settings.problems))
    for problem in settings.problems:
        _logger.warning("multi-llm-otel: %s (see `multi-llm-otel check`)", problem)


def otlp_exporter(signal_name: str, settings: Settings, headers: Mapping[str, str] | None) -> Any:
    target = settings.endpoints[signal_name]
    kwargs: dict[str, Any] = {"endpoint": target.url, "timeout": target.timeout}
    if headers is not None:
        kwargs["headers"] = dict(headers)
    if settings.protocol == "grpc":
        from grpc import Compression as GrpcCompression  # type: ignore[import-untyped]

        gzip = target.compression == "gzip"
        kwargs["compression"] = GrpcCompression.Gzip if gzip else GrpcCompression.NoCompression
        if signal_name == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpan

            return GrpcSpan(**kwargs)
        if signal_name == "logs":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLog

            return GrpcLog(**kwargs)
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetric

        return GrpcMetric(**kwargs)
    from opentelemetry.exporter.otlp.proto.http import Compression

    kwargs["compression"] = Compression(target.compression)
    if not any("CREDENTIAL_PROVIDER" in name for name in os.environ if name.startswith("OTEL_PYTHON_EXPORTER_OTLP")):
        kwargs["session"] = ca_respecting_session()
    if signal_name == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpan

        return HttpSpan(**kwargs)
    if signal_name == "logs":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLog

        return HttpLog(**kwargs)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetric

    return HttpMetric(**kwargs)


def ca_respecting_session() -> Any:
    """A ``requests`` session for the OTLP/HTTP exporters in which the CA file the exporter
    was given (``OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE``) wins.

    The exporters set ``session.verify`` to that file, but ``requests`` lets the environment's
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` (set in many container images) override a
    session's ``verify``; the collector's private CA is then silently ignored and every
    export fails with a certificate error. Proxies and the rest of the environment still apply.
    """
    import requests

    class Session(requests.Session):
        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None and isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    return Session()


def sink_writer(settings: Settings) -> JsonLinesWriter:
    """The sink's writer; a file that cannot be opened after all (a race with the resolver's
    check, a full file table) falls back to stderr as the resolver's checks do."""
    try:
        return JsonLinesWriter(settings.sink)
    except OSError as exc:
        _logger.warning(
            "multi-llm-otel: %s=%r cannot be opened (%s); using the program's stderr",
            settings.sink_source,
            settings.sink,
            exc.strerror or exc,
        )
        _diagnostics.count("invalid_settings")
        return JsonLinesWriter(None)


def batch_processor(kind: Any, exporter: Any, batch: Batch) -> Any:
    # Every value passed explicitly: the SDK would read (and refuse) the variables itself.
    return kind(
        exporter,
        max_queue_size=batch.max_queue_size,
        schedule_delay_millis=batch.schedule_delay_millis,
        max_export_batch_size=batch.max_export_batch_size,
        export_timeout_millis=batch.export_timeout_millis,
    )


def _unset_if_none(value: int | None) -> int:
    return SpanLimits.UNSET if value is None else value


def tracer_provider(settings: Settings, resource: Resource) -> TracerProvider:
    limits = settings.limits
    span_limits = SpanLimits(
        max_attributes=limits.attributes,
        max_events=limits.span_events,
        max_links=limits.span_links,
        max_span_attributes=limits.span_attributes,
        max_event_attributes=limits.event_attributes,
        max_link_attributes=limits.link_attributes,
        max_attribute_length=_unset_if_none(limits.value_length),
        max_span_attribute_length=_unset_if_none(limits.span_value_length),
    )
    return TracerProvider(
        resource=resource, shutdown_on_exit=False, span_limits=span_limits, sampler=sampler(settings.sampler)
    )


def logger_provider(settings: Settings, resource: Resource) -> LoggerProvider:
    limits = settings.limits
    log_limits = LogRecordLimits(
        max_attributes=limits.attributes,
        max_attribute_length=_unset_if_none(limits.value_length),
        max_log_record_attributes=limits.log_attributes,
        max_log_record_attribute_length=_unset_if_none(limits.log_value_length),
    )
    return LoggerProvider(resource=resource, shutdown_on_exit=False, log_record_limits=log_limits)


def sampler(chosen: SamplerSettings) -> Any:
    """The SDK's sampler for a known name; None leaves a plug-in sampler to the SDK."""
    if chosen.plugin:
        return None
    from opentelemetry.sdk.trace import sampling

    ratio = sampling.TraceIdRatioBased(chosen.ratio)
    root = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": ratio,
    }
    base = chosen.name.removeprefix("parentbased_")
    sampler = root[base]
    return sampling.ParentBased(sampler) if chosen.name.startswith("parentbased_") else sampler
