"""The ``openai`` SDK and OpenAI-shaped JSON: Chat Completions, legacy Completions, Responses API.

Every OpenAI-compatible server (llama.cpp, LM Studio, Ollama's shim, vLLM...) answers in these
shapes, so this reader serves them all; which provider it really was is the base URL's business
(``_naming``), with one hint from the response itself: llama.cpp adds a ``timings`` object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multi_llm_otel.providers._base import (
    ErrorInfo,
    Extractor,
    RequestInfo,
    ResponseInfo,
    as_int,
    as_list,
    as_str,
    bound_owner,
    entered_stream,
    error_message,
    get_field,
    get_path,
    http_base_url,
    inband_error,
    lineage,
    provider_code,
    read_stream_items,
)
from multi_llm_otel.providers._openai_shapes import chat_info, read_chat_usage, responses_info

_SDK = "openai"
_CHAT_OBJECTS = frozenset({"chat.completion", "chat.completion.chunk", "text_completion"})
# A streamed legacy Completion is a series of ``text_completion`` objects with ``choices[].text``.
_CHUNK_OBJECTS = frozenset({"chat.completion.chunk", "text_completion"})
# The largest choice index ``as_int`` accepts (int64).
_MAX_INDEX = 2**63 - 1
_CHAT_HELPERS = frozenset({"openai.ChatCompletionStream", "openai.AsyncChatCompletionStream"})
_MANAGERS = frozenset(
    {
        "openai.ChatCompletionStreamManager",
        "openai.AsyncChatCompletionStreamManager",
        "openai.ResponseStreamManager",
        "openai.AsyncResponseStreamManager",
    }
)
_RESPONSE_HELPERS = frozenset({"openai.ResponseStream", "openai.AsyncResponseStream"})
_STREAMS = frozenset(
    {"openai.Stream", "openai.AsyncStream", "openai.ResponseStream", "openai.AsyncResponseStream"}
    | _CHAT_HELPERS
    | _MANAGERS
)
# Lifecycle events of the Responses API carry the whole response; the last ones carry usage.
_RESPONSE_FINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})
_RESPONSE_PARTIAL = frozenset({"response.created", "response.in_progress", "response.queued"})


def _is_chat_json(obj: Mapping[Any, Any]) -> bool:
    return obj.get("object") in _CHAT_OBJECTS or "choices" in obj


def _is_response_event(obj: object) -> bool:
    kind = get_field(obj, "type")
    return isinstance(kind, str) and kind.startswith("response.")


def _is_owned_json(obj: Mapping[Any, Any]) -> bool:
    return (
        _is_chat_json(obj)
        or obj.get("object") == "response"
        or _is_response_event(obj)
        or isinstance(obj.get("error"), Mapping)
    )


def _is_stream_item(obj: object) -> bool:
    """One chunk or event of a stream (what a generator function yields), not a whole response."""
    return (
        get_field(obj, "object") == "chat.completion.chunk"
        or _is_response_event(obj)
        or get_field(obj, "type") == "chunk"
    )


# --- Streams ----------------------------------------------------------------------------------


def _helper_chat_snapshot(helper: object) -> object:
    """A ChatCompletionStream's own accumulated completion, or ``None`` before its first chunk."""
    if _CHAT_HELPERS.isdisjoint(lineage(type(helper))):
        return None
    try:
        return get_field(helper, "current_completion_snapshot")
    except AssertionError:  # the SDK asserts a snapshot exists
        return None


class OpenAIStreamAccumulator:
    """Chat chunks, ``.stream()`` helper events and Responses API events, whichever arrive.

    Raw chat chunks are gathered here rather than by the SDK's ``ChatCompletionStreamState``:
    that class re-dumps the whole message on every chunk to build tool-call and parsing state
    that telemetry never reads (about 200 µs a chunk with openai 3.57, against under 10 µs for
    these reads), and there is nothing to sum: usage arrives whole, once, in a final chunk with
    no choices, and only when the request set ``stream_options.include_usage``. A stream cut
    before it leaves the token counts ``None``. The ``.stream()`` helpers accumulate anyway,
    so their snapshot is used as it is.
    """

    def __init__(self, source: object = None) -> None:
        # The object the decorator was handed (raw stream, helper or manager): helpers keep a
        # snapshot of their own, complete even when the consumer read it through
        # ``get_final_completion()`` or ``until_done()`` rather than by iterating.
        self._source = source
        self._snapshot: object = None
        self._usage: object = None
        self._id: str | None = None
        self._model: str | None = None
        self._text: dict[int, list[str]] = {}
        self._finish: dict[int, str] = {}
        self._response: object = None
        self._response_final = False
        self._response_text: list[str] = []
        self._responses = False
        self._error: ErrorInfo | None = None
        self._hint: str | None = None
        self._sdk_chunk_type: type | None = None
        self._text_wanted = True

    def skip_text(self) -> None:
        self._text_wanted = False

    def add(self, chunk: object) -> None:
        if type(chunk) is self._sdk_chunk_type:
            # The SDK's ``ChatCompletionChunk`` seen before (always a chat chunk): its declared
            # fields are read from ``__dict__`` at once, since this runs for every chunk of
            # every stream (about 50 per answer), and a chunk with neither text nor a finish
            # reason costs no more.
            fields = chunk.__dict__
            usage = fields.get("usage")
            if usage is not None:
                self._usage = usage
            extra = chunk.__pydantic_extra__  # type: ignore[attr-defined]
            if extra:
                self._read_extra(extra)
            if not self._id:
                self._id = as_str(fields.get("id"))
            if not self._model:
                self._model = as_str(fields.get("model"))
            choices = fields.get("choices")
            if type(choices) is list:
                if self._text_wanted:
                    self._read_choices(choices)
                else:
                    for choice in choices:
                        parts = getattr(choice, "__dict__", None)
                        if type(parts) is dict and parts.get("finish_reason"):
                            self._keep(parts.get("index"), None, parts["finish_reason"])
            return
        if get_field(chunk, "object") in _CHUNK_OBJECTS:
            self._add_chat_chunk(chunk)
            return
        kind = get_field(chunk, "type")
        if kind == "chunk":
            # ChatCompletionStream's ChunkEvent: the raw chunk plus the helper's own snapshot.
            self._snapshot = get_field(chunk, "snapshot")
            self._track(get_field(chunk, "chunk"))
        elif isinstance(kind, str) and (kind.startswith("response.") or kind == "error"):
            self._add_response_event(chunk, kind)
        elif kind is None and (error := get_field(chunk, "error")) is not None:
            self._error = inband_error(error)

    def _read_choices(self, choices: list[Any]) -> None:
        for choice in choices:
            parts = getattr(choice, "__dict__", None)
            if type(parts) is dict:
                delta = parts.get("delta")
                text = getattr(delta, "content", None) if delta is not None else parts.get("text")
                reason = parts.get("finish_reason")
                if text or reason:
                    self._keep(parts.get("index"), text, reason)

    def _read_extra(self, extra: dict[str, Any]) -> None:
        if extra.get("timings") is not None:
            self._hint = "llama.cpp"
        if extra.get("error") is not None:
            self._error = inband_error(extra["error"])

    def _keep(self, index: object, text: object, reason: object) -> None:
        if type(index) is not int or not 0 <= index <= _MAX_INDEX:
            index = as_int(index) or 0
        if text and isinstance(text, str):
            texts = self._text.get(index)
            if texts is None:
                self._text[index] = [text]
            else:
                texts.append(text)
        if reason and isinstance(reason, str):
            self._finish[index] = reason

    def _track(self, chunk: object) -> None:
        usage = get_field(chunk, "usage")
        if usage is not None:
            self._usage = usage
        if get_field(chunk, "timings") is not None:
            self._hint = "llama.cpp"
        error = get_field(chunk, "error")
        if error is not None:
            self._error = inband_error(error)

    def _add_chat_chunk(self, chunk: object) -> None:
        fields = getattr(chunk, "__dict__", None)
        if (
            type(fields) is dict
            and type(fields.get("choices")) is list
            and type(chunk).__module__.startswith("openai.")
            and type(getattr(chunk, "__pydantic_extra__", None)) in (dict, type(None))
        ):
            self._sdk_chunk_type = type(chunk)
            self.add(chunk)
            return
        self._track(chunk)
        self._id = self._id or as_str(get_field(chunk, "id"))
        self._model = self._model or as_str(get_field(chunk, "model"))
        for choice in as_list(get_field(chunk, "choices")):
            delta = get_field(choice, "delta")
            text = as_str(get_field(delta, "content")) if delta is not None else as_str(get_field(choice, "text"))
            reason = as_str(get_field(choice, "finish_reason"))
            if not self._text_wanted:
                text = None
            if text or reason:
                self._keep(get_field(choice, "index"), text, reason)

    def _add_response_event(self, event: object, kind: str) -> None:
        self._responses = True
        if kind == "response.output_text.delta":
            delta = as_str(get_field(event, "delta"))
            if delta:
                self._response_text.append(delta)
        elif kind in _RESPONSE_FINAL:
            self._response = get_field(event, "response")
            self._response_final = True
        elif kind in _RESPONSE_PARTIAL and not self._response_final:
            self._response = get_field(event, "response")
        elif kind == "error":
            # The error event has its fields at the top level (``code``, ``message``).
            self._error = inband_error(get_field(event, "error")) or inband_error(
                {"code": get_field(event, "code"), "message": get_field(event, "message")}
            )

    def _helper(self) -> object:
        source = self._source
        if source is not None and not _MANAGERS.isdisjoint(lineage(type(source))):
            return entered_stream(source)
        return source

    def result(self) -> ResponseInfo:
        helper = self._helper()
        if self._responses or (
            # Only the Responses API's helper keeps a completed response.
            not _RESPONSE_HELPERS.isdisjoint(lineage(type(helper)))
            and get_path(helper, "_state", "_completed_response") is not None
        ):
            info = self._responses_result(helper)
        else:
            info = self._chat_result(helper)
        info.error = self._error or info.error
        info.server_hint = self._hint or info.server_hint
        return info

    def _responses_result(self, helper: object) -> ResponseInfo:
        response = self._response
        if not self._response_final:
            # ResponseStream keeps the completed response even when read without our proxy.
            response = get_path(helper, "_state", "_completed_response") or response
        info = responses_info(response) if response is not None else ResponseInfo()
        if not info.output_text and self._response_text:
            info.output_text = "".join(self._response_text)
        return info

    def _chat_result(self, helper: object) -> ResponseInfo:
        snapshot = _helper_chat_snapshot(helper) or self._snapshot
        if snapshot is not None:
            info = chat_info(snapshot)
        else:
            info = ResponseInfo(response_model=self._model, response_id=self._id)
            info.finish_reasons = [self._finish[i] for i in sorted(self._finish)]
            first = self._text.get(min(self._text)) if self._text else None
            info.output_text = "".join(first) if first else None
        if self._usage is not None:
            read_chat_usage(self._usage, info)
        return info


# --- The extractor ----------------------------------------------------------------------------


def _response_format(kwargs: Mapping[str, object]) -> str | None:
    fmt = kwargs.get("response_format")
    if isinstance(fmt, Mapping):
        return as_str(fmt.get("type"))
    # ``.parse(response_format=Model)`` / ``responses.parse(text_format=Model)`` send a JSON schema.
    if isinstance(fmt, type) or isinstance(kwargs.get("text_format"), type):
        return "json_schema"
    return as_str(get_path(kwargs.get("text"), "format", "type"))


class OpenAIExtractor(Extractor):
    name = "openai"
    decides_by_class = True

    def owns_client(self, obj: object) -> bool:
        return _SDK in lineage(type(bound_owner(obj)))

    def base_url(self, obj: object) -> str | None:
        return http_base_url(obj)

    def owns_response(self, obj: object) -> bool:
        if isinstance(obj, Mapping):
            return _is_owned_json(obj)
        if isinstance(obj, (list, tuple)):
            first = obj[0] if obj else None
            if isinstance(first, Mapping):
                return first.get("object") in _CHUNK_OBJECTS or _is_response_event(first)
            return first is not None and f"{_SDK}.BaseModel" in lineage(type(first))
        return f"{_SDK}.BaseModel" in lineage(type(obj))

    def response(self, obj: object) -> ResponseInfo:
        if isinstance(obj, (list, tuple)) or _is_stream_item(obj):
            return read_stream_items(OpenAIStreamAccumulator(), obj)
        if get_field(obj, "object") == "response":
            return responses_info(obj)
        return chat_info(obj)

    def owns_stream(self, obj: object) -> bool:
        return not _STREAMS.isdisjoint(lineage(type(obj)))

    def accumulator(self, stream: object) -> OpenAIStreamAccumulator:
        return OpenAIStreamAccumulator(stream)

    def owns_error(self, exc: BaseException) -> bool:
        return _SDK in lineage(type(exc))

    def error(self, exc: BaseException) -> ErrorInfo:
        # The SDK unwraps ``{"error": {...}}`` into ``.body``; an exception built by hand may not.
        body = getattr(exc, "body", None)
        nested = get_field(body, "error") if isinstance(body, Mapping) else None
        err = nested if isinstance(nested, Mapping) else body
        if isinstance(err, Mapping):
            code = provider_code(err)
            message = error_message(err.get("message"))
        else:
            # LM Studio answers ``{"error": "<text>"}``: the SDK hands over the bare string.
            code = None
            message = error_message(err)
        return ErrorInfo(
            error_type=type(exc).__name__,
            status_code=as_int(getattr(exc, "status_code", None)),
            error_code=code,
            message=message or error_message(getattr(exc, "message", None)) or error_message(str(exc)),
        )

    def request(self, kwargs: Mapping[str, object]) -> RequestInfo:
        # The base class reads the OpenAI names; the Responses API adds ``input`` and ``instructions``.
        info = super().request(kwargs)
        info.response_format = _response_format(kwargs)
        if info.messages is None:
            info.messages = kwargs.get("input")
        info.system_instructions = kwargs.get("instructions")
        return info


EXTRACTOR = OpenAIExtractor()
