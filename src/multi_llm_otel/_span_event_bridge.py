"""The event to span event bridge of the OpenTelemetry Logs SDK specification, for Python.

Events are log records with an event name (OTEP 4430 deprecates the Span Event API). Backends
that show only traces (Jaeger) still want them on their span: this ``LogRecordProcessor`` adds
one span event per event record to the span the record belongs to. Add it to a
``LoggerProvider`` next to the exporting processors::

    logger_provider.add_log_record_processor(EventToSpanEventBridge())

It bridges a record if and only if it has a non-empty event name and valid trace and span ids,
and its resolved context (the context the record was emitted with, else the current one)
holds a recording span with those same ids. The span event is named by the event name, stamped
with the record's timestamp (else its observed timestamp) and carries a copy of the record's
attributes. It never raises into, and never blocks, the record's own pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import Event
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.trace import INVALID_SPAN_ID, INVALID_TRACE_ID

from multi_llm_otel import _diagnostics
from multi_llm_otel._cleaned_attributes import kept_as_they_are, made_in_one_step
from multi_llm_otel._guard import never_raise

if TYPE_CHECKING:
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs import ReadWriteLogRecord

__all__ = ["EventToSpanEventBridge", "add_bridge"]

_SCOPE_NAME = "multi_llm_otel"


class EventToSpanEventBridge(LogRecordProcessor):
    """Adds every event log record to its recording span as a span event (see the module)."""

    # Whether this library's events that find no span are counted (``span_event_without_span``).
    _counts_lone_events = True

    @never_raise("span_event_bridge_failed")
    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        name = record.event_name
        if not name:
            return
        if not _bridge(record, name) and self._counts_lone_events:
            scope = log_record.instrumentation_scope
            if scope is not None and scope.name == _SCOPE_NAME:
                # One of this library's events found no span to go on: an expected outcome
                # (an event emitted outside any call) that deserves a number, not a warning.
                _diagnostics.count("span_event_without_span")

    def shutdown(self) -> None:
        """Nothing to release: the bridge holds no state."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered: span events are added when the record is emitted."""
        return True


def _bridge(record: LogRecord, name: str) -> bool:
    trace_id = record.trace_id
    span_id = record.span_id
    if not trace_id or trace_id == INVALID_TRACE_ID or not span_id or span_id == INVALID_SPAN_ID:
        return False
    context = getattr(record, "context", None)
    span = trace.get_current_span(context if context is not None else otel_context.get_current())
    if not span.is_recording():
        return False
    span_context = span.get_span_context()
    if span_context.trace_id != trace_id or span_context.span_id != span_id:
        return False
    timestamp = record.timestamp if record.timestamp is not None else record.observed_timestamp
    attributes = record.attributes
    if type(span) in _SDK_SPANS and _REUSE_CLEANED:
        sdk_span = cast(SdkSpan, span)
        copied = _cleaned_copy(sdk_span, attributes)
        if copied is not None:
            sdk_span._add_event(Event(name=name, attributes=copied, timestamp=timestamp))
            return True
    # add_event copies the attributes into the span event's own bounded mapping. The SDK's
    # bounded mapping iterates slowly through the Mapping protocol (a lock and a look-up
    # per key); its plain dict, where it has one, gives the same items at dict speed.
    plain = getattr(attributes, "_dict", None)
    span.add_event(name, plain if type(plain) is dict else attributes, timestamp)
    return True


# The SDK's own span classes (its tracer makes ``_Span``s), whose ``add_event`` is known; a
# subclass may change it and goes through it.
_SDK_SPANS = frozenset(c for c in (SdkSpan, getattr(sdk_trace, "_Span", None)) if isinstance(c, type))


def _cleaned_copy(span: SdkSpan, attributes: object) -> BoundedAttributes | None:
    """The span event's attributes made from the record's without cleaning them again, when
    that yields exactly what ``Span.add_event`` would make; else ``None``.

    ``add_event`` cleans every value again (most of a bridged event's cost), although the
    log record's attributes are cleaned already. Cleaning is idempotent on what it produced,
    so a copy of the record's mapping is the same result when the span's limits take every
    key and every value as it is: no more keys than the event count limit, and values cut at
    least as short as the span's length limit. Only immutable values (scalars and tuples of
    scalars) are shared between the two copies.
    """
    limits = getattr(span, "_limits", None)
    if type(attributes) is not BoundedAttributes or limits is None:
        return None
    items = attributes._dict
    max_count = limits.max_event_attributes
    if max_count is not None and len(items) > max_count:
        return None
    max_length = limits.max_attribute_length
    if max_length is not None and (attributes.max_value_len is None or attributes.max_value_len > max_length):
        return None
    if not kept_as_they_are(items.values()):
        return None
    return made_in_one_step(dict(items), max_count, max_length, immutable=True)


def _reuse_works() -> bool:
    """Whether this SDK's ``BoundedAttributes`` and ``Span`` are still built as ``_cleaned_copy``
    expects; if not, every event goes through ``add_event``."""
    sample: dict[str, Any] = {"a": "text", "b": 1, "c": 2.5, "d": True, "e": ("x", "y")}
    try:
        made = BoundedAttributes(8, {**sample, "e": ["x", "y"]}, immutable=True, max_value_len=4)
        copied = made_in_one_step(dict(made._dict), 8, 4, immutable=True)
        if sorted(vars(copied)) != sorted(vars(made)):
            return False
        try:
            copied["f"] = 1
        except TypeError:
            frozen = True
        else:
            frozen = False
        return (
            frozen
            and dict(made) == dict(copied) == sample
            and len(copied) == len(sample)
            and copied.dropped == made.dropped == 0
            and (copied.maxlen, copied.max_value_len) == (made.maxlen, made.max_value_len)
            and callable(getattr(SdkSpan, "_add_event", None))
        )
    except (AttributeError, TypeError, ValueError):
        return False


_REUSE_CLEANED = _reuse_works()


def add_bridge(provider: Any) -> None:
    """The bridge on the logger provider ``configure()`` uses: the one it set up, or the
    application's own (an SDK provider), unless the application added one already."""
    add = getattr(provider, "add_log_record_processor", None)
    if add is None:
        return
    multi = getattr(provider, "_multi_log_record_processor", None)
    if any(isinstance(p, EventToSpanEventBridge) for p in getattr(multi, "_log_record_processors", ())):
        return
    add(EventToSpanEventBridge())
