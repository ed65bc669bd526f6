"""The exit codes of every ``multi-llm-otel`` command, in one place."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "stopped_by"]


class ExitCode(IntEnum):
    OK = 0
    # ingest: lines rejected; check: an endpoint does not answer; demo: a live call failed.
    PROBLEM = 1
    USAGE = 2
    EXPORT_FAILED = 3
    # check: a setting cannot be used; ingest: the sink cannot be written.
    INVALID_SETTINGS = 4


def stopped_by(signum: int) -> int:
    """The shell's convention for a run a signal cut short."""
    return 128 + signum
