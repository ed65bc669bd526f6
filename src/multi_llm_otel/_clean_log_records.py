"""Log records whose attributes this library has cleaned already, handed to the SDK as they are.

The SDK's ``Logger.emit`` wraps a record's attributes in a ``BoundedAttributes``, which cleans
every key and value again (most of ``emit``'s own cost, about 10 µs an event), for attributes that
``attributes_and_body`` made plain (text, bool, int64, float, tuples of text) and bounded
already. ``Logger.emit`` also takes a finished ``ReadWriteLogRecord``, which it passes to its
processors as it is. This module builds that record with its attributes set in one step,
whenever the logger's limits would keep every key and value as they are; anything else, and any
logger or SDK not built as expected, goes through ``Logger.emit``'s own cleaning.

The SDK is imported only for a logger that is one of its own, so ``import multi_llm_otel`` stays
free of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from opentelemetry._logs import LogRecord

from multi_llm_otel._cleaned_attributes import kept_as_they_are, made_in_one_step

__all__ = ["CleanSend", "clean_sender"]

# Sends an event record whose attributes are a fresh ``dict`` of the caller's; True when sent.
CleanSend = Callable[[LogRecord], bool]

_SDK_LOGS = "opentelemetry.sdk._logs._internal"
_TEXT_KEYS = frozenset({str})


def clean_sender(logger: object) -> CleanSend | None:
    """A sender of already-clean records for ``logger`` if it is the SDK's own ``Logger`` and
    this SDK builds records as expected; else ``None`` (use ``logger.emit``)."""
    module = sys.modules.get(_SDK_LOGS)
    if module is None or type(logger) is not getattr(module, "Logger", None) or not _sdk_fits():
        return None
    limits = getattr(logger, "_log_record_limits", None)
    if limits is None or not hasattr(logger, "_resource") or not hasattr(logger, "_instrumentation_scope"):
        return None
    return _sender(logger, limits)


def _sender(logger: Any, limits: Any) -> CleanSend:
    from opentelemetry.sdk._logs import ReadWriteLogRecord

    scope = logger._instrumentation_scope
    max_count = limits.max_log_record_attributes
    max_length = limits.max_log_record_attribute_length
    new = object.__new__

    def send(record: LogRecord) -> bool:
        bounded = _bounded(record.attributes, max_count, max_length)
        if bounded is None:
            return False
        record.attributes = bounded
        readwrite = new(ReadWriteLogRecord)
        # The resource is read per record: the SDK replaces it in a forked child.
        readwrite.__dict__.update(
            log_record=record, resource=logger._resource, instrumentation_scope=scope, limits=limits
        )
        # Looked up per record, as ``logger.emit(...)`` would be: it may be wrapped afterwards.
        logger.emit(readwrite)
        return True

    return send


def _bounded(attributes: object, max_count: int | None, max_length: int | None) -> Any:
    """``attributes`` as the SDK's ``BoundedAttributes`` of a log record, when its cleaning would
    keep every key and value as they are; else ``None``.

    It would when there are no more keys than the count limit, every key is non-empty text,
    every value a scalar or a tuple of scalars (cleaning would turn a list into a tuple) and no text
    longer than the length limit. The mapping, a ``dict``, is the caller's own, fresh per record."""
    if type(attributes) is not dict:
        return None
    if max_count is not None and len(attributes) > max_count:
        return None
    if "" in attributes or not _TEXT_KEYS.issuperset(map(type, attributes)):
        return None
    values = attributes.values()
    if not kept_as_they_are(values):
        return None
    if max_length is not None and not _all_within(values, max_length):
        return None
    return made_in_one_step(attributes, max_count, max_length, immutable=False)


def _all_within(values: Any, max_length: int) -> bool:
    for value in values:
        if type(value) is str:
            if len(value) > max_length:
                return False
        elif type(value) is tuple and any(type(v) is str and len(v) > max_length for v in value):
            return False
    return True


_FITS: list[bool] = []


def _sdk_fits() -> bool:
    """Whether this SDK's logger passes a finished record on as it is, and a record built here
    matches, field for field, the one ``Logger.emit`` builds; worked out once per process."""
    if not _FITS:
        _FITS.append(_probe())
    return _FITS[0]


def _probe() -> bool:
    try:
        return _records_match()
    except (AttributeError, ImportError, TypeError, ValueError):
        # An SDK that moved or reshaped what this relies on: its own path serves.
        return False


def _records_match() -> bool:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk._logs import Logger, LoggerProvider, LogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    seen: list[Any] = []

    class _Keep(LogRecordProcessor):
        def on_emit(self, log_record: Any) -> None:
            seen.append(log_record)

        def shutdown(self) -> None:
            """Nothing to release."""

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return True

    provider = LoggerProvider(resource=Resource({}), shutdown_on_exit=False, meter_provider=NoOpMeterProvider())
    provider.add_log_record_processor(_Keep())
    logger = provider.get_logger("multi_llm_otel.probe")
    if type(logger) is not Logger:
        return False
    sample: dict[str, Any] = {"a": "text", "b": 1, "c": 2.5, "d": True, "e": ("x", "y")}
    fields: dict[str, Any] = {"timestamp": 1, "severity_text": "INFO", "body": {"k": "v"}, "event_name": "probe"}
    logger.emit(LogRecord(attributes=dict(sample), **fields))
    send = _sender(logger, logger._log_record_limits)
    mine = dict(sample)
    if not send(LogRecord(attributes=mine, **fields)) or len(seen) != 2:
        return False
    theirs, ours = seen
    their_attrs, our_attrs = theirs.log_record.attributes, ours.log_record.attributes
    return (
        our_attrs._dict is mine
        and type(ours) is type(theirs)
        and vars(ours).keys() == vars(theirs).keys()
        and _fields(ours.log_record) == _fields(theirs.log_record)
        and type(our_attrs) is type(their_attrs)
        and sorted(vars(our_attrs)) == sorted(vars(their_attrs))
        and dict(our_attrs) == dict(their_attrs) == sample
        and (our_attrs.maxlen, our_attrs.max_value_len, our_attrs.dropped, our_attrs._immutable)
        == (their_attrs.maxlen, their_attrs.max_value_len, their_attrs.dropped, their_attrs._immutable)
        and (ours.resource, ours.instrumentation_scope, ours.limits)
        == (theirs.resource, theirs.instrumentation_scope, theirs.limits)
        and ours.dropped_attributes == theirs.dropped_attributes == 0
    )


def _fields(record: object) -> dict[str, Any]:
    """A record's fields but its attributes and the moment it was seen."""
    return {k: v for k, v in vars(record).items() if k not in ("attributes", "observed_timestamp")}
