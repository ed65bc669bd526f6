"""The provider interface: what an extractor reads, the helpers it reads with, and ``register``.

A provider is one ``Extractor`` subclass and one ``register()`` line; the built-in ones below
join the same way a third-party one does (see ``_registry`` for the precedence rule and the
``multi_llm_otel.providers`` entry-point group). Extractor modules never import their SDK: they
recognise its objects by the module their classes come from, so a provider SDK stays an
optional extra and costs nothing when unused. Each one also recognises plain dicts of its
provider's JSON, for users who call the HTTP APIs directly.
"""

from __future__ import annotations

from multi_llm_otel.providers._base import (
    ErrorInfo,
    Extractor,
    MergingAccumulator,
    RequestInfo,
    ResponseInfo,
    StreamAccumulator,
    as_float,
    as_int,
    as_list,
    as_str,
    bound_owner,
    comes_from,
    error_message,
    first_int,
    generic_error,
    get_field,
    get_path,
    http_base_url,
    inband_error,
    item_count,
    lineage,
)
from multi_llm_otel.providers._naming import provider_from_base_url
from multi_llm_otel.providers._registry import (
    ENTRY_POINT_GROUP,
    for_client,
    for_error,
    for_response,
    for_stream,
    get,
    register,
    registered,
    unregister,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ErrorInfo",
    "Extractor",
    "MergingAccumulator",
    "RequestInfo",
    "ResponseInfo",
    "StreamAccumulator",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "bound_owner",
    "comes_from",
    "error_message",
    "first_int",
    "for_client",
    "for_error",
    "for_response",
    "for_stream",
    "generic_error",
    "get",
    "get_field",
    "get_path",
    "http_base_url",
    "inband_error",
    "item_count",
    "lineage",
    "provider_from_base_url",
    "register",
    "registered",
    "unregister",
]

# The built-in extractors, registered as any other. The OpenAI one goes last: it claims every
# OpenAI-shaped dict, and the more specific shapes must be asked first.
from multi_llm_otel.providers import anthropic, google_genai, litellm, lmstudio, ollama, openai

register(anthropic.EXTRACTOR)
register(lmstudio.EXTRACTOR)
register(ollama.EXTRACTOR)
register(google_genai.EXTRACTOR)
register(openai.EXTRACTOR)
register(litellm.EXTRACTOR, before="openai")
