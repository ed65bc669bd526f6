"""Pure functions from a call's record to what it exports: its four event types, its span's
attributes and its metric attributes. No OpenTelemetry here, so each can be tested alone."""

from __future__ import annotations

from typing import Any, Final

from multi_llm_otel import _attribute_names as names
from multi_llm_otel import event_types
from multi_llm_otel._call_record import CallRecord
from multi_llm_otel._content_capture import bounded
from multi_llm_otel._events import BusinessEvent
from multi_llm_otel.providers import ErrorInfo, ResponseInfo
from multi_llm_otel.providers._base import error_message

# The length a string from a server (a model name, an id, an error code) is cut to when the
# attribute value limit (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) sets none: it becomes a span
# name, metric attributes and log body values, all kept until exported (metric attributes for
# the life of the process).
SERVER_STRING_LIMIT = 256

# Request metadata beyond the sampling parameters, read from ``RequestInfo`` when set.
_REQUEST_EXTRAS = ("tool_count", "response_format")


def cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text is not None and len(text) > limit else text


def bound_strings(info: ResponseInfo, error: ErrorInfo | None, limit: int) -> None:
    """Cut, in place, every string the server chose to ``limit`` characters."""
    info.response_model = cut(info.response_model, limit)
    info.response_id = cut(info.response_id, limit)
    for reason in info.finish_reasons:
        if len(reason) > limit:
            info.finish_reasons = [r[:limit] for r in info.finish_reasons]
            break
    if error is not None:
        error.error_type = cut(error.error_type, limit) or error.error_type
        error.error_code = cut(error.error_code, limit)


def _event(record: CallRecord, event_type: str) -> BusinessEvent:
    event = BusinessEvent.new(event_type)
    if record.provider:
        event.metadata["provider"] = record.provider
    if record.model:
        event.metadata["model"] = record.model
    return event


def request_event(record: CallRecord) -> BusinessEvent:
    req = record.request
    event = _event(record, event_types.LLM_REQUEST)
    meta = event.metadata
    meta["operation"] = record.operation
    meta["stream"] = req.stream
    for key, _ in names.REQUEST_PARAMETERS:
        value = getattr(req, key)
        if value is not None:
            meta[key] = value
    for key in _REQUEST_EXTRAS:
        value = getattr(req, key)
        if value is not None:
            meta[key] = value
    if record.capture_content and req.messages is not None:
        meta["messages"] = bounded(req.messages)
    return event


def error_event(record: CallRecord, error: ErrorInfo) -> BusinessEvent:
    event = _event(record, event_types.LLM_ERROR)
    meta = event.metadata
    meta["error_type"] = error.error_type
    if error.status_code is not None:
        meta["status_code"] = error.status_code
    if error.error_code is not None:
        meta["error_code"] = error.error_code
    message = error_message(error.message)
    if message:
        meta["message"] = message
    return event


# Metadata keys named as the multi-llm crate names the same value (its Anthropic provider).
_CRATE_KEYS: Final = {"cache_write_tokens": "cache_creation_tokens"}


def response_event(
    record: CallRecord, info: ResponseInfo, duration: float, completed: bool, error: ErrorInfo | None
) -> BusinessEvent | None:
    """``None`` for a call that failed before any response arrived: there is nothing to report."""
    if error is not None and not record.stream and info.response_id is None and info.input_tokens is None:
        return None
    event = _event(record, event_types.LLM_RESPONSE)
    meta = event.metadata
    for key, _ in names.RESPONSE_VALUES:
        value = getattr(info, key)
        if value is not None:
            meta[_CRATE_KEYS.get(key, key)] = value
    if info.finish_reasons:
        meta["finish_reasons"] = list(info.finish_reasons)
    meta["duration_ms"] = round(duration * 1000, 3)
    if record.stream:
        meta["stream"] = True
        meta["chunk_count"] = record.chunks
        meta["completed"] = completed
        first = record.time_to_first_chunk()
        if first is not None:
            meta["time_to_first_chunk_ms"] = round(first * 1000, 3)
    if record.app_cache:
        meta["cache"] = "application"
    if record.capture_content and info.output_text is not None:
        meta["output_text"] = bounded(info.output_text)
    return event


def provider_cache_event(record: CallRecord, info: ResponseInfo) -> BusinessEvent | None:
    """``cache_hit`` / ``cache_miss`` from the response's usage; ``None`` when it says nothing,
    and when the application's own cache answered (that says nothing about the provider's)."""
    if record.app_cache is not None:
        return None
    read = info.cache_read_tokens
    if read is not None and read > 0:
        event = _event(record, event_types.CACHE_HIT)
    elif info.caching_reported:
        event = _event(record, event_types.CACHE_MISS)
    else:
        return None
    meta = event.metadata
    meta["cache"] = "provider"
    meta["cache_read_tokens"] = read or 0
    if info.cache_write_tokens is not None:
        meta["cache_creation_tokens"] = info.cache_write_tokens
    if info.input_tokens is not None:
        meta["input_tokens"] = info.input_tokens
    return event


def application_cache_event(record: CallRecord, hit: bool, key: str | None) -> BusinessEvent:
    event = _event(record, event_types.CACHE_HIT if hit else event_types.CACHE_MISS)
    event.metadata["cache"] = "application"
    if key is not None:
        event.metadata["cache_key"] = key
    return event


def span_name(record: CallRecord) -> str:
    return f"{record.operation} {record.model}" if record.model else record.operation


def _call_identity(record: CallRecord) -> dict[str, Any]:
    """What names the call on its span and on every metric point: operation, provider, model, server."""
    attrs: dict[str, Any] = {names.OPERATION_NAME: record.operation}
    if record.provider:
        attrs[names.PROVIDER_NAME] = record.provider
    if record.model:
        attrs[names.REQUEST_MODEL] = record.model
    if record.server_address:
        attrs[names.SERVER_ADDRESS] = record.server_address
    if record.server_port:
        attrs[names.SERVER_PORT] = record.server_port
    return attrs


def span_start_attributes(record: CallRecord) -> dict[str, Any]:
    """The span's attributes known at the start, scope attributes aside."""
    attrs = _call_identity(record)
    req = record.request
    for key, attribute in names.REQUEST_PARAMETERS:
        value = getattr(req, key)
        if value is not None:
            attrs[attribute] = value
    if req.stream:
        attrs[names.REQUEST_STREAM] = True
    return attrs


def span_end_attributes(
    record: CallRecord, info: ResponseInfo, completed: bool, error: ErrorInfo | None
) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, attribute in names.RESPONSE_VALUES:
        value = getattr(info, key)
        if value is not None:
            attrs[attribute] = value
    if info.finish_reasons:
        attrs[names.RESPONSE_FINISH_REASONS] = tuple(info.finish_reasons)
    if record.stream:
        attrs[names.STREAM_CHUNKS] = record.chunks
        attrs[names.STREAM_COMPLETED] = completed
        first = record.time_to_first_chunk()
        if first is not None:
            attrs[names.RESPONSE_TIME_TO_FIRST_CHUNK] = first
    if error is not None:
        attrs[names.ERROR_TYPE] = error.error_type
    return attrs


def metric_attributes(record: CallRecord, info: ResponseInfo, error: ErrorInfo | None) -> dict[str, Any]:
    """The attributes every metric point of the call carries (``gen_ai.token.type`` aside)."""
    attrs = _call_identity(record)
    attrs[names.EVENT_SCOPE] = record.scope.kind
    if info.response_model:
        attrs[names.RESPONSE_MODEL] = info.response_model
    if error is not None:
        attrs[names.ERROR_TYPE] = error.error_type
    return attrs
