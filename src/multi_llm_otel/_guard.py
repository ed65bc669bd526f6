"""The one rule for code that runs inside the host program's calls: instrumentation never
raises into it. A failure is counted and warned about once per kind (``_diagnostics``), and the
caller gets a fallback instead.

``KeyboardInterrupt`` and ``SystemExit`` belong to the program and pass through. Any other
``BaseException`` is caught too: one raised by an application object the instrumentation only
looked at (a property, a ``__class__``) must not take the call down.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

from multi_llm_otel import _diagnostics

__all__ = ["INSTRUMENTATION_FAILED", "contained", "describe", "never_raise"]

_PROGRAM_S_OWN = (KeyboardInterrupt, SystemExit)

F = TypeVar("F", bound=Callable[..., Any])

INSTRUMENTATION_FAILED: Final = "instrumentation_failed"


def describe(exc: BaseException) -> str:
    """``str(exc)``, or a description of it when its ``__str__`` raises."""
    try:
        return str(exc)
    except _PROGRAM_S_OWN:
        raise
    except BaseException:  # noqa: BLE001 - an exception whose __str__ raises is still described
        return f"<{type(exc).__qualname__}: str() failed>"


def never_raise(kind: str = INSTRUMENTATION_FAILED, fallback: Callable[[], Any] | None = None) -> Callable[[F], F]:
    """Decorate a function so that an exception it raises is reported as ``kind`` and
    ``fallback()`` (default: ``None``) is returned instead."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except _PROGRAM_S_OWN:
                raise
            except BaseException as exc:  # noqa: BLE001 - the one place instrumentation failures stop
                _report(kind, exc)
                return None if fallback is None else fallback()

        return guarded  # type: ignore[return-value]

    return decorate


class contained:
    """``with contained():`` runs a block whose exception is reported as ``kind`` and
    suppressed; ``failed`` says afterwards whether it was."""

    __slots__ = ("failed", "kind")

    def __init__(self, kind: str = INSTRUMENTATION_FAILED) -> None:
        self.kind = kind
        self.failed = False

    def __enter__(self) -> contained:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or isinstance(exc, _PROGRAM_S_OWN):
            return False
        self.failed = True
        _report(self.kind, exc)
        return True


def _report(kind: str, exc: BaseException) -> None:
    # At the recursion limit even the report can fail; the failure is still contained, which is
    # what matters to the program.
    with contextlib.suppress(Exception):
        _diagnostics.report(kind, describe(exc), exc)
