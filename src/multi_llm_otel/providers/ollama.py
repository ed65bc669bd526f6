"""The ``ollama`` SDK and Ollama's native JSON (``/api/chat``, ``/api/generate``; NDJSON streams).

Ollama reports no cache information and no response id. Its counts sit on the final object
(``done: true``) of a stream; ``prompt_eval_count`` is sometimes left out, and then stays ``None``.
A failure after HTTP 200 is a line ``{"error": "<text>"}``, a string rather than an object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from multi_llm_otel.providers._base import (
    ErrorInfo,
    Extractor,
    RequestInfo,
    ResponseInfo,
    as_float,
    as_int,
    as_str,
    bound_owner,
    error_message,
    generator_file,
    get_field,
    get_path,
    inband_error,
    item_count,
    lineage,
    read_stream_items,
)

_SDK = "ollama"
# ``Client.chat(stream=True)`` returns a plain generator defined inside ``Client._request``
# (an async generator for ``AsyncClient``): it is known by its name and the file it comes from.
_STREAM_QUALNAMES = frozenset({"Client._request.<locals>.inner", "AsyncClient._request.<locals>.inner"})
_SDK_FILE = f"{os.sep}ollama{os.sep}_client.py"


def _is_ollama_json(obj: Mapping[Any, Any]) -> bool:
    if "done" in obj:
        return "message" in obj or "response" in obj or "created_at" in obj
    # A bare error line: OpenAI-shaped servers nest theirs in an object.
    return isinstance(obj.get("error"), str) and len(obj) == 1


def ollama_info(obj: object) -> ResponseInfo:
    """A ``ChatResponse`` / ``GenerateResponse`` or its JSON; a streamed one's final object."""
    info = ResponseInfo(
        response_model=as_str(get_field(obj, "model")),
        input_tokens=as_int(get_field(obj, "prompt_eval_count")),
        output_tokens=as_int(get_field(obj, "eval_count")),
    )
    reason = as_str(get_field(obj, "done_reason"))
    if reason:
        info.finish_reasons = [reason]
    message = get_field(obj, "message")
    info.output_text = (
        as_str(get_field(message, "content")) if message is not None else as_str(get_field(obj, "response"))
    )
    info.error = inband_error(get_field(obj, "error"))
    return info


class OllamaStreamAccumulator:
    """``ChatResponse`` / ``GenerateResponse`` chunks (or their NDJSON objects): text deltas
    concatenated, counts and ``done_reason`` from the chunk marked ``done``."""

    def __init__(self) -> None:
        self._model: str | None = None
        self._text: list[str] = []
        self._final: object = None
        self._error: ErrorInfo | None = None

    def add(self, chunk: object) -> None:
        error = get_field(chunk, "error")
        if error is not None:
            self._error = inband_error(error)
            return
        self._model = self._model or as_str(get_field(chunk, "model"))
        message = get_field(chunk, "message")
        text = as_str(get_field(message, "content")) if message is not None else as_str(get_field(chunk, "response"))
        if text:
            self._text.append(text)
        if get_field(chunk, "done") is True:
            self._final = chunk

    def result(self) -> ResponseInfo:
        info = ollama_info(self._final) if self._final is not None else ResponseInfo()
        info.response_model = info.response_model or self._model
        info.output_text = "".join(self._text) if self._text else None
        info.error = self._error or info.error
        return info


class OllamaExtractor(Extractor):
    name = "ollama"
    decides_by_class = True

    def owns_client(self, obj: object) -> bool:
        return _SDK in lineage(type(bound_owner(obj)))

    def base_url(self, obj: object) -> str | None:
        # ``Client`` keeps its ``httpx.Client`` in ``_client``; the host is that client's base URL.
        url = get_path(bound_owner(obj), "_client", "base_url")
        return str(url) if url is not None else None

    def owns_response(self, obj: object) -> bool:
        if isinstance(obj, Mapping):
            return _is_ollama_json(obj)
        if isinstance(obj, (list, tuple)):
            first = obj[0] if obj else None
            if isinstance(first, Mapping):
                return _is_ollama_json(first)
            return first is not None and _SDK in lineage(type(first))
        return f"{_SDK}.SubscriptableBaseModel" in lineage(type(obj))

    def response(self, obj: object) -> ResponseInfo:
        if isinstance(obj, (list, tuple)):
            return read_stream_items(OllamaStreamAccumulator(), obj)
        return ollama_info(obj)

    def owns_stream(self, obj: object) -> bool:
        filename = generator_file(obj, _STREAM_QUALNAMES)
        return filename is not None and filename.endswith(_SDK_FILE)

    def accumulator(self, stream: object) -> OllamaStreamAccumulator:
        return OllamaStreamAccumulator()

    def owns_error(self, exc: BaseException) -> bool:
        return _SDK in lineage(type(exc))

    def error(self, exc: BaseException) -> ErrorInfo:
        # ``ResponseError`` has ``.error`` (the server's text) and ``.status_code``, -1 when the
        # error came as a line of a 200 stream.
        return ErrorInfo(
            error_type=type(exc).__name__,
            status_code=as_int(getattr(exc, "status_code", None)),
            message=error_message(getattr(exc, "error", None)) or error_message(str(exc)),
        )

    def request(self, kwargs: Mapping[str, object]) -> RequestInfo:
        options = kwargs.get("options")
        fmt = kwargs.get("format")
        return RequestInfo(
            model=as_str(kwargs.get("model")),
            stream=kwargs.get("stream") is True,
            max_tokens=as_int(get_field(options, "num_predict")) if options is not None else None,
            temperature=as_float(get_field(options, "temperature")) if options is not None else None,
            top_p=as_float(get_field(options, "top_p")) if options is not None else None,
            tool_count=item_count(kwargs.get("tools")),
            # ``format`` is "json" or a JSON schema given as an object.
            response_format="json_schema" if isinstance(fmt, Mapping) else as_str(fmt) or None,
            messages=kwargs.get("messages", kwargs.get("prompt")),
            system_instructions=kwargs.get("system"),
        )


EXTRACTOR = OllamaExtractor()
