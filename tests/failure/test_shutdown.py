"""Exit: what is queued is flushed on every normal way out, and nothing can hang it.

The application runs in a child process and sends to the real Collector; the test counts
what arrived. Spans wait up to 5 s in their batch queue and log records 1 s, so everything
emitted just before the exit is still queued when the exit begins: only the flush can
deliver it.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.collector._procs import wait_until
from tests.failure._harness import App, SinkCollector, phase_counts

pytestmark = pytest.mark.collector

ROUNDS = 300


@pytest.fixture(scope="module")
def collector(otelcol: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkCollector]:
    with SinkCollector(otelcol, tmp_path_factory.mktemp("shutdown-sink")) as sink:
        yield sink


def assert_all_arrived(collector: SinkCollector, service: str, phase: str, rounds: int = ROUNDS) -> None:
    counts = wait_until(
        lambda: (
            (c := phase_counts(collector.requests(), service))["spans"][phase] >= rounds
            and c["events"][phase] >= rounds
            and c["call_logs"][phase] >= 2 * rounds
            and c
        ),
        15,
        f"{service} / {phase} to arrive",
        collector.server,
    )
    assert counts["event_records"][phase] == rounds
    assert counts["call_logs"][phase] == 2 * rounds
    assert counts["spans"][phase] == rounds


def test_handle_shutdown_flushes(collector: SinkCollector, tmp_path: Path, figures: Callable[..., None]) -> None:
    service = "failure-shutdown-handle"
    with App({"service_name": service, "endpoint": collector.http_url}, log=tmp_path / "app.log") as app:
        app("mixed", phase="p", n=ROUNDS)
        done = app("shutdown")
        assert done["ok"] is True
        assert app("shutdown")["ok"] is True, "a second shutdown is a no-op"
        code, exit_s = app.close()
    assert code == 0
    assert_all_arrived(collector, service, "p")
    figures(shutdown_s=done["seconds"], exit_after_shutdown_s=exit_s)


def test_atexit_flushes_when_the_program_never_calls_shutdown(
    collector: SinkCollector, tmp_path: Path, figures: Callable[..., None]
) -> None:
    service = "failure-shutdown-atexit"
    with App({"service_name": service, "endpoint": collector.http_url}, log=tmp_path / "app.log") as app:
        app("mixed", phase="p", n=ROUNDS)
        code, exit_s = app.close()
    assert code == 0
    assert_all_arrived(collector, service, "p")
    figures(exit_with_flush_s=exit_s)


def test_sigterm_flushes_then_dies_by_sigterm(
    collector: SinkCollector, tmp_path: Path, figures: Callable[..., None]
) -> None:
    service = "failure-shutdown-sigterm"
    with App({"service_name": service, "endpoint": collector.http_url}, log=tmp_path / "app.log") as app:
        app("mixed", phase="p", n=ROUNDS)
        sent = time.perf_counter()
        os.kill(app.proc.pid, signal.SIGTERM)
        code = app.proc.wait(30)
        took = time.perf_counter() - sent
    # The handler flushes, then re-raises SIGTERM with the default action: the exit status a
    # supervisor expects from a terminated process.
    assert code == -signal.SIGTERM
    assert_all_arrived(collector, service, "p")
    figures(sigterm_to_exit_s=took)


def test_sigterm_with_the_programs_own_handler_flushes_through_atexit(collector: SinkCollector, tmp_path: Path) -> None:
    """A program with its own SIGTERM handler keeps it (configure() installs none); when that
    handler exits normally, atexit flushes."""
    service = "failure-shutdown-own-handler"
    env = {"FAILURE_APP_SIGTERM": "sys.exit"}
    with App({"service_name": service, "endpoint": collector.http_url}, env, tmp_path / "app.log") as app:
        app("mixed", phase="p", n=ROUNDS)
        os.kill(app.proc.pid, signal.SIGTERM)
        code = app.proc.wait(30)
    assert code == 143
    assert_all_arrived(collector, service, "p")


class HungServer:
    """Accepts TCP connections and never answers: an exporter's worst case."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hung() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_hung_exporter_cannot_hang_exit(
    hung: HungServer, tmp_path: Path, figures: Callable[..., None], protocol: str
) -> None:
    options = {"service_name": "failure-hung", "endpoint": f"http://127.0.0.1:{hung.port}", "protocol": protocol}
    # Through the handle: it gives up at shutdown_timeout (default 5 s) and says so.
    with App(options, log=tmp_path / "handle.log") as app:
        app("mixed", phase="p", n=ROUNDS)
        done = app("shutdown")
        stats = app("stats")
        code, exit_after_s = app.close()
    assert done["ok"] is False
    assert stats["shutdown_timed_out"] == 1
    assert code == 0
    # At exit, without a shutdown call: atexit hits the same bound.
    with App(options, log=tmp_path / "atexit.log") as app:
        app("mixed", phase="p", n=ROUNDS)
        code, exit_s = app.close(timeout=60)
    assert code == 0
    log = (tmp_path / "atexit.log").read_text()
    assert "multi-llm-otel: shutdown_timed_out" in log
    figures(
        shutdown_returned_after_s=done["seconds"],
        exit_after_failed_shutdown_s=exit_after_s,
        atexit_exit_s=exit_s,
        abandoned_at_shutdown={k: v for k, v in stats.items() if k.startswith("shutdown_abandoned")},
    )


def test_a_hung_traces_endpoint_does_not_keep_logs_from_flushing(
    collector: SinkCollector, hung: HungServer, tmp_path: Path, figures: Callable[..., None]
) -> None:
    """Signals shut down in parallel under one deadline: a hung span exporter costs the
    deadline, not the log records."""
    service = "failure-hung-traces"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_url,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{hung.port}/v1/traces",
    }
    with App({"service_name": service}, env, tmp_path / "app.log") as app:
        app("mixed", phase="p", n=ROUNDS)
        code, exit_s = app.close()
    assert code == 0
    counts = wait_until(
        lambda: (
            (c := phase_counts(collector.requests(), service))["call_logs"]["p"] >= 2 * ROUNDS
            and c["events"]["p"] >= ROUNDS
            and c
        ),
        15,
        "the log records",
        collector.server,
    )
    assert counts["event_records"]["p"] == ROUNDS
    assert counts["spans"]["p"] == 0
    figures(exit_s=exit_s)
