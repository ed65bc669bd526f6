"""Self-diagnostics: the library never raises into its host, so what it could not do is
counted here and warned about once per kind, where a user can read it."""

from __future__ import annotations

import logging
import threading
from collections import Counter

_logger = logging.getLogger("multi_llm_otel")
_lock = threading.Lock()
_counts: Counter[str] = Counter()
_warned: set[str] = set()


def report(kind: str, detail: str = "", exc: BaseException | None = None) -> None:
    """Count one problem of ``kind`` and log a warning the first time that kind occurs."""
    with _lock:
        _counts[kind] += 1
        first = kind not in _warned
        _warned.add(kind)
    if first:
        _logger.warning(
            "multi-llm-otel: %s%s (reported once; see multi_llm_otel.stats())",
            kind,
            f": {detail}" if detail else "",
            exc_info=exc,
        )


def count(kind: str) -> None:
    """Count an expected, harmless outcome that deserves a number but no warning."""
    with _lock:
        _counts[kind] += 1


def stats() -> dict[str, int]:
    """What the library had to drop, truncate or skip since start (or the last reset), by kind."""
    with _lock:
        return dict(_counts)


def reset_stats() -> None:
    """Zero the counters and re-arm the one-time warnings (for tests)."""
    with _lock:
        _counts.clear()
        _warned.clear()
