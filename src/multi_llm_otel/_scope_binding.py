"""The event scope bound to the current request, in a context variable.

Context variables follow threads and asyncio tasks the way a request does, so a scope bound
for one request never leaks into another. The scope is deliberately not OpenTelemetry Baggage:
Baggage travels in outgoing HTTP headers, and a user id has no business leaving the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from multi_llm_otel._events import EventScope

_bound: ContextVar[EventScope | None] = ContextVar("multi_llm_otel.scope", default=None)
_process_default: list[EventScope] = [EventScope.system()]


@contextmanager
def bind_scope(scope: EventScope) -> Iterator[EventScope]:
    """Make ``scope`` the scope of every event emitted inside the ``with`` block."""
    if not isinstance(scope, EventScope):
        raise TypeError(f"bind_scope() takes an EventScope, not {type(scope).__name__}")
    token = _bound.set(scope)
    try:
        yield scope
    finally:
        _bound.reset(token)


def current_scope() -> EventScope:
    """The bound scope, else the process scope given to ``configure()``, else system scope."""
    return _bound.get() or _process_default[0]


def set_process_scope(scope: EventScope) -> None:
    _process_default[0] = scope
