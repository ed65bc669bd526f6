"""The SDK's ``BoundedAttributes`` for attributes that are clean already, made without cleaning
them again.

The SDK cleans an attribute mapping each time it takes one: ``Logger.emit`` for a log record,
``Span.add_event`` for a span event, key by key. Cleaning is idempotent on what it produced, and
changes nothing in a mapping whose values are scalars or tuples of scalars, within the limits.
For such a mapping, the copies the SDK would make are made here in one step.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from opentelemetry.attributes import BoundedAttributes

__all__ = ["kept_as_they_are", "made_in_one_step"]

_SCALARS = frozenset({str, bool, int, float})


def kept_as_they_are(values: Collection[Any]) -> bool:
    """Whether the SDK's cleaning keeps every one of ``values`` as it is (length limits aside):
    scalars, and tuples of scalars (it turns a list into a tuple)."""
    scalars = _SCALARS
    # One C-level test for the usual case, scalars only; then each value, for tuples.
    if scalars.issuperset(map(type, values)):
        return True
    for value in values:
        kind = type(value)
        if kind not in scalars and not (kind is tuple and scalars.issuperset(map(type, value))):
            return False
    return True


def made_in_one_step(
    items: dict[str, Any], max_count: int | None, max_length: int | None, *, immutable: bool
) -> BoundedAttributes:
    """A ``BoundedAttributes`` holding ``items`` (which it keeps, not copies) as they are: its
    constructor's state, set in one step."""
    made = object.__new__(BoundedAttributes)
    made.__dict__.update(
        _dict=items,
        maxlen=max_count,
        dropped=0,
        max_value_len=max_length,
        _lock=threading.Lock(),
        _immutable=immutable,
    )
    return made
