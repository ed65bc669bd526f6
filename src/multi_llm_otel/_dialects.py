"""What other producers mean by their metadata, said the way this library's mapping reads it.

Events read from JSON lines (``multi-llm-otel ingest``; the Collector's file-log pipeline in
``collector-config/filelog-ingest.yaml`` applies the same table) may come from the Rust
``multi-llm`` crate's providers or from this library's decorator. Where the crate's keys mean
something other than the decorator's, keys are added, never changed, so the crate's own values
stay in the log body. A crate ``llm_response`` is told apart by its ``duration_ms``: the crate
writes whole milliseconds (a JSON integer), the decorator fractional ones (a JSON float).

==========================  =================================  ===================================
crate writes                added                              why
==========================  =================================  ===================================
crate ``llm_response`` of   ``gen_ai.usage.input_tokens`` =    Anthropic's ``input_tokens`` leaves
``anthropic`` with          ``input_tokens`` +                 the cached prefix out; the GenAI
``cache_read_tokens`` or    ``cache_read_tokens`` +            conventions (and the decorator)
``cache_creation_tokens``   ``cache_creation_tokens``          count it in
``llm_error`` / ``error``   ``message`` (the text) and         the decorator's keys: ``error.type``
with ``error`` (text)       ``error_type`` (the crate's        and the error counters need a type
                            ``LlmError`` variant, from the
                            text's fixed prefix; ``_OTHER``)
crate ``llm_response``      a ``cache_hit`` (read > 0) or      the crate defines cache events but
with ``cache_read_tokens``  ``cache_miss`` event, marked       never emits them; the decorator's
or ``cache_creation_        ``derived: true``,                 rule, so the cache counters work
tokens``                    ``derived_from`` = the response
==========================  =================================  ===================================

LM Studio needs no entry: both the crate and the decorator name it ``lmstudio``.
"""

from __future__ import annotations

from typing import Final

from multi_llm_otel import event_types
from multi_llm_otel._events import BusinessEvent
from multi_llm_otel._json_value import JSONValue

__all__ = ["ERROR_TYPES", "error_type", "normalise"]

# The crate's LlmError Display texts (src/error.rs) start with these; the variant is the type.
ERROR_TYPES: Final = (
    ("Provider not supported: ", "UnsupportedProvider"),
    ("Provider configuration error: ", "ConfigurationError"),
    ("Request failed: ", "RequestFailed"),
    ("Response parsing failed: ", "ResponseParsingError"),
    ("Rate limit exceeded", "RateLimitExceeded"),
    ("Request timed out", "Timeout"),
    ("Authentication failed: ", "AuthenticationFailed"),
    ("Token limit exceeded: ", "TokenLimitExceeded"),
    ("Tool execution failed: ", "ToolExecutionFailed"),
    ("JSON schema validation failed: ", "SchemaValidationFailed"),
)
OTHER_ERROR: Final = "_OTHER"
INPUT_TOTAL: Final = "gen_ai.usage.input_tokens"
_CACHE_KEYS: Final = ("cache_read_tokens", "cache_creation_tokens")
# Keys of a response that say which call a derived cache event belongs to.
_CARRIED: Final = ("provider", "model", "session_id", "llm_path")


def _int(value: JSONValue | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _from_crate(meta: dict[str, JSONValue]) -> bool:
    return _int(meta.get("duration_ms")) is not None


def error_type(text: str) -> str:
    return next((name for prefix, name in ERROR_TYPES if text.startswith(prefix)), OTHER_ERROR)


def normalise(event: BusinessEvent) -> list[BusinessEvent]:
    """``event`` with the keys of the table added (in place), then the events derived from it."""
    meta = event.metadata
    kind = event.event_type
    if kind in (event_types.LLM_ERROR, event_types.ERROR):
        text = meta.get("error")
        if isinstance(text, str):
            meta.setdefault("message", text)
            meta.setdefault("error_type", error_type(text))
        return [event]
    if kind != event_types.LLM_RESPONSE or not _from_crate(meta):
        return [event]
    read, written = (_int(meta.get(key)) for key in _CACHE_KEYS)
    if read is None and written is None:
        return [event]
    raw = _int(meta.get("input_tokens"))
    if raw is not None and meta.get("provider") == "anthropic" and INPUT_TOTAL not in meta:
        meta[INPUT_TOTAL] = raw + (read or 0) + (written or 0)
    total = _int(meta.get(INPUT_TOTAL))
    if total is None:
        total = raw
    derived = BusinessEvent.new(event_types.CACHE_HIT if read is not None and read > 0 else event_types.CACHE_MISS)
    derived.created_at = event.created_at
    out = derived.metadata
    for key in _CARRIED:
        if meta.get(key) is not None:
            out[key] = meta[key]
    out["cache"] = "provider"
    out["cache_read_tokens"] = read or 0
    if written is not None:
        out["cache_creation_tokens"] = written
    if total is not None:
        out["input_tokens"] = total
    out["derived"] = True
    out["derived_from"] = str(event.id)
    return [event, derived]
