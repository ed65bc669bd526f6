"""The log record body: a copy of the metadata that the OTLP encoder can always encode.

The OTLP exporters encode a whole batch (up to 512 log records) in one go, and one value the
encoder refuses fails the batch: every record in it is lost. Three kinds of values do that:

- an integer outside the signed 64-bit range (valid JSON, kept by the metadata rule, but
  OTLP's ``int_value`` is an int64): it is written as its decimal string, losslessly and
  silently, as the attribute mapping already does;
- text with lone surrogates, which UTF-8 cannot carry, when it was put into ``metadata`` by
  direct assignment past ``with_metadata``: replaced by U+FFFD (``metadata_text_replaced``);
- nesting deeper than the protobuf runtime accepts (it refuses messages nested more than 100
  levels: JSON objects about 30 deep, arrays about 46): from about 20 object levels (or 30
  array levels) down, the value is carried as its compact JSON text instead, losslessly
  (counted as ``log_body_nesting_as_text``, without a warning).

Everything else assigned directly that the metadata rule rejects (bytes, sets, cycles, ...)
is left out of the body, reported as ``metadata_value_rejected``.
"""

from __future__ import annotations

import json
from typing import Final

from multi_llm_otel import _diagnostics
from multi_llm_otel._json_value import MAX_DEPTH, JSONValue, _clean_str, to_json_value

__all__ = ["put"]

_MIN: Final = -(2**63)
_MAX: Final = 2**63 - 1
# Protobuf message levels a body value may use. The protobuf runtime refuses messages nested
# deeper than 100 levels, the export envelope takes about 8, and each JSON object level costs
# 3 (AnyValue, KeyValueList, KeyValue), each array level 2 (AnyValue, ArrayValue). Measured
# with opentelemetry-proto 1.45: objects fail from 32 levels, arrays from 48.
_BUDGET: Final = 64
_OBJECT: Final = 3
_ARRAY: Final = 2


def _as_text(value: JSONValue) -> str:
    _diagnostics.count("log_body_nesting_as_text")
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _fit(value: JSONValue, budget: int) -> JSONValue:
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return value if _MIN <= value <= _MAX else str(value)
    if isinstance(value, list):
        if budget < _ARRAY:
            return _as_text(value)
        return [_fit(v, budget - _ARRAY) for v in value]
    if budget < _OBJECT:
        return _as_text(value)
    return {k: _fit(v, budget - _OBJECT) for k, v in value.items()}


def _past_the_rule(value: object) -> bool:
    """Whether ``value`` nests JSON containers deeper than the metadata rule takes."""
    level = [value]
    for _ in range(MAX_DEPTH - 1):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def _json_text(value: object) -> str | None:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    _diagnostics.count("log_body_nesting_as_text")
    return _clean_str(text)


def put(body: dict[str, JSONValue], key: object, value: object) -> None:
    """Copy one metadata entry into ``body`` by the rule above. The attribute mapping, which
    makes the body in the same pass, copies a plain scalar under an ASCII key (ASCII text, a
    bool, a float, an int64) itself: only the other entries need come here."""
    # Finish reasons: a short list of ASCII words, copied as such.
    if (
        type(key) is str
        and key.isascii()
        and type(value) is list
        and all(isinstance(v, str) and v.isascii() for v in value)
    ):
        body[key] = list(value)
        return
    if isinstance(key, str) and _past_the_rule(value):
        # A parsed Rust event may nest past the metadata rule's depth: a JSON value all the
        # same, carried as its text like any value too deep for the protobuf runtime.
        text = _json_text(value)
        if text is not None:
            body[_clean_str(key)] = text
            return
    ok, one = to_json_value({key: value})
    if ok and isinstance(one, dict):
        for k, v in one.items():
            body[k] = _fit(v, _BUDGET - _OBJECT)
