"""Processes made by fork(): children emit correctly, parents keep working, nothing is sent
twice.

The SDK restarts its export threads in a forked child and empties the child's copy of the
queues (the parent still owns those items). A child that exits normally flushes through the
inherited ``atexit`` registration (gunicorn workers leave this way); a ``multiprocessing``
child leaves with ``os._exit()``, which skips ``atexit``: ``configure()`` registers a
multiprocessing finalizer for it.
"""

from __future__ import annotations

import json
from collections import Counter
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


@pytest.mark.parametrize("start", ["os.fork", "multiprocessing"])
def test_forked_children_get_their_own_otlp_connections(
    collector: SinkCollector, tmp_path: Path, figures: Callable[..., None], start: str
) -> None:
    """The parent holds a kept-alive OTLP/HTTP connection when it forks; parent and children
    then export at the same time. Sharing that socket would interleave their requests and
    lose batches (nothing counts them); each process must use connections of its own."""
    service = f"failure-fork-connections-{start}"
    children, rounds, per_round = 4, 15, 10
    with App({"service_name": service, "endpoint": collector.http_url}, log=tmp_path / "app.log") as app:
        result = app("fork_storm", phase="storm", children=children, rounds=rounds, per_round=per_round, start=start)
        assert result["child_exits"] == [0] * children
        stats = app("stats")
        code, _ = app.close()
    assert code == 0
    phases = ["storm-parent"] + [f"storm-child{c}" for c in range(children)]

    def complete() -> dict[str, object] | None:
        counts = phase_counts(collector.requests(), service)
        return counts if all(counts["events"][p] >= rounds * per_round for p in phases) else None

    try:
        counts = wait_until(complete, 20, "every process's events", collector.server)
    except AssertionError:
        counts = phase_counts(collector.requests(), service)
    arrived = {p: counts["event_records"][p] for p in phases}  # type: ignore[index]
    figures(sent_per_process=rounds * per_round, arrived=arrived, parent_stats=stats)
    assert arrived == dict.fromkeys(phases, rounds * per_round)


def test_fork_while_the_json_lines_sink_writes(tmp_path: Path, figures: Callable[..., None]) -> None:
    """Children forked while a thread of the parent is writing to the JSON-lines sink: the
    child's copy of the sink's lock must not stay held (the child would wait out its shutdown
    bound at exit and lose what it emitted)."""
    sink = tmp_path / "sink.jsonl"
    children, n = 30, 5
    options = {"service_name": "failure-fork-sink", "sink": str(sink), "shutdown_timeout": 5}
    with App(options, log=tmp_path / "app.log") as app:
        result = app("fork_while_writing", phase="w", children=children, n=n)
        code, _ = app.close()
    assert code == 0
    assert result["child_exits"] == [0] * children
    found: Counter[str] = Counter()
    for line in sink.read_text().splitlines():
        record = json.loads(line)
        phase = record.get("attributes", {}).get("phase", "")
        if record.get("signal") == "log" and phase.startswith("w-child"):
            found[phase] += 1
    figures(
        children=children,
        slowest_child_s=max(result["child_seconds"]),
        children_over_1s=sum(s > 1 for s in result["child_seconds"]),
    )
    assert {f"w-child{c}": found[f"w-child{c}"] for c in range(children)} == {f"w-child{c}": n for c in range(children)}
