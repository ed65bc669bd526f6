"""The Collector's persistent queue: what a Collector has accepted survives its own kill -9
while the next hop is down.

    application --OTLP/HTTP--> Collector A (relay.yaml) --OTLP/gRPC--> Collector B (sink.yaml) --> file

B is killed; the application sends (A accepts: the application sees success); A is killed
with ``kill -9``; B and then A are started again; the count is taken in B's file. With the
queue on disk (relay-persistent-queue.yaml) everything arrives; with the default in-memory
queue, the same sequence loses what A held, which is why the overlay exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.collector._procs import LOOPBACK, wait_until
from tests.failure._harness import HERE, App, SinkCollector, phase_counts

pytestmark = pytest.mark.collector

ROUNDS = 300


def wait_for_spans(collector: SinkCollector, service: str, phase: str) -> None:
    def arrived() -> bool:
        return phase_counts(collector.requests(), service)["spans"][phase] >= ROUNDS

    wait_until(arrived, 20, f"phase {phase}", collector.server)


@pytest.mark.parametrize("persistent", [True, False], ids=["file_storage", "in_memory"])
def test_accepted_events_survive_a_collector_restart(
    otelcol: Path, tmp_path: Path, figures: Callable[..., None], persistent: bool
) -> None:
    service = f"failure-persistent-{persistent}"
    b = SinkCollector(otelcol, tmp_path / "b")
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    configs = [HERE / "relay.yaml"] + ([HERE / "relay-persistent-queue.yaml"] if persistent else [])
    a = SinkCollector(
        otelcol,
        tmp_path / "a",
        configs,
        {"MLO_NEXT_ENDPOINT": f"{LOOPBACK}:{b.grpc_port}", "MLO_STATE_DIR": str(tmp_path / "a" / "state")},
    )
    app = None
    try:
        b.start()
        a.start()
        app = App({"service_name": service, "endpoint": a.http_url}, log=tmp_path / "app.log")
        # The path works end to end.
        app("mixed", phase="before", n=ROUNDS)
        app("flush")
        wait_until(
            lambda: phase_counts(b.requests(), service)["spans"]["before"] >= ROUNDS, 20, "phase before", b.server
        )

        b.kill()
        app("mixed", phase="outage", n=ROUNDS)
        app("flush")
        stats = app("stats")
        # A accepted everything: the application has nothing to report.
        assert not any(k.startswith(("export_failed", "queue_dropped")) for k in stats), stats
        time.sleep(0.5)  # A retries against the dead B meanwhile
        a.kill()

        b.start()
        restarted = time.perf_counter()
        a.start()
        expected = {"events": ROUNDS, "call_logs": 2 * ROUNDS, "spans": ROUNDS}

        def delivered() -> dict[str, int] | None:
            counts = phase_counts(b.requests(), service)
            got = {k: counts[k]["outage"] for k in expected}
            return got if got == expected else None

        if persistent:
            got = wait_until(delivered, 30, "the queued data to reach B", a.server)
            figures(replay_after_restart_s=time.perf_counter() - restarted)
            counts = phase_counts(b.requests(), service)
            figures(duplicates=counts["event_records"]["outage"] - counts["events"]["outage"])
            assert got == expected
        else:
            time.sleep(3)
            counts = phase_counts(b.requests(), service)
            lost = {k: expected[k] - counts[k]["outage"] for k in expected}
            figures(lost_with_in_memory_queue=lost)
            assert lost == expected, "an in-memory queue cannot survive kill -9"
        # And new data flows through the restarted pair.
        app("mixed", phase="after", n=ROUNDS)
        app("flush")
        wait_for_spans(b, service, "after")
    finally:
        if app is not None:
            app.kill()
        a.stop()
        b.stop()
