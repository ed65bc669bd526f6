"""The ``lmstudio`` SDK and LM Studio's native REST JSON.

Three shapes carry LM Studio's ``stats``: the SDK's ``PredictionResult`` (``stats`` with
``prompt_tokens_count``/``predicted_tokens_count``/``stop_reason``), the ``/api/v1/chat`` result
(``stats.input_tokens``/``total_output_tokens``/``reasoning_output_tokens``, no finish reason)
and the legacy ``/api/v0`` completion (OpenAI-shaped, ``stats`` added). LM Studio reports no
cache information. Its OpenAI- and Anthropic-compatible routes are read by those extractors.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    error_message,
    first_int,
    get_field,
    get_path,
    inband_error,
    item_count,
    lineage,
    read_stream_items,
)
from multi_llm_otel.providers._openai_shapes import chat_info

_SDK = "lmstudio"
# Events of an ``/api/v1/chat`` SSE stream; ``chat.end`` carries the whole result.
_REST_EVENTS = frozenset(
    {
        "chat.start",
        "model_load.start",
        "model_load.progress",
        "model_load.end",
        "prompt_processing.start",
        "prompt_processing.progress",
        "prompt_processing.end",
        "reasoning.start",
        "reasoning.delta",
        "reasoning.end",
        "tool_call.start",
        "tool_call.arguments",
        "tool_call.success",
        "tool_call.failure",
        "message.start",
        "message.delta",
        "message.end",
        "chat.end",
    }
)


def rest_info(obj: object) -> ResponseInfo:
    """An ``/api/v1/chat`` result: the response body, or ``chat.end``'s ``result``."""
    stats = get_field(obj, "stats")
    texts = [
        text
        for item in as_list(get_field(obj, "output"))
        if get_field(item, "type") == "message" and (text := as_str(get_field(item, "content"))) is not None
    ]
    return ResponseInfo(
        response_model=as_str(get_field(obj, "model_instance_id")),
        response_id=as_str(get_field(obj, "response_id")),
        input_tokens=as_int(get_field(stats, "input_tokens")),
        output_tokens=as_int(get_field(stats, "total_output_tokens")),
        reasoning_tokens=as_int(get_field(stats, "reasoning_output_tokens")),
        output_text="".join(texts) if texts else None,
        error=inband_error(get_field(obj, "error")),
    )


def _sdk_info(stats: object, model_info: object) -> ResponseInfo:
    reason = as_str(get_field(stats, "stop_reason"))
    return ResponseInfo(
        response_model=as_str(get_field(model_info, "model_key")),
        input_tokens=as_int(get_field(stats, "prompt_tokens_count")),
        output_tokens=as_int(get_field(stats, "predicted_tokens_count")),
        finish_reasons=[reason] if reason else [],
    )


def prediction_info(obj: object) -> ResponseInfo:
    """The SDK's ``PredictionResult``: ``stop_reason`` as LM Studio writes it (``eosFound``...)."""
    info = _sdk_info(get_field(obj, "stats"), get_field(obj, "model_info"))
    info.output_text = as_str(get_field(obj, "content"))
    return info


_SDK_ITEMS = frozenset({f"{_SDK}.PredictionResult", f"{_SDK}.LlmPredictionFragment"})


def _is_stream_item(obj: object) -> bool:
    """One SSE event or SDK fragment (what a generator function yields), not a whole result."""
    if isinstance(obj, Mapping):
        return obj.get("type") in _REST_EVENTS
    return f"{_SDK}.LlmPredictionFragment" in lineage(type(obj))


class LMStudioStreamAccumulator:
    """The SDK's prediction stream (``LlmPredictionFragment`` items) or ``/api/v1/chat`` events."""

    def __init__(self, stream: object = None) -> None:
        self._stream = stream
        self._text: list[str] = []
        self._model: str | None = None
        self._final: object = None
        self._error: ErrorInfo | None = None

    def add(self, chunk: object) -> None:
        if not isinstance(chunk, Mapping):
            text = as_str(get_field(chunk, "content"))
            if text:
                self._text.append(text)
            return
        kind = chunk.get("type")
        if kind == "message.delta":
            text = as_str(chunk.get("content"))
            if text:
                self._text.append(text)
        elif kind == "chat.start":
            self._model = as_str(chunk.get("model_instance_id"))
        elif kind == "chat.end":
            self._final = chunk.get("result")
        elif kind == "error":
            self._error = inband_error(chunk.get("error"))

    def result(self) -> ResponseInfo:
        if self._final is not None:
            info = rest_info(self._final)
        else:
            # The SDK stream's ``stats`` and ``model_info`` stay ``None`` until it has finished.
            stats = get_field(self._stream, "stats") if self._stream is not None else None
            model_info = get_field(self._stream, "model_info") if self._stream is not None else None
            info = _sdk_info(stats, model_info) if stats is not None else ResponseInfo()
            info.response_model = info.response_model or self._model
        if self._text and not info.output_text:
            info.output_text = "".join(self._text)
        info.error = self._error or info.error
        return info


def _config_value(config: object, *names: str) -> object:
    # The SDK takes its config as a dict of camelCase keys or a struct of snake_case attributes.
    if config is None:
        return None
    return next((value for name in names if (value := get_field(config, name)) is not None), None)


_OPENAI_FORMATS = frozenset({"json_schema", "json_object", "text"})


def _response_format(fmt: object) -> str | None:
    # The v0 REST route takes OpenAI's ``{"type": "json_schema", ...}``; the SDK takes the JSON
    # schema itself (a dict whose ``type`` is the schema's, e.g. "object") or a model class.
    if fmt is None:
        return None
    kind = get_field(fmt, "type") if isinstance(fmt, Mapping) else None
    return kind if isinstance(kind, str) and kind in _OPENAI_FORMATS else "json_schema"


class LMStudioExtractor(Extractor):
    name = "lmstudio"
    decides_by_class = True

    def owns_client(self, obj: object) -> bool:
        return _SDK in lineage(type(bound_owner(obj)))

    def base_url(self, obj: object) -> str | None:
        # ``Client`` knows its "host:port" once resolved; a model handle reaches it through its session.
        target = bound_owner(obj)
        host = get_field(target, "_api_host")
        if host is None:
            host = get_path(target, "_session", "_client", "_api_host")
        return f"ws://{host}" if isinstance(host, str) and host else None

    def owns_response(self, obj: object) -> bool:
        if isinstance(obj, Mapping):
            return "stats" in obj or obj.get("type") in _REST_EVENTS
        if isinstance(obj, (list, tuple)):
            first = obj[0] if obj else None
            return isinstance(first, Mapping) and first.get("type") in _REST_EVENTS
        return not _SDK_ITEMS.isdisjoint(lineage(type(obj)))

    def response(self, obj: object) -> ResponseInfo:
        if isinstance(obj, (list, tuple)) or _is_stream_item(obj):
            return read_stream_items(LMStudioStreamAccumulator(), obj)
        if isinstance(obj, Mapping):
            # ``/api/v0`` is an OpenAI chat completion with ``stats``; ``/api/v1/chat`` has ``output``.
            return chat_info(obj) if "choices" in obj else rest_info(obj)
        return prediction_info(obj)

    def owns_stream(self, obj: object) -> bool:
        return f"{_SDK}.PredictionStreamBase" in lineage(type(obj))

    def accumulator(self, stream: object) -> LMStudioStreamAccumulator:
        return LMStudioStreamAccumulator(stream)

    def owns_error(self, exc: BaseException) -> bool:
        return _SDK in lineage(type(exc))

    def error(self, exc: BaseException) -> ErrorInfo:
        # Server errors come over the websocket with a structured ``server_error``; its
        # ``displayData.code`` (``generic.noModelMatchingQuery``) is the closest thing to a code.
        server_error = getattr(exc, "server_error", None)
        return ErrorInfo(
            error_type=type(exc).__name__,
            error_code=as_str(get_path(server_error, "display_data", "code")),
            message=error_message(get_field(server_error, "title")) or error_message(str(exc)),
        )

    def request(self, kwargs: Mapping[str, object]) -> RequestInfo:
        config = kwargs.get("config")
        max_tokens = as_int(_config_value(config, "maxTokens", "max_tokens"))
        temperature = as_float(_config_value(config, "temperature"))
        top_p = as_float(_config_value(config, "topPSampling", "top_p_sampling"))
        messages = next(
            (value for key in ("history", "input", "messages") if (value := kwargs.get(key)) is not None), None
        )
        return RequestInfo(
            model=as_str(kwargs.get("model")),
            stream=kwargs.get("stream") is True,
            max_tokens=max_tokens if max_tokens is not None else first_int(kwargs, "max_output_tokens", "max_tokens"),
            temperature=temperature if temperature is not None else as_float(kwargs.get("temperature")),
            top_p=top_p if top_p is not None else as_float(kwargs.get("top_p")),
            tool_count=item_count(kwargs.get("tools")),
            response_format=_response_format(kwargs.get("response_format")),
            messages=messages,
            system_instructions=kwargs.get("system_prompt"),
        )


EXTRACTOR = LMStudioExtractor()
