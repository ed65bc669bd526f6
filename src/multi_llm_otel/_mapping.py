"""The pure mapping from a business event and its scope to OpenTelemetry attribute values.

Span events and log records get the same attributes; the log record also carries the metadata
as a structured body. Nested metadata values become compact JSON strings in attributes: Jaeger's
model, Prometheus labels and the Collector's attribute processors all handle strings, none of
them handles maps everywhere. The body keeps the structure.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Final, Union

from multi_llm_otel import _diagnostics
from multi_llm_otel._attribute_names import (
    DROPPED_KEYS,
    EVENT_ID,
    EVENT_SCOPE,
    GENAI_NAMES,
    RESPONSE_FINISH_REASONS,
    TRUNCATED_KEYS,
    USER_ID,
)
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._json_value import JSONValue, _clean_str
from multi_llm_otel._log_body import put as put_in_body

AttributeValue = Union[str, bool, int, float, Sequence[str], Sequence[bool], Sequence[int], Sequence[float]]

__all__ = [
    "DROPPED_KEYS",
    "EVENT_ID",
    "EVENT_SCOPE",
    "GENAI_NAMES",
    "RESERVED",
    "TRUNCATED_KEYS",
    "USER_ID",
    "AttributeValue",
    "attributes_and_body",
    "event_attributes",
    "hash_user_id",
    "scope_attributes",
    "to_attribute",
]

RESERVED: Final = frozenset({EVENT_ID, EVENT_SCOPE, USER_ID, DROPPED_KEYS, TRUNCATED_KEYS})

_INT64 = (-(2**63), 2**63 - 1)


@functools.lru_cache(maxsize=4096)
def hash_user_id(user_id: str, key: bytes) -> str:
    """Keyed hash (HMAC-SHA-256) of a user id: stable per key, not reversible without it.
    Cached: every call hashes the same id for its span and each of its events."""
    # surrogatepass: an id with a lone surrogate still hashes (and stays distinct) instead of raising.
    return "hmac-sha256:" + hmac.new(key, user_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def to_attribute(value: JSONValue) -> AttributeValue | None:
    """One metadata value as an attribute value; ``None`` (JSON null) has no attribute form."""
    if value is None:
        return None
    if isinstance(value, (str, bool, float)):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, list) and value and _homogeneous_scalars(value):
        return tuple(value)  # type: ignore[return-value]
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _homogeneous_scalars(values: list[JSONValue]) -> bool:
    """OpenTelemetry arrays hold one scalar type; ints must fit in 64 bits."""
    first = type(values[0])
    if first not in (str, bool, int, float) or any(type(v) is not first for v in values):
        return False
    return first is not int or all(_INT64[0] <= v <= _INT64[1] for v in values)  # type: ignore[operator]


def scope_attributes(scope: EventScope, user_id_key: bytes | None) -> dict[str, AttributeValue]:
    if scope.user_id is None:
        return {EVENT_SCOPE: "system"}
    # A lone surrogate in the id would make the OTLP encoder drop the attribute: replace it.
    user = _clean_str(scope.user_id) if user_id_key is None else hash_user_id(scope.user_id, user_id_key)
    return {EVENT_SCOPE: "user", USER_ID: user}


def event_attributes(
    event: BusinessEvent,
    scope: EventScope,
    *,
    user_id_key: bytes | None = None,
    max_attributes: int = 128,
    max_value_length: int | None = None,
) -> dict[str, AttributeValue]:
    """The attributes of the span event and of the log record for one event.

    OpenTelemetry drops attributes past its count limit and cuts strings past its length limit
    without a trace on the event. Both limits are applied here instead, so the loss is visible:
    ``multi_llm.metadata.dropped_keys`` counts keys left out (the log body still has them: keys
    past the limit, the empty key, and keys that would overwrite the event's own attributes) and
    ``multi_llm.metadata.truncated_keys`` names the keys whose text was shortened. The empty key,
    valid in JSON but not as an attribute key, is left out and counted the same way.
    """
    return attributes_and_body(
        str(event.id),
        event.metadata,
        scope_attributes(scope, user_id_key),
        max_attributes=max_attributes,
        max_value_length=max_value_length,
        body=None,
    )


def attributes_and_body(
    event_id: str,
    metadata: dict[str, JSONValue],
    scope_attrs: dict[str, AttributeValue],
    *,
    max_attributes: int,
    max_value_length: int | None,
    body: dict[str, JSONValue] | None,
) -> dict[str, AttributeValue]:
    """``event_attributes`` for an event whose id text and scope attributes are known; given a
    ``body``, it also fills it with the log record body (``_log_body``) in the same pass over
    the metadata."""
    attrs: dict[str, AttributeValue] = {EVENT_ID: event_id}
    attrs.update(scope_attrs)
    dropped = 0
    truncated: list[str] = []
    # Two places stay free for the two loss markers.
    room = max_attributes - 2
    # Every key and its GenAI name fit and no text is cut (the decorator's events under the
    # default limits): no key needs the limits' bookkeeping.
    within_limits = max_value_length is None and len(attrs) + 2 * len(metadata) <= room
    if within_limits and body is not None and _plain_pass(metadata, attrs, body):
        return attrs
    genai_name = GENAI_NAMES.get
    for key, raw in metadata.items():
        # Most values are plain scalars (all the decorator's are): they are their own attribute
        # and, under an ASCII key and as ASCII text, their own body value.
        kind = type(raw)
        value: object
        if kind is str or kind is float or kind is bool or (kind is int and _INT64[0] <= raw <= _INT64[1]):  # type: ignore[operator]
            value = raw
            if body is not None:
                if type(key) is str and key.isascii() and (kind is not str or raw.isascii()):  # type: ignore[union-attr]
                    body[key] = raw
                else:
                    put_in_body(body, key, raw)
            if key in RESERVED or not key:
                value = _DROPPED
        else:
            value = _converted(key, raw, body)
        if value is None:
            continue
        genai = genai_name(key)
        if value is not _DROPPED and not within_limits:
            value = _within_limits(key, value, genai, attrs, room, max_value_length, truncated)
        if value is _DROPPED:
            dropped += 1
            continue
        attrs[key] = value  # type: ignore[assignment]
        if genai is not None and genai not in attrs:
            attrs[genai] = _genai_value(genai, value) if genai == RESPONSE_FINISH_REASONS else value  # type: ignore[arg-type,assignment]
    if dropped:
        attrs[DROPPED_KEYS] = dropped
        _diagnostics.report(
            "attributes_dropped", f"metadata keys empty, reserved or past the attribute count limit {max_attributes}"
        )
    if truncated:
        attrs[TRUNCATED_KEYS] = tuple(truncated)
        _diagnostics.report("attributes_truncated", f"metadata text past the length limit {max_value_length}")
    return attrs


def _plain_pass(metadata: dict[str, JSONValue], attrs: dict[str, AttributeValue], body: dict[str, JSONValue]) -> bool:
    """The pass below, for metadata within the limits whose keys are all plain attribute keys
    and whose values are all their own attribute and body value (ASCII text, a bool, a float,
    an int64, a non-empty list of ASCII text): the decorator's events, every one of them.
    Fills ``attrs`` and ``body`` the same (a GenAI name follows the other keys instead of its
    own) and returns True; False, having changed nothing, for any other metadata.

    Copying whole dictionaries instead of one key at a time is what makes it cheaper."""
    plan = _plan(metadata)
    if plan is None:
        return False
    lists = False
    for value in metadata.values():
        kind = type(value)
        if kind is str:
            if not value.isascii():  # type: ignore[union-attr]
                return False
        elif kind is int:
            if not _INT64[0] <= value <= _INT64[1]:  # type: ignore[operator]
                return False
        elif kind is list:
            if not value or not all(type(v) is str and v.isascii() for v in value):  # type: ignore[union-attr]
                return False
            lists = True
        elif kind is not float and kind is not bool:
            return False
    attrs.update(metadata)  # type: ignore[arg-type]
    body.update(metadata)
    if lists:
        for key, value in metadata.items():
            if type(value) is list:
                attrs[key] = tuple(value)  # type: ignore[assignment]
                body[key] = list(value)
    for key, genai in plan:
        if genai not in attrs:
            kept = attrs[key]
            attrs[genai] = _genai_value(genai, kept) if genai == RESPONSE_FINISH_REASONS else kept
    return True


def _plan(metadata: dict[str, JSONValue]) -> tuple[tuple[str, str], ...] | None:
    """The (key, GenAI name) pairs of the metadata's keys, if every key is a plain attribute key
    (ASCII text, neither empty nor reserved); else ``None``. Remembered per key sequence: the
    decorator's events come in a few shapes."""
    keys = tuple(metadata)
    plan = _PLANS.get(keys, _UNPLANNED)
    if plan is _UNPLANNED:
        plain = all(type(k) is str and k and k.isascii() and k not in RESERVED for k in keys)
        plan = tuple((k, GENAI_NAMES[k]) for k in keys if k in GENAI_NAMES) if plain else None
        if len(_PLANS) >= _PLANS_REMEMBERED:
            _PLANS.clear()
        _PLANS[keys] = plan
    return plan  # type: ignore[return-value]


_PLANS_REMEMBERED = 256
_PLANS: dict[tuple[str, ...], tuple[tuple[str, str], ...] | None] = {}
_UNPLANNED: Final = object()


# A key left out of the attributes and counted in ``multi_llm.metadata.dropped_keys``.
_DROPPED: Final = object()


def _converted(key: str, raw: JSONValue, body: dict[str, JSONValue] | None) -> object:
    """The attribute value of a metadata value that is no plain scalar (``None``: it has none,
    ``_DROPPED``: its key cannot be an attribute key), its body entry made on the way."""
    if key in RESERVED or not key:
        # Left out of the attributes unconverted; the body still has it.
        if body is not None:
            put_in_body(body, key, raw)
        return _DROPPED
    # Finish reasons: a list of text is an array attribute; ``to_attribute`` decides the rest,
    # before the body, so that a value it refuses fails the event alone.
    converted = _text_array(raw) if isinstance(raw, list) else None
    if converted is None:
        converted = to_attribute(raw)
    if body is not None:
        put_in_body(body, key, raw)
    return converted


def _within_limits(
    key: str,
    value: object,
    genai: str | None,
    attrs: dict[str, AttributeValue],
    room: int,
    max_value_length: int | None,
    truncated: list[str],
) -> object:
    """``value``, cut to the length limit (``key`` then joins ``truncated``), or ``_DROPPED``
    when it and its GenAI name would pass the count limit."""
    wanted = 1 if genai is None or genai in attrs else 2
    if len(attrs) + wanted > room:
        return _DROPPED
    if max_value_length is None:
        return value
    cut_value, cut = _truncate(value, max_value_length)  # type: ignore[arg-type]
    if cut:
        truncated.append(key)
    return cut_value


def _text_array(values: list[JSONValue]) -> AttributeValue | None:
    """A non-empty list of text as its array attribute, else ``None``."""
    for value in values:
        if type(value) is not str:
            return None
    return tuple(values) if values else None  # type: ignore[return-value]


def _genai_value(name: str, value: AttributeValue) -> AttributeValue:
    if name == RESPONSE_FINISH_REASONS and isinstance(value, str):
        return (value,)
    return value


def _truncate(value: AttributeValue, limit: int) -> tuple[AttributeValue, bool]:
    if isinstance(value, str):
        return (value, False) if len(value) <= limit else (value[:limit], True)
    if isinstance(value, tuple) and value and isinstance(value[0], str) and any(len(v) > limit for v in value):
        return tuple(v[:limit] for v in value), True
    return value, False
