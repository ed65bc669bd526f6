"""The metadata rule: what may go into a metadata object, and what happens to what may not.

The Rust crate serialises each value with serde_json and silently skips one that fails. Here a
value is converted to a JSON value by these rules, and one that cannot be is skipped *and
reported* (``multi_llm_otel.stats()`` and one warning), never raised:

- ``None``, ``bool``, ``int``, ``str`` and finite ``float`` are kept (``str`` subclasses become
  plain ``str``). Text that cannot be encoded as UTF-8 (lone surrogates) has those code points
  replaced by U+FFFD.
- NaN and infinities become ``null``, as serde_json writes them.
- Lists and tuples become JSON arrays; mappings become JSON objects. Mapping keys that are
  ``int``, ``float``, ``bool`` or ``None`` are written as JSON writes them (``1``, ``true``,
  ``null``); any other key type rejects the whole value.
- Anything else (sets, bytes, arbitrary objects), cyclic structures, nesting deeper than
  ``MAX_DEPTH``, and containers whose iteration raises reject the whole value: a half-converted
  value would corrupt the object.
- The keys of the metadata object itself must be ``str`` (lone surrogates replaced as above);
  ``with_metadata(1, v)`` is skipped and reported as ``metadata_key_rejected``, as the Rust
  crate's ``String`` key admits nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Union

from multi_llm_otel import _diagnostics

JSONValue = Union[None, bool, int, float, str, list["JSONValue"], dict[str, "JSONValue"]]

MAX_DEPTH = 64


class Rejected(Exception):
    """Raised inside the conversion only; callers turn it into a report."""


def _clean_str(value: str) -> str:
    text = str.__str__(value)  # a plain str, whatever a subclass overrides
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        _diagnostics.report("metadata_text_replaced", "text with lone surrogates had them replaced by U+FFFD")
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _key(key: object) -> str:
    if isinstance(key, str):
        return _clean_str(key)
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        return repr(key) if math.isfinite(key) else "null"
    raise Rejected(f"a mapping key of type {type(key).__name__}")


def _convert(value: object, depth: int, seen: set[int]) -> JSONValue:
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        _diagnostics.report("metadata_non_finite_float", "NaN or infinity written as null, as serde_json does")
        return None
    if depth >= MAX_DEPTH:
        raise Rejected(f"nesting deeper than {MAX_DEPTH}")
    if isinstance(value, (list, tuple, Mapping)):
        if id(value) in seen:
            raise Rejected("a cyclic structure")
        seen.add(id(value))
        try:
            if isinstance(value, Mapping):
                return {_key(k): _convert(v, depth + 1, seen) for k, v in value.items()}
            return [_convert(v, depth + 1, seen) for v in value]
        finally:
            seen.discard(id(value))
    raise Rejected(f"a value of type {type(value).__name__}")


def to_json_value(value: object) -> tuple[bool, JSONValue]:
    """Convert ``value`` by the metadata rule; ``(False, None)`` when it must be skipped."""
    try:
        return True, _convert(value, 0, set())
    except (Rejected, RecursionError) as exc:
        _diagnostics.report("metadata_value_rejected", str(exc) or "too deeply nested")
        return False, None
    except Exception as exc:  # noqa: BLE001 - a container whose iteration fails is skipped, never raised
        _diagnostics.report("metadata_value_rejected", f"a value whose conversion raised {type(exc).__name__}")
        return False, None
