"""The one rule for code that runs inside the host program's calls: instrumentation never
raises into it. A failure is counted and warned about once per kind (``_diagnostics``), and the
caller gets a fallback instead.

Only ``Exception`` is caught: ``KeyboardInterrupt``, ``SystemExit`` and the like belong to the
program.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

from multi_llm_otel import _diagnostics

__all__ = ["INSTRUMENTATION_FAILED", "contained", "describe", "never_raise"]

F = TypeVar("F", bound=Callable[..., Any])

INSTRUMENTATION_FAILED: Final = "instrumentation_failed"


def describe(exc: BaseException) -> str:
    """``str(exc)``, or a description of it when its ``__str__`` raises."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises is still described
        return f"<{type(exc).__qualname__}: str() failed>"


def never_raise(kind: str = INSTRUMENTATION_FAILED, fallback: Callable[[], Any] | None = None) -> Callable[[F], F]:
    """Decorate a function so that an ``Exception`` it raises is reported as ``kind`` and
    ``fallback()`` (default: ``None``) is returned instead."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the one place instrumentation failures stop
                _diagnostics.report(kind, describe(exc), exc)
                return None if fallback is None else fallback()

        return guarded  # type: ignore[return-value]

    return decorate


class contained:
    """``with contained():`` runs a block whose ``Exception`` is reported as ``kind`` and
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
        if exc is None or not isinstance(exc, Exception):
            return False
        self.failed = True
        _diagnostics.report(self.kind, describe(exc), exc)
        return True
