"""What the commands tell their user: diagnostics on stderr around a progress line, the SDK's
reports of lost telemetry, loss counts, endpoints without credentials, and counted nouns."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import IO, Final
from urllib.parse import urlsplit, urlunsplit

from multi_llm_otel import _diagnostics

__all__ = ["LOSS_KINDS", "ExportWatch", "Reporter", "counted", "redact_url", "stats_delta"]

_MESSAGE_LIMIT: Final = 600

# The kinds of ``stats()`` that count telemetry the export pipeline lost.
LOSS_KINDS: Final = ("export_failed_", "queue_dropped_", "shutdown_abandoned_", "dropped_after_shutdown_")


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``1 line``, ``2 lines``, ``1,000 lines``."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def stats_delta(before: dict[str, int]) -> dict[str, int]:
    """What ``stats()`` counted since ``before`` was taken."""
    return {k: n - before.get(k, 0) for k, n in _diagnostics.stats().items() if n > before.get(k, 0)}


def losses(delta: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in delta.items() if k.startswith(LOSS_KINDS)}


def redact_url(url: str) -> str:
    """The endpoint without credentials: user info and query values become ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = (
        "&".join(p.split("=", 1)[0] + "=***" if "=" in p else p for p in parts.query.split("&")) if parts.query else ""
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class Reporter:
    """Diagnostics on one stream, shared by the reader and the exporter's thread; keeps an
    optional one-line progress display out of the way of the messages."""

    def __init__(self, err: IO[str], progress: bool) -> None:
        self.err = err
        self.progress = progress
        self._lock = threading.Lock()
        self._shown = False
        self._last = 0.0

    def say(self, message: str) -> None:
        with self._lock:
            self._clear()
            self.err.write(message + "\n")
            self.err.flush()

    def show(self, status: str) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        with self._lock:
            self._last = now
            self.err.write("\r" + status + "\x1b[K")
            self.err.flush()
            self._shown = True

    def done(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        if self._shown:
            self.err.write("\r\x1b[K")
            self._shown = False


# Warnings of the SDK and the OTLP exporters that mean telemetry was dropped. The others are
# retries in progress ("Transient error ...") or harmless repeats ("... ignoring call").
_LOSS_WARNINGS: Final = (
    "Queue full",
    "Dropping",
    "Exporter already shutdown, ignoring batch",
    "Shutdown in progress, aborting retry",
)


class ExportWatch(logging.Handler):
    """Shows the warnings of the SDK, the OTLP exporters and this library through the reporter,
    and counts the SDK's reports of lost telemetry, since its flush reports success regardless.

    This library also counts lost items in ``stats()`` where its set-up can see them (failed
    exports, queue evictions); the log reports here catch what is only logged. Neither can say
    which events a failed batch held, and an exporter that fails silently goes unseen.
    """

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter
        self.failures = 0
        self._loggers = [logging.getLogger("opentelemetry"), logging.getLogger("multi_llm_otel")]
        self._saved: list[tuple[int, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if len(message) > _MESSAGE_LIMIT:
            message = message[:_MESSAGE_LIMIT] + "…"
        if not record.name.startswith("opentelemetry"):
            self.reporter.say(message)
            return
        loss = record.levelno >= logging.ERROR or str(record.msg).startswith(_LOSS_WARNINGS)
        if loss:
            self.failures += 1
        self.reporter.say(f"multi-llm-otel: export {'failure' if loss else 'note'}: {message}")

    def __enter__(self) -> ExportWatch:
        for logger in self._loggers:
            self._saved.append((logger.level, logger.propagate))
            # Shown once, by the reporter, clear of the progress line; not again through the root.
            logger.propagate = False
            logger.setLevel(logging.WARNING)
            logger.addHandler(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for logger, (level, propagate) in zip(self._loggers, self._saved, strict=True):
            logger.removeHandler(self)
            logger.setLevel(level)
            logger.propagate = propagate
        self._saved.clear()
