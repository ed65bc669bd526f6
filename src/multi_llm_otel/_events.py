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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from multi_llm_otel import _diagnostics
from multi_llm_otel._json_value import JSONValue, _clean_str, to_json_value
from multi_llm_otel._rfc3339 import parse_relaxed
from multi_llm_otel._serde_json import (
    EVENT_FIELDS,
    MAX_DEPTH,
    ParsedJson,
    _deeper_than,
    _field_of,
    _has_lone_surrogate,
    _OutOfRange,
    parse_json_document,
)

__all__ = ["BusinessEvent", "EventScope"]

# What chrono writes (0 to 9 fraction digits, ``Z``): parsed directly; anything else goes
# through the port of chrono's relaxed RFC 3339 parser below.
_CANONICAL = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z", re.ASCII)
# The forms the uuid crate parses: simple, hyphenated, braced and URN; any version and variant.
_HEX = "[0-9a-fA-F]"
_HYPHENATED = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
_UUID_TEXT = re.compile(f"{_HEX}{{32}}|{_HYPHENATED}|\\{{{_HYPHENATED}\\}}|[uU][rR][nN]:[uU][uU][iI][dD]:{_HYPHENATED}")


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


# An enum member read from its class goes through a descriptor each time.
_SAFETY_UNKNOWN: Final = uuid.SafeUUID.unknown


def _uuid4() -> uuid.UUID:
    """A random (version 4) UUID, made the way ``UUID`` unpickles: the constructor's argument
    checks cost more than the random bits, and every call makes three events."""
    value = object.__new__(uuid.UUID)
    object.__setattr__(value, "int", (_ids.getrandbits(128) & _V4_CLEAR) | _V4_SET)
    object.__setattr__(value, "is_safe", _SAFETY_UNKNOWN)
    return value


def uuid_text(value: uuid.UUID) -> str:
    """``str(value)``, at half its cost: every event's id becomes an attribute."""
    digits = "%032x" % value.int  # noqa: UP031 - faster than a format specifier
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


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
            if len(data) != len(EVENT_FIELDS):
                raise ValueError(f"event: a sequence of {len(data)} values; the fields are {len(EVENT_FIELDS)}")
            data = dict(zip(EVENT_FIELDS, data, strict=True))
        if not isinstance(data, dict):
            raise ValueError(f"event: expected a JSON object, got {type(data).__name__}")
        for name in EVENT_FIELDS:
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
        duplicated = parsed.duplicated(data, EVENT_FIELDS)
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
