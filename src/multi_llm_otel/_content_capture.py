"""Opt-in content capture: prompts and completions are exported only when the user says so."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Final

from multi_llm_otel._json_value import JSONValue, to_json_value

ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MAX_CHARS: Final = 16_384
_OFF = frozenset({"", "0", "false", "no", "off", "no_content", "none"})


def enabled_by_env() -> bool:
    """The GenAI instrumentations' common switch; any value but an explicit "off" turns it on."""
    value = _read_env()
    return value is not None and value.strip().lower() not in _OFF


def _variable_reader(name: str) -> Callable[[], str | None]:
    """``os.environ.get(name)`` for a variable every decorated call asks about. When it is
    unset (the usual case) that raises and catches a ``KeyError`` inside, costing more than the
    rest of the look-up: CPython's ``os.environ`` keeps its items in a dictionary of its own,
    read here directly while ``os.environ`` is still the object that holds it."""
    environ = os.environ
    data = getattr(environ, "_data", None)
    encode = getattr(environ, "encodekey", None)
    decode = getattr(environ, "decodevalue", None)
    if type(data) is not dict or not callable(encode) or not callable(decode):
        return lambda: os.environ.get(name)
    key = encode(name)

    def read() -> str | None:
        if os.environ is not environ:
            return os.environ.get(name)
        raw = data.get(key)
        return None if raw is None else str(decode(raw))

    return read


_read_env = _variable_reader(ENV)


def bounded(value: object, limit: int = MAX_CHARS) -> JSONValue:
    """Content as JSON text cut to ``limit`` characters, so one prompt cannot flood the pipeline."""
    if isinstance(value, str):
        text = value
    else:
        ok, converted = to_json_value(value)
        if not ok:
            return None
        text = json.dumps(converted, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "…[truncated]"
