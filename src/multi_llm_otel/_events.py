"""The event model of the multi-llm ``events`` module: ``BusinessEvent`` and ``EventScope``.

The JSON forms are those the Rust crate's serde derives write and read, so events cross the
language boundary both ways. ``from_json`` accepts exactly the lines serde (with uuid, chrono and
serde_json) accepts, checked by a differential test against the crate itself, except where
Python's types cannot follow, deliberately:

- ``created_at`` keeps microseconds (Python's ``datetime``); digits past the sixth are
  truncated, never rounded, so a timestamp never moves into the future; a leap second
  (``:60``) becomes the next second; a time outside the years 1 to 9999 (in UTC) is refused.
- ``metadata`` must be a JSON object: the Rust type takes any JSON value, but the crate itself
  only writes objects and the mapping needs keys.
- A field the event does not have that is nested more deeply than Python's parser recurses
  (about 1,000 levels) is refused; serde skips it without limit.

Text with lone surrogates, which serde_json rejects and UTF-8 cannot carry, is refused by
``from_json`` / ``from_dict`` (``ValueError``) and replaced by U+FFFD everywhere else, so it can
never break an export.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from multi_llm_otel import _diagnostics
from multi_llm_otel._json_value import JSONValue, _clean_str, to_json_value
from multi_llm_otel._rfc3339 import parse_relaxed

__all__ = ["BusinessEvent", "EventScope"]

# What chrono writes (0 to 9 fraction digits, ``Z``): parsed directly; anything else goes
# through the port of chrono's relaxed RFC 3339 parser below.
_CANONICAL = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z", re.ASCII)
# The forms the uuid crate parses: simple, hyphenated, braced and URN; any version and variant.
_HEX = "[0-9a-fA-F]"
_HYPHENATED = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
_UUID_TEXT = re.compile(f"{_HEX}{{32}}|{_HYPHENATED}|\\{{{_HYPHENATED}\\}}|[uU][rR][nN]:[uU][uU][iI][dD]:{_HYPHENATED}")
# serde_json's nesting limit: its 128th level of arrays and objects is refused.
MAX_DEPTH = 127
# A lone-surrogate escape (or character) may be in the text: only then is the parsed value searched.
_SURROGATE_TEXT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_FIELDS = ("id", "event_type", "metadata", "created_at")


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with chrono's ``AutoSi`` precision (0, 3 or 6 digits), as serde writes it."""
    # Not strftime: its %Y drops the zero padding of years before 1000 on glibc.
    base = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    micros = moment.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def parse_timestamp(text: object) -> datetime:
    """Parse ``created_at`` as chrono does (any offset, converted to UTC); digits past the
    microsecond are truncated and a leap second becomes the next second."""
    if not isinstance(text, str):
        raise ValueError(f"created_at: expected an RFC 3339 string, got {type(text).__name__}")
    match = _CANONICAL.fullmatch(text)
    if match is not None:
        year, month, day, hour, minute, second, fraction = match.groups()
        micros = int((fraction or "0")[:6].ljust(6, "0"))
        try:
            if second != "60":
                return datetime(
                    int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=timezone.utc
                )
        except ValueError:
            pass
    try:
        return parse_relaxed(text)[0]
    except ValueError as exc:
        raise ValueError(f"created_at: {text!r} is not an RFC 3339 timestamp ({exc})") from None


# The version and variant bits of a random (version 4) UUID, RFC 9562.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_V4_SET = (0x4000 << 64) | (0x8000 << 48)
# Event ids must be unique, not secret: a generator of the library's own, seeded from the
# system's randomness (a system call per id cost more than the rest of ``new``), untouched by
# the application's ``random.seed()``, and seeded afresh in every forked child so that parent
# and child never make the same ids.
_ids = random.Random()  # noqa: S311 - ids, not secrets (see above)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)


def _uuid4() -> uuid.UUID:
    """A random (version 4) UUID, made the way ``UUID`` unpickles: the constructor's argument
    checks cost more than the random bits, and every call makes three events."""
    value = object.__new__(uuid.UUID)
    object.__setattr__(value, "int", (_ids.getrandbits(128) & _V4_CLEAR) | _V4_SET)
    object.__setattr__(value, "is_safe", uuid.SafeUUID.unknown)
    return value


def _check_id(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise ValueError(f"id: expected a UUID string, got {type(value).__name__}")
    if _UUID_TEXT.fullmatch(value) is None:
        raise ValueError(f"id: {value!r} is not a UUID (hyphenated, simple, braced or urn:uuid: form)")
    # Python strips only a lower-case "urn:uuid:"; the crate takes any case.
    return uuid.UUID(value[-36:] if len(value) == 45 else value)


def _check_created_at(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"created_at: expected a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("created_at: a naive datetime; use an aware one in UTC")
    if offset:
        raise ValueError(f"created_at: {value.isoformat()} is not in UTC")
    return value if value.tzinfo is timezone.utc else value.replace(tzinfo=timezone.utc)


def _strict(value: object, path: str, seen: set[int]) -> JSONValue:
    """A copy of ``value`` if it is a JSON value, else ``ValueError`` naming where it is not."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} is not valid JSON")
        return float(value)
    if isinstance(value, str):
        if _has_lone_surrogate(value):
            raise ValueError(f"{path}: text with a lone surrogate is not valid Unicode")
        return str.__str__(value)
    if isinstance(value, (list, tuple, dict)):
        if id(value) in seen:
            raise ValueError(f"{path}: a cyclic structure is not valid JSON")
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                out: dict[str, JSONValue] = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise ValueError(f"{path}: a key of type {type(key).__name__}; JSON object keys are strings")
                    out[_strict(key, path, seen)] = _strict(item, f"{path}[{key!r}]", seen)  # type: ignore[index]
                return out
            return [_strict(item, f"{path}[{i}]", seen) for i, item in enumerate(value)]
        finally:
            seen.discard(id(value))
    raise ValueError(f"{path}: a value of type {type(value).__name__} is not valid JSON")


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
                    return name if name in _FIELDS else repr(name)
            return None
        return "event" if inside(data) else None
    except RecursionError:
        return "event"


@dataclass(slots=True, eq=True)
class BusinessEvent:
    """One business event: an id, a type, a JSON-object metadata and a UTC creation time."""

    id: uuid.UUID
    event_type: str
    metadata: dict[str, JSONValue] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        self.id = _check_id(self.id)
        if not isinstance(self.event_type, str):
            raise ValueError(f"event_type: expected a string, got {type(self.event_type).__name__}")
        self.event_type = _clean_str(self.event_type)
        if not isinstance(self.metadata, dict):
            raise ValueError(f"metadata: expected a JSON object, got {type(self.metadata).__name__}")
        self.created_at = _check_created_at(self.created_at)
        clean: dict[str, JSONValue] = {}
        for key, value in self.metadata.items():
            _put(clean, key, value)
        self.metadata = clean

    @classmethod
    def new(cls, event_type: str) -> BusinessEvent:
        """A new event of ``event_type``: fresh UUID v4, current UTC time, empty metadata."""
        event = object.__new__(cls)
        event.id = _uuid4()
        event.event_type = _clean_str(str(event_type))
        event.metadata = {}
        event.created_at = datetime.now(timezone.utc)
        return event

    def with_metadata(self, key: str, value: object) -> BusinessEvent:
        """Set one metadata key and return this event, so calls chain.

        A value JSON cannot represent is skipped and reported, never raised: see
        ``multi_llm_otel._json_value`` for the rule, and ``multi_llm_otel.stats()``.
        """
        _put(self.metadata, key, value)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON object serde writes for this event, as Python values (a copy: changing it
        leaves the event alone)."""
        return {
            "id": str(self.id),
            "event_type": self.event_type,
            "metadata": copy.deepcopy(self.metadata),
            "created_at": format_timestamp(self.created_at),
        }

    def to_json(self) -> str:
        """Compact JSON in serde's field order; metadata keys sorted as serde_json's map sorts them."""
        event_type = json.dumps(self.event_type, ensure_ascii=False)
        metadata = json.dumps(self.metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return (
            f'{{"id":"{self.id}","event_type":{event_type},"metadata":{metadata},'
            f'"created_at":"{format_timestamp(self.created_at)}"}}'
        )

    @classmethod
    def from_dict(cls, data: object) -> BusinessEvent:
        """Build an event from the parsed JSON object; ``ValueError`` names the bad field.

        Unknown fields are ignored, as serde's derive ignores them. Python values JSON cannot
        represent (NaN, a set, a non-string key, a lone surrogate) are a ``ValueError`` too:
        the dict form is JSON, not the lenient ``with_metadata`` rule.
        """
        return cls._from_parsed(data, strict=True)

    @classmethod
    def _from_parsed(cls, data: object, *, strict: bool) -> BusinessEvent:
        if isinstance(data, list):
            # serde's derive also reads a struct from a sequence of its fields, in order.
            if len(data) != len(_FIELDS):
                raise ValueError(f"event: a sequence of {len(data)} values; the fields are {len(_FIELDS)}")
            data = dict(zip(_FIELDS, data, strict=True))
        if not isinstance(data, dict):
            raise ValueError(f"event: expected a JSON object, got {type(data).__name__}")
        for name in _FIELDS:
            if name not in data:
                raise ValueError(f"{name}: missing")
        event_type = data["event_type"]
        if not isinstance(event_type, str):
            raise ValueError(f"event_type: expected a string, got {type(event_type).__name__}")
        metadata = data["metadata"]
        if not isinstance(metadata, dict):
            raise ValueError(f"metadata: expected a JSON object, got {type(metadata).__name__}")
        if strict:
            event_type = _strict(event_type, "event_type", set())
            try:
                metadata = _strict(metadata, "metadata", set())
            except RecursionError:
                raise ValueError("metadata: nested too deeply") from None
        event = object.__new__(cls)
        event.id = _check_id(data["id"])
        event.event_type = event_type
        event.metadata = metadata
        event.created_at = parse_timestamp(data["created_at"])
        return event

    @classmethod
    def from_json(cls, text: str | bytes) -> BusinessEvent:
        """Parse one event as serde reads it; ``ValueError`` for malformed JSON or a bad field."""
        parsed = parse_json_document(text)
        return cls.from_document(parsed.value, parsed, depth=1)

    @classmethod
    def from_document(cls, data: object, parsed: ParsedJson, depth: int) -> BusinessEvent:
        """The event in ``data``, one value of a parsed document, found ``depth`` arrays and
        objects deep (1 for a line that is the event)."""
        duplicated = parsed.duplicated(data, _FIELDS)
        if duplicated is not None:
            raise ValueError(f"{duplicated}: duplicate field (serde refuses it)")
        event = cls._from_parsed(data, strict=False)
        if parsed.hidden_out_of_range:
            raise ValueError("metadata: a number out of range (past f64; serde_json refuses it)")
        if parsed.out_of_range:
            where = _field_of({"metadata": event.metadata}, lambda value: isinstance(value, _OutOfRange))
            if where is not None:
                raise ValueError("metadata: a number out of range (past f64; serde_json refuses it)")
        if parsed.deep and _deeper_than(event.metadata, MAX_DEPTH - depth):
            raise ValueError(f"metadata: nested more than {MAX_DEPTH} levels in all (serde_json's limit)")
        return event


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


def _put(target: dict[str, JSONValue], key: object, value: object) -> None:
    if not isinstance(key, str):
        _diagnostics.report("metadata_key_rejected", f"a metadata key of type {type(key).__name__}")
        return
    ok, converted = to_json_value(value)
    if ok:
        target[_clean_str(key)] = converted


@dataclass(frozen=True, slots=True)
class EventScope:
    """Where an event belongs: to one user (``EventScope.user(id)``) or to the system."""

    user_id: str | None = None

    @classmethod
    def user(cls, user_id: str) -> EventScope:
        if not isinstance(user_id, str):
            raise ValueError(f"user_id: expected a string, got {type(user_id).__name__}")
        return cls(user_id)

    @classmethod
    def system(cls) -> EventScope:
        return _SYSTEM

    @property
    def is_user(self) -> bool:
        return self.user_id is not None

    @property
    def kind(self) -> str:
        """``"user"`` or ``"system"``: the value of the ``multi_llm.event.scope`` attribute."""
        return "system" if self.user_id is None else "user"

    def to_json_value(self) -> JSONValue:
        """serde's default enum encoding: ``{"User": "<id>"}`` or ``"System"``."""
        return "System" if self.user_id is None else {"User": self.user_id}

    @classmethod
    def from_json_value(cls, value: object) -> EventScope:
        # serde's unit variant is also read from its map form, {"System": null}.
        if value == "System" or value == {"System": None}:
            return _SYSTEM
        if isinstance(value, dict) and len(value) == 1 and "User" in value:
            user_id = value["User"]
            if isinstance(user_id, str):
                return cls(user_id)
        raise ValueError(f'scope: expected "System" or {{"User": "<id>"}}, got {value!r}')

    def __repr__(self) -> str:
        return "EventScope.system()" if self.user_id is None else f"EventScope.user({self.user_id!r})"


_SYSTEM = EventScope(None)
