"""The event model of the multi-llm ``events`` module: ``BusinessEvent`` and ``EventScope``.

The JSON forms are those the Rust crate's serde derives write and read, so events cross the
language boundary both ways. Two differences are deliberate and documented:

- ``created_at`` keeps microseconds (Python's ``datetime``); digits past the sixth that a Rust
  service wrote are truncated, never rounded, so a timestamp never moves into the future.
- ``id`` must be a UUID version 4 and ``metadata`` a JSON object; the Rust type accepts any
  UUID and any JSON value, but everything the crate itself writes satisfies both.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from multi_llm_otel import _health
from multi_llm_otel._json_value import JSONValue, to_json_value

__all__ = ["BusinessEvent", "EventScope"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z"
)
_UTC_OFFSETS = {"Z", "z", "+00:00", "-00:00"}


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with chrono's ``AutoSi`` precision (0, 3 or 6 digits), as serde writes it."""
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micros = moment.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def parse_timestamp(text: object) -> datetime:
    """Parse an RFC 3339 UTC timestamp; sub-microsecond digits are truncated."""
    if not isinstance(text, str):
        raise ValueError(f"created_at: expected an RFC 3339 string, got {type(text).__name__}")
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"created_at: {text!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset not in _UTC_OFFSETS:
        raise ValueError(f"created_at: {text!r} is not in UTC (offset {offset}); write it with 'Z'")
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        # A leap second (":60") is what chrono writes for one; fold it into the next second.
        leap = int(second) == 60
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute),
            59 if leap else int(second), micros, tzinfo=timezone.utc,
        )
    except ValueError as exc:
        raise ValueError(f"created_at: {text!r} is not a valid date and time ({exc})") from None
    return moment + timedelta(seconds=1) if leap else moment


def _check_id(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            raise ValueError(f"id: {value!r} is not a UUID") from None
    else:
        raise ValueError(f"id: expected a UUID string, got {type(value).__name__}")
    if parsed.version != 4 or parsed.variant != uuid.RFC_4122:
        raise ValueError(f"id: {parsed} is not a version 4 UUID")
    return parsed


def _check_created_at(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"created_at: expected a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("created_at: a naive datetime; use an aware one in UTC")
    if offset:
        raise ValueError(f"created_at: {value.isoformat()} is not in UTC")
    return value if value.tzinfo is timezone.utc else value.replace(tzinfo=timezone.utc)


def _reject_constant(name: str) -> None:
    raise ValueError(f"metadata: {name} is not valid JSON")


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
        event.id = uuid.uuid4()
        event.event_type = str(event_type)
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
        """The JSON object serde writes for this event, as Python values."""
        return {
            "id": str(self.id),
            "event_type": self.event_type,
            "metadata": self.metadata,
            "created_at": format_timestamp(self.created_at),
        }

    def to_json(self) -> str:
        """Compact JSON in serde's field order; metadata keys sorted as serde_json's map sorts them."""
        return (
            f'{{"id":"{self.id}","event_type":{json.dumps(self.event_type, ensure_ascii=False)},'
            f'"metadata":{json.dumps(self.metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)},'
            f'"created_at":"{format_timestamp(self.created_at)}"}}'
        )

    @classmethod
    def from_dict(cls, data: object) -> BusinessEvent:
        """Build an event from the parsed JSON object; ``ValueError`` names the bad field.

        Unknown fields are ignored, as serde's derive ignores them.
        """
        if not isinstance(data, dict):
            raise ValueError(f"event: expected a JSON object, got {type(data).__name__}")
        for name in ("id", "event_type", "metadata", "created_at"):
            if name not in data:
                raise ValueError(f"{name}: missing")
        event_type = data["event_type"]
        if not isinstance(event_type, str):
            raise ValueError(f"event_type: expected a string, got {type(event_type).__name__}")
        metadata = data["metadata"]
        if not isinstance(metadata, dict):
            raise ValueError(f"metadata: expected a JSON object, got {type(metadata).__name__}")
        event = object.__new__(cls)
        event.id = _check_id(data["id"])
        event.event_type = event_type
        event.metadata = metadata
        event.created_at = parse_timestamp(data["created_at"])
        return event

    @classmethod
    def from_json(cls, text: str | bytes) -> BusinessEvent:
        """Parse one event as serde writes it; ``ValueError`` for malformed JSON or a bad field."""
        return cls.from_dict(parse_json(text))


def parse_json(text: str | bytes) -> object:
    """Strict JSON: NaN and Infinity literals are rejected as serde_json rejects them."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"malformed JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ValueError("malformed JSON: nested too deeply") from None


def _put(target: dict[str, JSONValue], key: object, value: object) -> None:
    if not isinstance(key, str):
        _health.report("metadata_key_rejected", f"a metadata key of type {type(key).__name__}")
        return
    ok, converted = to_json_value(value)
    if ok:
        target[key] = converted


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
        if value == "System":
            return _SYSTEM
        if isinstance(value, dict) and len(value) == 1 and "User" in value:
            user_id = value["User"]
            if isinstance(user_id, str):
                return cls(user_id)
        raise ValueError(f'scope: expected "System" or {{"User": "<id>"}}, got {value!r}')

    def __repr__(self) -> str:
        return "EventScope.system()" if self.user_id is None else f"EventScope.user({self.user_id!r})"


_SYSTEM = EventScope(None)
