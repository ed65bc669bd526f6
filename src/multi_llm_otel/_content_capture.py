"""Opt-in content capture: prompts and completions are exported only when the user says so."""

from __future__ import annotations

import json
import os
from typing import Final

from multi_llm_otel._json_value import JSONValue, to_json_value

ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MAX_CHARS: Final = 16_384
_OFF = frozenset({"", "0", "false", "no", "off", "no_content", "none"})


def enabled_by_env() -> bool:
    """The GenAI instrumentations' common switch; any value but an explicit "off" turns it on."""
    value = os.environ.get(ENV)
    return value is not None and value.strip().lower() not in _OFF


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
