"""LiteLLM: ``litellm.completion`` / ``acompletion`` (and a ``Router``), streamed or not.

LiteLLM answers in OpenAI's shapes whatever the backend (``ModelResponse``, chunks of a
``CustomStreamWrapper``), so the OpenAI reader does the reading. What LiteLLM adds is which
backend answered: ``_hidden_params`` holds the ``custom_llm_provider`` it routed to and the
``api_base`` it called, which name the provider here (an ``openai/...`` model pointed at a local
server is not OpenAI). Its classes derive from the OpenAI SDK's, so this extractor registers
ahead of the OpenAI one. There is no client object: the ``litellm`` module, its functions and a
``Router`` stand for one.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

from multi_llm_otel.providers._base import (
    ErrorInfo,
    Extractor,
    ResponseInfo,
    StreamAccumulator,
    as_int,
    as_str,
    bound_owner,
    error_message,
    get_field,
    lineage,
    read_stream_items,
)
from multi_llm_otel.providers._naming import provider_from_base_url
from multi_llm_otel.providers._openai_shapes import chat_info
from multi_llm_otel.providers.openai import OpenAIStreamAccumulator

_SDK = "litellm"
_RESPONSES = frozenset({"litellm.ModelResponse", "litellm.ModelResponseStream"})
_STREAMS = frozenset({"litellm.CustomStreamWrapper"})
# LiteLLM's own provider names, where ``gen_ai.provider.name`` registers another spelling.
_PROVIDER_NAMES = {
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "lm_studio": "lmstudio",
    "watsonx": "ibm.watsonx.ai",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "cohere_chat": "cohere",
}


def _backend(response: object) -> str | None:
    """The provider a response came from, by the base URL LiteLLM called and its route."""
    # A pydantic private attribute on a response, a plain one on the stream wrapper.
    hidden = getattr(response, "_hidden_params", None)
    if not isinstance(hidden, Mapping):
        return None
    route = as_str(hidden.get("custom_llm_provider"))
    base = as_str(hidden.get("api_base"))
    if base:
        name, address, _ = provider_from_base_url(base, "")
        if name:
            return name
        if address and route == "openai":
            # The ``openai/`` route to a server its URL does not name speaks OpenAI's protocol.
            return "openai_compatible"
    return _PROVIDER_NAMES.get(route, route) if route else None


def _with_backend(info: ResponseInfo, response: object) -> ResponseInfo:
    # llama.cpp's own ``timings`` (kept by the OpenAI reader) names the server better still.
    info.server_hint = info.server_hint or _backend(response)
    return info


class LiteLLMStreamAccumulator:
    """OpenAI-shaped chunks; the wrapper's ``_hidden_params`` name the backend at the end."""

    def __init__(self, stream: object) -> None:
        self._stream = stream
        self._chunks = OpenAIStreamAccumulator()
        self._last: object = None

    def add(self, chunk: object) -> None:
        self._chunks.add(chunk)
        self._last = chunk

    def result(self) -> ResponseInfo:
        info = self._chunks.result()
        source = self._stream if self._stream is not None else self._last
        return _with_backend(info, source) if source is not None else info


class LiteLLMExtractor(Extractor):
    name = "litellm"
    decides_by_class = True

    def owns_client(self, obj: object) -> bool:
        target = bound_owner(obj)
        # ``type()``, not ``isinstance``: that would read an application object's ``__class__``.
        kind = type(target)
        if issubclass(kind, types.ModuleType):
            return getattr(target, "__name__", None) == _SDK
        if kind is types.FunctionType or kind is types.BuiltinFunctionType:
            module = getattr(target, "__module__", None)
            return isinstance(module, str) and module.partition(".")[0] == _SDK
        return f"{_SDK}.Router" in lineage(kind)

    def owns_response(self, obj: object) -> bool:
        if isinstance(obj, (list, tuple)):
            obj = obj[0] if obj else None
        return obj is not None and not _RESPONSES.isdisjoint(lineage(type(obj)))

    def response(self, obj: object) -> ResponseInfo:
        if isinstance(obj, (list, tuple)) or get_field(obj, "object") == "chat.completion.chunk":
            return read_stream_items(LiteLLMStreamAccumulator(None), obj)
        return _with_backend(chat_info(obj), obj)

    def owns_stream(self, obj: object) -> bool:
        return not _STREAMS.isdisjoint(lineage(type(obj)))

    def accumulator(self, stream: object) -> StreamAccumulator:
        return LiteLLMStreamAccumulator(stream)

    def owns_error(self, exc: BaseException) -> bool:
        return _SDK in lineage(type(exc))

    def error(self, exc: BaseException) -> ErrorInfo:
        # LiteLLM maps every backend's failure onto OpenAI's exception classes, with
        # ``status_code`` and a ``message`` prefixed by the route ("litellm.BadRequestError: ...").
        status = as_int(getattr(exc, "status_code", None))
        return ErrorInfo(
            error_type=type(exc).__name__,
            status_code=status if status is not None and 100 <= status <= 599 else None,
            error_code=as_str(getattr(exc, "code", None)),
            message=error_message(getattr(exc, "message", None)) or error_message(str(exc)),
        )


EXTRACTOR = LiteLLMExtractor()
