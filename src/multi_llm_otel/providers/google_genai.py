"""Google Gen AI (the ``google-genai`` SDK, Gemini API and Vertex AI): ``models.generate_content``
and ``generate_content_stream``, sync and async, and their JSON.

``usage_metadata.prompt_token_count`` already includes ``cached_content_token_count`` (the cache
read), as the GenAI conventions count input. Thinking is billed as output but reported apart
(``thoughts_token_count``), so output tokens are ``candidates_token_count`` plus it, as OpenAI's
``completion_tokens`` include reasoning; tool-use prompt tokens are added to the input the same
way. Gemini writes ``cached_content_token_count`` only when a cache was read, so a response
without it says nothing about caching and no cache event is emitted for it. Every chunk of a
stream is a whole ``GenerateContentResponse`` whose usage is a running total: the base class's
merging accumulator reads it as it is.
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
    as_list,
    as_str,
    bound_owner,
    comes_from,
    error_message,
    generator_file,
    get_field,
    get_path,
    item_count,
    read_stream_items,
)

_SDK = "google.genai"
_RESPONSE = "GenerateContentResponse"
# ``generate_content_stream`` is a generator method (sync) or returns a nested async generator;
# ``chats`` wraps it. Known by name and by the SDK file it comes from.
_STREAM_QUALNAMES = frozenset(
    {
        "Models.generate_content_stream",
        "AsyncModels.generate_content_stream.<locals>.stream_generator",
        "Chat.send_message_stream",
        "AsyncChat.send_message_stream.<locals>.async_generator",
    }
)
_SDK_DIR = f"{os.sep}google{os.sep}genai{os.sep}"
# The objects a call goes through; the SDK's other classes (configs, contents) are arguments.
_CLIENTS = frozenset({"Client", "AsyncClient", "Models", "AsyncModels", "Chats", "AsyncChats", "Chat", "AsyncChat"})


def _is_genai_json(obj: Mapping[Any, Any]) -> bool:
    # REST JSON is camelCase; the SDK's ``model_dump()`` is snake_case.
    return any(key in obj for key in ("usageMetadata", "usage_metadata", "modelVersion", "model_version")) or (
        "candidates" in obj and "choices" not in obj
    )


def _field(obj: object, snake: str, camel: str) -> object:
    value = get_field(obj, snake)
    return get_field(obj, camel) if value is None and isinstance(obj, Mapping) else value


def _enum_text(value: object) -> str | None:
    # The SDK's enums are ``str`` subclasses whose ``str()`` is the member name: take the value.
    inner = getattr(value, "value", value)
    return inner if isinstance(inner, str) and inner else None


def _read_usage(usage: object, info: ResponseInfo) -> None:
    if usage is None:
        return
    prompt = as_int(_field(usage, "prompt_token_count", "promptTokenCount"))
    tool_prompt = as_int(_field(usage, "tool_use_prompt_token_count", "toolUsePromptTokenCount"))
    candidates = as_int(_field(usage, "candidates_token_count", "candidatesTokenCount"))
    thoughts = as_int(_field(usage, "thoughts_token_count", "thoughtsTokenCount"))
    cached = as_int(_field(usage, "cached_content_token_count", "cachedContentTokenCount"))
    if prompt is not None:
        info.input_tokens = prompt + (tool_prompt or 0)
    if candidates is not None or thoughts is not None:
        info.output_tokens = (candidates or 0) + (thoughts or 0)
    info.reasoning_tokens = thoughts
    info.cache_read_tokens = cached
    info.caching_reported = cached is not None


def _candidate_text(candidate: object) -> str | None:
    parts = as_list(get_path(candidate, "content", "parts"))
    texts = [
        text
        for part in parts
        if get_field(part, "thought") is not True and (text := as_str(get_field(part, "text"))) is not None
    ]
    return "".join(texts) if texts else None


def response_info(obj: object) -> ResponseInfo:
    """A ``GenerateContentResponse`` (or one chunk of a stream), SDK object or JSON."""
    info = ResponseInfo(
        response_model=as_str(_field(obj, "model_version", "modelVersion")),
        response_id=as_str(_field(obj, "response_id", "responseId")),
    )
    _read_usage(_field(obj, "usage_metadata", "usageMetadata"), info)
    candidates = as_list(get_field(obj, "candidates"))
    info.finish_reasons = [
        reason for c in candidates if (reason := _enum_text(_field(c, "finish_reason", "finishReason")))
    ]
    if not candidates:
        # A prompt refused outright has no candidate: the block reason is why it finished.
        blocked = _enum_text(get_path(_field(obj, "prompt_feedback", "promptFeedback"), "block_reason"))
        blocked = blocked or _enum_text(get_path(get_field(obj, "promptFeedback"), "blockReason"))
        if blocked:
            info.finish_reasons = [blocked]
    if candidates:
        info.output_text = _candidate_text(candidates[0])
    return info


def _response_format(config: object) -> str | None:
    if _field(config, "response_schema", "responseSchema") is not None:
        return "json_schema"
    if _field(config, "response_json_schema", "responseJsonSchema") is not None:
        return "json_schema"
    mime = as_str(_field(config, "response_mime_type", "responseMimeType"))
    if mime == "application/json":
        return "json_object"
    return "text" if mime == "text/plain" else None


class GoogleGenAIExtractor(Extractor):
    # The conventions' name for Google's generative AI when neither Gemini API nor Vertex AI
    # can be told from the client's URL.
    name = "gcp.gen_ai"
    decides_by_class = True

    def owns_client(self, obj: object) -> bool:
        cls = type(bound_owner(obj))
        return comes_from(cls, _SDK) and any(k.__name__ in _CLIENTS for k in cls.__mro__)

    def base_url(self, obj: object) -> str | None:
        target = bound_owner(obj)
        # A chat reaches the API client through the ``Models`` it was made with.
        api = get_field(target, "_api_client") or get_path(target, "_modules", "_api_client")
        url = get_path(api, "_http_options", "base_url")
        return str(url) if url is not None else None

    def owns_response(self, obj: object) -> bool:
        if isinstance(obj, Mapping):
            return _is_genai_json(obj)
        if isinstance(obj, (list, tuple)):
            first = obj[0] if obj else None
            if isinstance(first, Mapping):
                return _is_genai_json(first)
            return first is not None and self.owns_response(first)
        return type(obj).__name__ == _RESPONSE and comes_from(type(obj), _SDK)

    def response(self, obj: object) -> ResponseInfo:
        if isinstance(obj, (list, tuple)):
            return read_stream_items(self.accumulator(None), obj)
        return response_info(obj)

    def owns_stream(self, obj: object) -> bool:
        filename = generator_file(obj, _STREAM_QUALNAMES)
        return filename is not None and _SDK_DIR in filename

    def owns_error(self, exc: BaseException) -> bool:
        return comes_from(type(exc), _SDK)

    def error(self, exc: BaseException) -> ErrorInfo:
        # ``APIError`` (``ClientError`` 4xx, ``ServerError`` 5xx) carries the HTTP ``code``, the
        # RPC ``status`` (``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``) and the server's message.
        status = as_int(getattr(exc, "code", None))
        return ErrorInfo(
            error_type=type(exc).__name__,
            status_code=status if status is not None and 100 <= status <= 599 else None,
            error_code=as_str(getattr(exc, "status", None)),
            message=error_message(getattr(exc, "message", None)) or error_message(str(exc)),
        )

    def request(self, kwargs: Mapping[str, object]) -> RequestInfo:
        config = kwargs.get("config")
        return RequestInfo(
            model=as_str(kwargs.get("model")),
            max_tokens=as_int(_field(config, "max_output_tokens", "maxOutputTokens")),
            temperature=as_float(get_field(config, "temperature")),
            top_p=as_float(_field(config, "top_p", "topP")),
            tool_count=item_count(get_field(config, "tools")),
            response_format=_response_format(config) if config is not None else None,
            messages=kwargs.get("contents", kwargs.get("message")),
            system_instructions=_field(config, "system_instruction", "systemInstruction"),
        )


EXTRACTOR = GoogleGenAIExtractor()
