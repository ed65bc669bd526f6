"""Processes made by fork(): children emit correctly, parents keep working, nothing is sent
twice.

The SDK restarts its export threads in a forked child and empties the child's copy of the
queues (the parent still owns those items). A child that exits normally flushes through the
inherited ``atexit`` registration (gunicorn workers leave this way); a ``multiprocessing``
child leaves with ``os._exit()``, which skips ``atexit``: ``configure()`` registers a
multiprocessing finalizer for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.collector._procs import wait_until
from tests.failure._harness import App, SinkCollector, phase_counts

pytestmark = pytest.mark.collector

N, CALLS = 40, 20


@pytest.fixture(scope="module")
def collector(otelcol: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkCollector]:
    with SinkCollector(otelcol, tmp_path_factory.mktemp("fork-sink")) as sink:
        yield sink


def wait_for(collector: SinkCollector, service: str, phases: list[str]) -> dict[str, object]:
    def complete() -> dict[str, object] | None:
        counts = phase_counts(collector.requests(), service)
        done = all(
            counts["events"][p] >= N and counts["call_logs"][p] >= 2 * CALLS and counts["spans"][p] >= CALLS
            for p in phases
        )
        return counts if done else None

    return wait_until(complete, 20, f"{phases} to arrive", collector.server)


def assert_exact(counts: dict[str, object], phases: list[str]) -> None:
    for p in phases:
        assert counts["event_records"][p] == N, p  # type: ignore[index]
        assert counts["call_logs"][p] == 2 * CALLS, p  # type: ignore[index]
        assert counts["spans"][p] == CALLS, p  # type: ignore[index]


def test_os_fork_child_emits_and_parent_keeps_working(
    collector: SinkCollector, tmp_path: Path, figures: Callable[..., None]
) -> None:
    service = "failure-fork"
    with App({"service_name": service, "endpoint": collector.http_url}, log=tmp_path / "app.log") as app:
        # Queued in the parent when the fork happens (spans wait up to 5 s for their batch).
        app("emit", phase="before", n=N)
        app("calls", phase="before", n=CALLS)
        forked = app("fork", phase="fork", n=N, calls=CALLS)
        assert forked["child_exit"] == 0
        app("emit", phase="after", n=N)
        app("calls", phase="after", n=CALLS)
        code, _ = app.close()
    assert code == 0
    phases = ["before", "fork-child", "fork-parent", "after"]
    counts = wait_for(collector, service, phases)
    # Exactly once each: the child did not re-send what the parent had queued before the fork.
    assert_exact(counts, phases)


def test_multiprocessing_fork_children_emit(collector: SinkCollector, tmp_path: Path) -> None:
    service = "failure-multiprocessing"
    with App({"service_name": service, "endpoint": collector.http_url}, log=tmp_path / "app.log") as app:
        app("emit", phase="before", n=N)
        app("calls", phase="before", n=CALLS)
        result = app("multiprocessing", phase="mp", n=N, calls=CALLS, processes=2)
        assert result["exit_codes"] == [0, 0]
        app("emit", phase="after", n=N)
        app("calls", phase="after", n=CALLS)
        code, _ = app.close()
    assert code == 0
    phases = ["before", "mp-proc0", "mp-proc1", "mp-parent", "mp-pool0", "mp-pool1", "after"]
    counts = wait_for(collector, service, phases)
    assert_exact(counts, phases)
