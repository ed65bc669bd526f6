"""Emission: one business event becomes a span event and a log record.

``Emitter`` is the object form for users who bring their own providers; the module-level
``emit`` goes through the active emitter, which ``configure()`` and
``multi_llm_otel.testing.capture()`` replace.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber, get_logger_provider
from opentelemetry.metrics import get_meter_provider

from multi_llm_otel import _diagnostics, event_types
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._json_value import _clean_str
from multi_llm_otel._log_body import log_body
from multi_llm_otel._mapping import event_attributes
from multi_llm_otel._scope_binding import current_scope
from multi_llm_otel._version import __version__

if TYPE_CHECKING:
    from opentelemetry._logs import Logger, LoggerProvider
    from opentelemetry.context import Context
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["Emitter", "active", "emit", "install"]

SCOPE_NAME: Final = "multi_llm_otel"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ERROR_TYPES = frozenset({event_types.LLM_ERROR, event_types.ERROR})

# Bucket boundaries advised by the GenAI semantic conventions for these two histograms.
_TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)


def to_unix_nanos(moment: datetime) -> int:
    """Exact integer nanoseconds; ``datetime.timestamp()`` goes through a float and can round."""
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _int_env(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        _diagnostics.report("bad_environment_value", f"{name}={raw!r} is not an integer; ignored")
        return None


class Emitter:
    """Maps business events onto OpenTelemetry through explicit (or the global) providers.

    ``span_events`` / ``log_records`` switch either channel off. ``user_id_hash_key`` makes
    ``user.id`` a keyed hash instead of the plain id. Attribute limits follow
    ``OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`` / ``OTEL_ATTRIBUTE_COUNT_LIMIT`` and
    ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` unless given.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        logger_provider: LoggerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        span_events: bool = True,
        log_records: bool = True,
        user_id_hash_key: bytes | str | None = None,
        max_attributes: int | None = None,
        max_value_length: int | None = None,
    ) -> None:
        tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        lp = logger_provider if logger_provider is not None else get_logger_provider()
        mp = meter_provider if meter_provider is not None else get_meter_provider()
        self.tracer = tp.get_tracer(SCOPE_NAME, __version__)
        self.logger: Logger = lp.get_logger(SCOPE_NAME, __version__)
        meter = mp.get_meter(SCOPE_NAME, __version__)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        # Priced by ``_pricing`` when a price is known; "{USD}" keeps the currency out of the
        # Prometheus name (``multi_llm_client_cost_total``), which UCUM has no unit for.
        self.cost = meter.create_counter("multi_llm.client.cost", "{USD}", "Cost of LLM responses in US dollars")
        self.span_events = span_events
        self.log_records = log_records
        self.user_id_hash_key = user_id_hash_key.encode() if isinstance(user_id_hash_key, str) else user_id_hash_key
        if max_attributes is None:
            # Span events obey the event limit, log records the general one: the smaller fits both.
            limits = [_int_env("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"), _int_env("OTEL_ATTRIBUTE_COUNT_LIMIT")]
            max_attributes = min((n for n in limits if n is not None), default=128)
        self.max_attributes = max_attributes
        self.max_value_length = max_value_length or _int_env("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")

    def emit(
        self,
        event: BusinessEvent,
        scope: EventScope | None = None,
        *,
        span: Span | None = None,
        context: Context | None = None,
    ) -> None:
        """Emit ``event``; never raises. Given both ``span`` and ``context``, the context must
        already hold the span (the decorator makes it once per call). Without a recording span the span event is skipped
        (counted as ``span_event_without_span``) and the log record still carries the event."""
        try:
            if not isinstance(event, BusinessEvent):
                raise TypeError(f"emit() takes a BusinessEvent, not {type(event).__name__}")
            if scope is None:
                scope = current_scope()
            elif not isinstance(scope, EventScope):
                raise TypeError(f"scope must be an EventScope, not {type(scope).__name__}")
            attributes = event_attributes(
                event,
                scope,
                user_id_key=self.user_id_hash_key,
                max_attributes=self.max_attributes,
                max_value_length=self.max_value_length,
            )
            timestamp = to_unix_nanos(event.created_at)
            # The name is no attribute: a lone surrogate (or a non-string) put into
            # ``event_type`` after construction would fail the encoding of the whole batch.
            name = event.event_type
            if not isinstance(name, str):
                raise TypeError(f"event_type must be a string, not {type(name).__name__}")
            name = _clean_str(name)
            if self.span_events:
                target = span if span is not None else trace.get_current_span(context)
                if target.is_recording():
                    target.add_event(name, attributes, timestamp)
                else:
                    _diagnostics.count("span_event_without_span")
            if self.log_records:
                if span is not None and context is None:
                    context = trace.set_span_in_context(span)
                error = name in _ERROR_TYPES
                self.logger.emit(
                    timestamp=timestamp,
                    context=context,
                    severity_number=SeverityNumber.ERROR if error else SeverityNumber.INFO,
                    severity_text="ERROR" if error else "INFO",
                    # A copy (a batch exports later, and the event may change in between)
                    # that the OTLP encoder cannot refuse: see _log_body.
                    body=log_body(event.metadata),
                    attributes=attributes,
                    event_name=name,
                )
        except Exception as exc:  # noqa: BLE001 - the host program must never see our failures
            _diagnostics.report("emit_failed", str(exc), exc)


_lock = threading.Lock()
_active: list[Emitter] = []


def active() -> Emitter:
    """The emitter the decorator and ``emit`` use: the installed one, else one on the globals."""
    if _active:
        return _active[-1]
    with _lock:
        if not _active:
            _active.append(Emitter())
        return _active[-1]


def install(emitter: Emitter) -> Emitter | None:
    """Make ``emitter`` the active one; returns the one it replaced."""
    with _lock:
        previous = _active[-1] if _active else None
        _active[:] = [emitter]
        return previous


def restore(previous: Emitter | None) -> None:
    with _lock:
        _active[:] = [] if previous is None else [previous]


def emit(event: BusinessEvent, scope: EventScope | None = None) -> None:
    """Emit ``event`` in ``scope`` (default: the bound scope) on the current span and as a log record."""
    active().emit(event, scope)
