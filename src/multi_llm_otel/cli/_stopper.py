"""SIGINT and SIGTERM end a command with its summary instead of a traceback."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "Stopper"]


class Interrupted(BaseException):
    """Raised by the signal handler only while the command waits: for input, or for the exporter.
    Not an ``Exception``, so the SDK's catch-alls around a flush let it through."""


class Stopper:
    """SIGINT / SIGTERM end the run with a summary instead of a traceback."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.wake = threading.Event()
        self.blocked = False
        self._saved: list[tuple[int, object]] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.wake.set()
        if self.blocked:
            raise Interrupted

    def stopped(self) -> bool:
        return self.signum is not None

    def block(self) -> None:
        self.blocked = True

    def unblock(self) -> None:
        self.blocked = False

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """A wait the signal cuts short (``Interrupted``), instead of being handled after it."""
        self.blocked = True
        try:
            if self.signum is not None:
                raise Interrupted
            yield
        finally:
            self.blocked = False

    def __enter__(self) -> Stopper:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._saved.append((signum, signal.signal(signum, self)))
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved:
            signal.signal(signum, handler)  # type: ignore[arg-type]
