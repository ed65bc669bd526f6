"""Self-diagnostics: the library never raises into its host, so what it could not do is
counted here and warned about once per kind, where a user can read it."""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter

_logger = logging.getLogger("multi_llm_otel")
_lock = threading.Lock()
_counts: Counter[str] = Counter()
_warned: set[str] = set()


def _after_fork_in_child() -> None:
    # Another thread may have held the lock when fork() copied the process (an application
    # thread counting evictions at a full queue, say): the child's copy would stay locked.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def report(kind: str, detail: str = "", exc: BaseException | None = None, amount: int = 1) -> None:
    """Count ``amount`` (items, or one occurrence) of ``kind`` and log a warning the first time
    that kind occurs."""
    with _lock:
        _counts[kind] += amount
        first = kind not in _warned
        _warned.add(kind)
    if first:
        _logger.warning(
            "multi-llm-otel: %s%s (reported once; see multi_llm_otel.stats())",
            kind,
            f": {detail}" if detail else "",
            exc_info=exc,
        )


def count(kind: str, amount: int = 1) -> None:
    """Count an expected, harmless outcome that deserves a number but no warning."""
    with _lock:
        _counts[kind] += amount


def stats() -> dict[str, int]:
    """What the library had to drop, truncate or skip since start (or the last reset), by kind.

    Kinds ending in ``_spans``, ``_logs`` or ``_metric_points`` count telemetry items (for
    example ``export_failed_logs``: log records in exports that failed; ``queue_dropped_spans``:
    spans evicted from a full batch queue); the others count occurrences."""
    with _lock:
        return dict(_counts)


def reset_stats() -> None:
    """Zero the counters and re-arm the one-time warnings (for tests)."""
    with _lock:
        _counts.clear()
        _warned.clear()
