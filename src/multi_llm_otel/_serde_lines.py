"""One JSON line of a Rust service as the events it holds, each with its scope.

A line is what serde writes for one of: a ``BusinessEvent`` (system scope, as the crate's API
treats an event without one); an event with its scope, ``{"event": {...}, "scope": ...}`` (the
form the README's remote derive of ``EventScope`` gives); or a JSON array of either
(``serde_json::to_string(&events)``). A line is taken whole or refused whole, as serde takes a
``Vec``. Each event then goes through the producer dialect table of ``_dialects``.
"""

from __future__ import annotations

from multi_llm_otel import _dialects
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._serde_json import ParsedJson, parse_json_document

__all__ = ["parse_events"]

_WRAPPER = ("event", "scope")


def _one(data: object, parsed: ParsedJson, depth: int) -> tuple[BusinessEvent, EventScope]:
    if isinstance(data, dict) and "event" in data and "event_type" not in data:
        duplicated = parsed.duplicated(data, _WRAPPER)
        if duplicated is not None:
            raise ValueError(f"{duplicated}: duplicate field (serde refuses it)")
        # A typo in a user scope must not turn a user's event into a system one unnoticed.
        if "scope" not in data:
            raise ValueError('scope: missing; write "System" or {"User": "<id>"}')
        scope = EventScope.from_json_value(data["scope"])
        inner = data["event"]
        if not isinstance(inner, (dict, list)):
            raise ValueError(f"event: expected a JSON object, got {type(inner).__name__}")
        try:
            return BusinessEvent.from_document(inner, parsed, depth + 1), scope
        except ValueError as exc:
            raise ValueError(f"event.{exc}") from None
    if isinstance(data, dict) and "scope" in data:
        raise ValueError('scope: a bare event has no scope field; wrap it: {"event": {...}, "scope": ...}')
    return BusinessEvent.from_document(data, parsed, depth), EventScope.system()


def parse_events(text: str | bytes) -> list[tuple[BusinessEvent, EventScope]]:
    """The events of one line, normalised, derived events after the one they come from;
    ``ValueError`` says what is wrong (``[n]`` names the element of an array)."""
    parsed = parse_json_document(text)
    data = parsed.value
    # A list whose first value is text is one event in serde's sequence form, not a list of events.
    if isinstance(data, list) and not (data and isinstance(data[0], str)):
        found = []
        for index, item in enumerate(data):
            try:
                found.append(_one(item, parsed, 2))
            except ValueError as exc:
                raise ValueError(f"[{index}].{exc}") from None
    else:
        found = [_one(data, parsed, 1)]
    return [(each, scope) for event, scope in found for each in _dialects.normalise(event)]
