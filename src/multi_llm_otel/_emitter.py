"""Emission: one business event becomes one log record with an event name, through the Logs API.

The record carries the span context of the call (or of the current span), so the
``EventToSpanEventBridge`` processor, which ``configure()`` and ``testing.capture()`` install,
also puts it on that span as a span event. ``Emitter`` is the object form for users who bring
their own providers; the module-level ``emit`` goes through the active emitter, which
``configure()`` and ``multi_llm_otel.testing.capture()`` replace.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber, get_logger_provider
from opentelemetry.metrics import get_meter_provider

from multi_llm_otel import _attribute_names as names
from multi_llm_otel import _diagnostics, event_types
from multi_llm_otel._call_metrics import CallMetrics
from multi_llm_otel._clean_log_records import CleanSend, clean_sender
from multi_llm_otel._events import BusinessEvent, EventScope, uuid_text
from multi_llm_otel._guard import contained, describe, never_raise
from multi_llm_otel._json_value import JSONValue, _clean_str
from multi_llm_otel._mapping import AttributeValue, attributes_and_body, scope_attributes
from multi_llm_otel._scope_binding import current_scope
from multi_llm_otel._version import __version__
from multi_llm_otel.providers._base import error_message

if TYPE_CHECKING:
    from opentelemetry._logs import Logger, LoggerProvider
    from opentelemetry.context import Context
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["Emitter", "active", "emit", "install"]

SCOPE_NAME: Final = "multi_llm_otel"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ERROR_TYPES = frozenset({event_types.LLM_ERROR, event_types.ERROR})
# Enum members read once: each read from the class goes through a descriptor.
_ERROR: Final = SeverityNumber.ERROR
_INFO: Final = SeverityNumber.INFO


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

    Events become log records on ``logger_provider``; add ``EventToSpanEventBridge`` to that
    provider to see them as span events too. ``user_id_hash_key`` makes
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
        user_id_hash_key: bytes | str | None = None,
        max_attributes: int | None = None,
        max_value_length: int | None = None,
    ) -> None:
        tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        lp = logger_provider if logger_provider is not None else get_logger_provider()
        mp = meter_provider if meter_provider is not None else get_meter_provider()
        self.tracer = tp.get_tracer(SCOPE_NAME, __version__)
        self.logger: Logger = lp.get_logger(SCOPE_NAME, __version__)
        # The logger the clean sender was made for: ``logger`` may be replaced afterwards.
        self._clean: tuple[object, CleanSend | None] = (self.logger, clean_sender(self.logger))
        self.metrics = CallMetrics(mp.get_meter(SCOPE_NAME, __version__))
        self.user_id_hash_key = user_id_hash_key.encode() if isinstance(user_id_hash_key, str) else user_id_hash_key
        if max_attributes is None:
            # Bridged span events obey the event limit, log records the general one: the smaller
            # fits both.
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
        exception: BaseException | None = None,
    ) -> bool:
        """Emit ``event`` as one log record in ``span`` (else ``context``, else the current
        context); never raises. Given both ``span`` and ``context``, the context must already
        hold the span (the decorator makes it once per call). ``exception``, the exception the
        event reports, adds ``exception.type`` and its masked, bounded ``exception.message``.
        Returns whether the event was emitted (False: it failed, and that was reported)."""
        with contained("emit_failed"):
            if not isinstance(event, BusinessEvent):
                raise TypeError(f"emit() takes a BusinessEvent, not {type(event).__name__}")
            if scope is None:
                scope = current_scope()
            elif not isinstance(scope, EventScope):
                raise TypeError(f"scope must be an EventScope, not {type(scope).__name__}")
            # The name is no attribute: a lone surrogate (or a non-string) put into
            # ``event_type`` after construction would fail the encoding of the whole batch.
            name = event.event_type
            if not isinstance(name, str):
                raise TypeError(f"event_type must be a string, not {type(name).__name__}")
            if span is not None and context is None:
                context = trace.set_span_in_context(span)
            self._send(event, _clean_str(name), scope_attributes(scope, self.user_id_hash_key), context, exception)
            return True
        return False

    @never_raise("emit_failed")
    def emit_in_call(
        self,
        event: BusinessEvent,
        scope_attrs: dict[str, AttributeValue],
        context: Context | None,
        exception: BaseException | None,
    ) -> None:
        """``emit`` for the decorator's own events, whose type is one of ``event_types`` and
        whose call already holds its scope attributes and span context; never raises."""
        self._send(event, event.event_type, scope_attrs, context, exception)

    def _send(
        self,
        event: BusinessEvent,
        name: str,
        scope_attrs: dict[str, AttributeValue],
        context: Context | None,
        exception: BaseException | None,
    ) -> None:
        # The body is a copy (a batch exports later, and the event may change in between)
        # that the OTLP encoder cannot refuse: see _log_body.
        body: dict[str, JSONValue] = {}
        attributes = attributes_and_body(
            uuid_text(event.id),
            event.metadata,
            scope_attrs,
            max_attributes=self.max_attributes,
            max_value_length=self.max_value_length,
            body=body,
        )
        if exception is not None:
            attributes[names.EXCEPTION_TYPE] = type(exception).__qualname__
            message = error_message(describe(exception))
            if message:
                attributes[names.EXCEPTION_MESSAGE] = message
        error = name in _ERROR_TYPES
        record = LogRecord(
            timestamp=to_unix_nanos(event.created_at),
            context=context,
            severity_number=_ERROR if error else _INFO,
            severity_text="ERROR" if error else "INFO",
            body=body,
            attributes=attributes,
            event_name=name,
        )
        logger = self.logger
        made_for, send_clean = self._clean
        if made_for is not logger:
            send_clean = clean_sender(logger)
            self._clean = (logger, send_clean)
        if send_clean is None or not send_clean(record):
            logger.emit(record)


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


def emit(event: BusinessEvent, scope: EventScope | None = None) -> bool:
    """Emit ``event`` in ``scope`` (default: the bound scope) as a log record in the current
    span context; never raises. Returns whether it was emitted."""
    return active().emit(event, scope)
