"""The ``anthropic`` SDK and Anthropic Messages JSON (also served by llama.cpp and LM Studio).

Anthropic reports ``input_tokens`` *without* the cached prefix; the GenAI conventions count it
in, so cache reads and cache writes are added back. In a stream, ``message_delta.usage`` holds
running totals, not increments: the SDK's ``accumulate_event`` overwrites with them, and the
JSON path here does the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multi_llm_otel.providers._base import (
    ErrorInfo,
    Extractor,
    RequestInfo,
    ResponseInfo,
    as_float,
    as_int,
    as_list,
    as_str,
    bound_owner,
    entered_stream,
    error_message,
    field_reader,
    get_field,
    get_path,
    http_base_url,
    inband_error,
    item_count,
    lineage,
    provider_code,
    pydantic_fields,
    read_stream_items,
)

_SDK = "anthropic"
_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    }
)
_STREAM_ONLY = _EVENTS - {"error"}
# The events that change the message; the rest (ping, message_stop, the helpers' derived
# ``text``/``citation`` events, types added after this was written) are skipped.
_ACCUMULATED = frozenset({"message_start", "content_block_start", "content_block_delta", "message_delta"})
_HELPERS = frozenset(
    {
        "anthropic.MessageStream",
        "anthropic.AsyncMessageStream",
        "anthropic.BetaMessageStream",
        "anthropic.BetaAsyncMessageStream",
    }
)
_MANAGERS = frozenset(
    {
        "anthropic.MessageStreamManager",
        "anthropic.AsyncMessageStreamManager",
        "anthropic.BetaMessageStreamManager",
        "anthropic.BetaAsyncMessageStreamManager",
    }
)
_STREAMS = frozenset({"anthropic.Stream", "anthropic.AsyncStream"}) | _HELPERS | _MANAGERS


def _read_usage(usage: object, info: ResponseInfo) -> None:
    if usage is None:
        return
    get = field_reader(usage)
    uncached = as_int(get("input_tokens"))
    read = as_int(get("cache_read_input_tokens"))
    write = as_int(get("cache_creation_input_tokens"))
    if write is None:
        # Only the per-TTL split given: its sum is the write.
        split = get("cache_creation")
        if split is not None:
            ttl_5m = as_int(get_field(split, "ephemeral_5m_input_tokens"))
            ttl_1h = as_int(get_field(split, "ephemeral_1h_input_tokens"))
            if ttl_5m is not None or ttl_1h is not None:
                write = (ttl_5m or 0) + (ttl_1h or 0)
    info.cache_read_tokens = read
    info.cache_write_tokens = write
    info.caching_reported = read is not None or write is not None
    if uncached is not None:
        info.input_tokens = uncached + (read or 0) + (write or 0)
    info.output_tokens = as_int(get("output_tokens"))
    info.reasoning_tokens = as_int(get_field(get("output_tokens_details"), "thinking_tokens"))


def message_info(obj: object) -> ResponseInfo:
    """A ``Message`` (or an error body), SDK object or JSON."""
    get = field_reader(obj)
    info = ResponseInfo(response_model=as_str(get("model")), response_id=as_str(get("id")))
    _read_usage(get("usage"), info)
    stop = as_str(get("stop_reason"))
    if stop:
        info.finish_reasons = [stop]
    texts = [
        text
        for block in as_list(get("content"))
        if get_field(block, "type") == "text" and (text := as_str(get_field(block, "text"))) is not None
    ]
    info.output_text = "".join(texts) if texts else None
    if get("type") == "error":
        info.error = inband_error(get("error"))
    return info


def _helper_snapshot(helper: object) -> object:
    """A MessageStream's own accumulated message, or ``None`` before its ``message_start``."""
    if _HELPERS.isdisjoint(lineage(type(helper))):
        return None
    try:
        return get_field(helper, "current_message_snapshot")
    except AssertionError:  # the SDK asserts a snapshot exists
        return None


class AnthropicStreamAccumulator:
    """Raw Messages stream events (SDK objects or JSON), or a ``messages.stream()`` helper's events.

    Only what the telemetry needs is read, from SDK objects and dicts alike: ``message_start``
    (id, model, input and cache counts), ``message_delta`` (stop reason and the usage, whose
    ``output_tokens`` is a running total, so a later value replaces an earlier one) and text
    deltas. The SDK's ``accumulate_event`` rebuilds a pydantic snapshot per event: it cost two
    thirds of a streamed call's instrumentation, and its signature changes between SDK versions.
    A helper stream is read from its own snapshot instead. A stream cut after ``message_start``
    reports that event's counts: the input is final there, the output only a starting value.
    """

    def __init__(self, source: object = None) -> None:
        self._source = source
        self._message: dict[str, Any] | None = None
        self._usage: dict[Any, Any] = {}
        self._text: list[str] = []
        self._text_wanted = True
        self._error: ErrorInfo | None = None

    def skip_text(self) -> None:
        self._text_wanted = False

    def add(self, event: object) -> None:
        # Text deltas are nearly every event of a stream: an SDK event's fields are read from
        # its ``__dict__`` directly (what ``get_field`` finds first, without the calls).
        fields = getattr(event, "__dict__", None)
        if type(fields) is dict and fields.get("type") == "content_block_delta":
            if not self._text_wanted:
                return
            delta = fields.get("delta")
            parts = getattr(delta, "__dict__", None)
            text = parts["text"] if type(parts) is dict and "text" in parts else get_field(delta, "text")
            if text and isinstance(text, str):
                self._text.append(text)
            return
        kind = get_field(event, "type")
        if kind == "error":
            self._error = inband_error(get_field(event, "error"))
        elif kind == "message_start":
            message = get_field(event, "message")
            if message is not None:
                self._message = {"id": get_field(message, "id"), "model": get_field(message, "model")}
                self._merge_usage(get_field(message, "usage"))
        elif kind == "message_delta":
            if self._message is None:
                self._message = {}
            self._message["stop_reason"] = get_path(event, "delta", "stop_reason")
            self._merge_usage(get_field(event, "usage"))
        elif kind == "content_block_delta" and self._text_wanted:
            text = as_str(get_path(event, "delta", "text"))
            if text:
                self._text.append(text)

    def _merge_usage(self, usage: object) -> None:
        # Running totals: a later value replaces an earlier one; an absent or null one does not.
        # The SDK's usage object first: the ``Mapping`` ABC's test of one is slow.
        fields: object = pydantic_fields(usage)
        if fields is None:
            fields = usage if isinstance(usage, Mapping) else getattr(usage, "__dict__", None)
        if isinstance(fields, Mapping):
            self._usage.update((key, value) for key, value in fields.items() if value is not None)

    def result(self) -> ResponseInfo:
        source = self._source
        helper = (
            entered_stream(source) if source is not None and not _MANAGERS.isdisjoint(lineage(type(source))) else source
        )
        snapshot = _helper_snapshot(helper)
        if snapshot is not None:
            info = message_info(snapshot)
        elif self._message is not None or self._text:
            message = dict(self._message or {})
            message["usage"] = self._usage or None
            message["content"] = [{"type": "text", "text": "".join(self._text)}] if self._text else []
            info = message_info(message)
        else:
            info = ResponseInfo()
        info.error = self._error or info.error
        return info


def _response_format(kwargs: Mapping[str, object]) -> str | None:
    # ``messages.parse(output_format=Model)`` sends a JSON schema built from the type.
    if isinstance(kwargs.get("output_format"), type):
        return "json_schema"
    return as_str(get_path(kwargs.get("output_config"), "format", "type"))


class AnthropicExtractor(Extractor):
    name = "anthropic"
    decides_by_class = True

    def owns_client(self, obj: object) -> bool:
        return _SDK in lineage(type(bound_owner(obj)))

    def base_url(self, obj: object) -> str | None:
        return http_base_url(obj)

    def owns_response(self, obj: object) -> bool:
        if isinstance(obj, Mapping):
            kind = obj.get("type")
            return (
                kind == "message" or kind in _STREAM_ONLY or (kind == "error" and isinstance(obj.get("error"), Mapping))
            )
        if isinstance(obj, (list, tuple)):
            first = obj[0] if obj else None
            if isinstance(first, Mapping):
                return first.get("type") in _EVENTS
            return first is not None and f"{_SDK}.BaseModel" in lineage(type(first))
        return f"{_SDK}.BaseModel" in lineage(type(obj))

    def response(self, obj: object) -> ResponseInfo:
        # A list of events, or one event on its own (what a generator function yields first).
        if isinstance(obj, (list, tuple)) or get_field(obj, "type") in _STREAM_ONLY:
            return read_stream_items(AnthropicStreamAccumulator(), obj)
        return message_info(obj)

    def owns_stream(self, obj: object) -> bool:
        return not _STREAMS.isdisjoint(lineage(type(obj)))

    def accumulator(self, stream: object) -> AnthropicStreamAccumulator:
        return AnthropicStreamAccumulator(stream)

    def owns_error(self, exc: BaseException) -> bool:
        return _SDK in lineage(type(exc))

    def error(self, exc: BaseException) -> ErrorInfo:
        # ``.body`` is the whole ``{"type": "error", "error": {"type", "message"}}``; a mid-stream
        # ``event: error`` arrives the same way, raised with the stream's HTTP status (200).
        body = getattr(exc, "body", None)
        err = get_field(body, "error") if isinstance(body, Mapping) else None
        return ErrorInfo(
            error_type=type(exc).__name__,
            status_code=as_int(getattr(exc, "status_code", None)),
            error_code=provider_code(err) if isinstance(err, Mapping) else None,
            message=error_message(get_field(err, "message") if isinstance(err, Mapping) else body)
            or error_message(getattr(exc, "message", None))
            or error_message(str(exc)),
        )

    def request(self, kwargs: Mapping[str, object]) -> RequestInfo:
        return RequestInfo(
            model=as_str(kwargs.get("model")),
            stream=kwargs.get("stream") is True,
            max_tokens=as_int(kwargs.get("max_tokens")),
            temperature=as_float(kwargs.get("temperature")),
            top_p=as_float(kwargs.get("top_p")),
            tool_count=item_count(kwargs.get("tools")),
            response_format=_response_format(kwargs),
            messages=kwargs.get("messages"),
            system_instructions=kwargs.get("system"),
        )


EXTRACTOR = AnthropicExtractor()
