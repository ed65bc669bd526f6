"""JSON text read as serde_json reads it, where ``json.loads`` reads it differently.

serde_json refuses NaN and Infinity literals, numbers past f64, lone surrogate escapes and
nesting past 127 levels, reads integers outside i64 and u64 as floats, and leaves a repeated key
for serde's derive to refuse. ``parse_json_document`` parses once with hooks that record those
cases, so the event readers (``BusinessEvent.from_json``, ``_serde_lines``) can refuse what the
Rust crate refuses and name the field it is in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EVENT_FIELDS", "MAX_DEPTH", "ParsedJson", "parse_json_document"]

# serde_json's nesting limit: its 128th level of arrays and objects is refused.
MAX_DEPTH = 127
# A lone-surrogate escape (or character) may be in the text: only then is the parsed value searched.
_SURROGATE_TEXT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
# A ``BusinessEvent``'s fields in serde's order: errors name these bare, any other key quoted.
EVENT_FIELDS = ("id", "event_type", "metadata", "created_at")


class _NotJson:
    """What ``json.loads`` makes of a NaN or Infinity literal here, so the field can be named."""

    def __init__(self, name: str) -> None:
        self.name = name


@dataclass(frozen=True, slots=True)
class ParsedJson:
    """A parsed JSON document and what serde would see in it that ``json.loads`` hides."""

    value: object
    # Whether the text has enough brackets to reach serde_json's nesting limit.
    deep: bool
    # Whether a number past f64 may have been read (as an ``_OutOfRange``).
    out_of_range: bool
    # A number past f64 inside a "metadata" member that a later duplicated key hid from the
    # parsed value: serde_json still read it, and refused it.
    hidden_out_of_range: bool = False

    @staticmethod
    def duplicated(obj: object, names: tuple[str, ...]) -> str | None:
        """The first of ``names`` that ``obj`` (a parsed object) holds more than once."""
        if not isinstance(obj, _Duplicated):
            return None
        return next((name for name in names if name in obj.keys_twice), None)


_U64_MAX = 2**64 - 1
_I64_MIN = -(2**63)


class _OutOfRange:
    """A number past f64: serde_json refuses it where it reads a value (metadata), and skips
    it in a field it ignores."""

    def __init__(self, text: str) -> None:
        self.text = text


# Counts of values made by the hooks below, in any thread: a parse that sees one change looks
# for the values it made (another thread's change only costs that look).
_seen = {"out_of_range": 0, "constant": 0, "duplicate": 0}


class _Duplicated(dict):  # type: ignore[type-arg]
    """A parsed object in which a key appeared more than once (the last value kept, as
    serde_json's map keeps it); serde's derive refuses a repeated field."""

    __slots__ = ("keys_twice",)
    keys_twice: frozenset[str]


def _pairs(items: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(items)
    if len(obj) == len(items):
        return obj
    seen: set[str] = set()
    twice = _Duplicated(obj)
    twice.keys_twice = frozenset(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
    _seen["duplicate"] += 1
    return twice


def _serde_int(text: str) -> int | float | _OutOfRange:
    """serde_json reads an integer outside i64 and u64 as an f64."""
    if len(text) <= 18:
        return int(text)
    if len(text) <= 21:
        value = int(text)
        if _I64_MIN <= value <= _U64_MAX:
            return value
    return _serde_float(text)


def _serde_float(text: str) -> float | _OutOfRange:
    value = float(text)
    if math.isinf(value):
        _seen["out_of_range"] += 1
        return _OutOfRange(text)
    return value


def _constant(name: str) -> _NotJson:
    _seen["constant"] += 1
    return _NotJson(name)


_DECODER = json.JSONDecoder(
    parse_int=_serde_int, parse_float=_serde_float, parse_constant=_constant, object_pairs_hook=_pairs
)


def parse_json_document(text: str | bytes) -> ParsedJson:
    """Strict JSON as serde_json reads it: NaN and Infinity literals and numbers past f64 are
    refused, integers past 64 bits become floats, duplicated keys are recorded. Lone surrogate
    escapes, which serde_json refuses, are refused."""
    try:
        # serde_json reads UTF-8 only (json.loads would also guess UTF-16 and UTF-32).
        string = text.decode("utf-8") if isinstance(text, (bytes, bytearray)) else text
    except UnicodeDecodeError as exc:
        raise ValueError(f"malformed JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    before = dict(_seen)
    try:
        data = _DECODER.decode(string)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ValueError("malformed JSON: nested too deeply") from None
    if _seen["constant"] != before["constant"]:
        found = _first(data, lambda value: isinstance(value, _NotJson))
        if found is not None:
            where = _field_of(data, lambda value: isinstance(value, _NotJson))
            raise ValueError(f"{where or 'event'}: {found.name} is not valid JSON")  # type: ignore[attr-defined]
    big = _seen["out_of_range"] != before["out_of_range"]
    brackets = string.count("[") + string.count("{")
    # serde_json rejects a lone surrogate escape; json.loads decodes it. Searched for only
    # when the text has an escape that could be one, so ordinary events pay one regex scan.
    if _SURROGATE_TEXT.search(string):
        where = _field_of(data, _has_lone_surrogate)
        if where is not None:
            raise ValueError(f"{where}: a lone surrogate escape is not valid Unicode (serde_json rejects it)")
    hidden = big and _seen["duplicate"] != before["duplicate"] and _hidden_out_of_range(string)
    return ParsedJson(data, brackets > MAX_DEPTH, big, hidden)


def _first(data: object, bad: Callable[[object], bool]) -> object | None:
    stack = [data]
    while stack:
        item = stack.pop()
        if bad(item):
            return item
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _hidden_out_of_range(text: str) -> bool:
    """Whether a number past f64 sits anywhere under a "metadata" key, duplicated keys kept."""
    pairs_seen: list[list[tuple[str, object]]] = []

    def keep(items: list[tuple[str, object]]) -> list[tuple[str, object]]:
        pairs_seen.append(items)
        return items

    json.loads(text, object_pairs_hook=keep, parse_int=_serde_int, parse_float=_serde_float)
    for items in pairs_seen:
        for key, value in items:
            if key == "metadata" and _holds_out_of_range(value):
                return True
    return False


def _holds_out_of_range(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _OutOfRange):
            return True
        if isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _deeper_than(value: object, levels: int) -> bool:
    """Whether ``value`` nests more than ``levels`` arrays and objects (counting itself)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > levels:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _has_lone_surrogate(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _field_of(data: object, bad: Callable[[object], bool]) -> str | None:
    """The name of the top-level field of a parsed event that holds a ``bad`` value or key
    (``"event"`` when it cannot tell), or ``None`` when there is none."""

    def inside(value: object) -> bool:
        if bad(value):
            return True
        if isinstance(value, list):
            return any(inside(v) for v in value)
        if isinstance(value, dict):
            return any(inside(k) or inside(v) for k, v in value.items())
        return False

    try:
        if isinstance(data, dict):
            for name, value in data.items():
                if inside(name) or inside(value):
                    return name if name in EVENT_FIELDS else repr(name)
            return None
        return "event" if inside(data) else None
    except RecursionError:
        return "event"
