"""Provider extractors behind one registry: a new provider is one module and one line here.

Extractor modules never import their SDK: they recognise its objects by the module their type
comes from, so a provider SDK stays an optional extra and costs nothing when unused. Each one
also recognises plain dicts of its provider's JSON, for users who call the HTTP APIs directly.
"""

from __future__ import annotations

from multi_llm_otel.providers import anthropic, lmstudio, ollama, openai
from multi_llm_otel.providers._base import (
    ErrorInfo,
    Extractor,
    RequestInfo,
    ResponseInfo,
    StreamAccumulator,
)
from multi_llm_otel.providers._naming import provider_from_base_url

__all__ = [
    "REGISTRY",
    "ErrorInfo",
    "Extractor",
    "RequestInfo",
    "ResponseInfo",
    "StreamAccumulator",
    "for_client",
    "for_error",
    "for_response",
    "for_stream",
    "provider_from_base_url",
]

# Order matters for plain dicts: the most specific shapes first.
REGISTRY: tuple[Extractor, ...] = (
    anthropic.EXTRACTOR,
    lmstudio.EXTRACTOR,
    ollama.EXTRACTOR,
    openai.EXTRACTOR,
)


def for_client(obj: object) -> Extractor | None:
    return next((e for e in REGISTRY if e.owns_client(obj)), None)


def for_response(obj: object) -> Extractor | None:
    return next((e for e in REGISTRY if e.owns_response(obj)), None)


def for_stream(obj: object) -> Extractor | None:
    return next((e for e in REGISTRY if e.owns_stream(obj)), None)


def for_error(exc: BaseException) -> Extractor | None:
    return next((e for e in REGISTRY if e.owns_error(exc)), None)
