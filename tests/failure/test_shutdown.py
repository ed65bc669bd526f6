"""Exit: what is queued is flushed on every normal way out, and nothing can hang it.

The application runs in a child process and sends to the real Collector; the test counts
what arrived. Spans wait up to 5 s in their batch queue and log records 1 s, so everything
emitted just before the exit is still queued when the exit begins: only the flush can
deliver it.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.collector._procs import free_port, wait_until
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


def test_sigterm_while_the_program_polls_stats_never_deadlocks(tmp_path: Path, figures: Callable[..., None]) -> None:
    """SIGTERM lands while the main thread holds the diagnostics lock (it polls ``stats()``
    in a loop) and the endpoint is down, so the flush has losses to count: every process
    still exits, by SIGTERM, within its shutdown bound plus start-up slack."""
    processes, bound_s = 10, 30.0
    options = {"service_name": "failure-sigterm-polling", "endpoint": f"http://127.0.0.1:{free_port()}"}
    options["shutdown_timeout"] = 2
    apps = [App(options, log=tmp_path / f"app{i}.log") for i in range(processes)]
    try:
        for app in apps:
            app("mixed", phase="p", n=50)
            app.send("poll_stats")
        for app in apps:
            assert app.answer() == {"polling": True}
        time.sleep(0.5)
        sent = time.monotonic()
        for app in apps:
            os.kill(app.proc.pid, signal.SIGTERM)
        exits: list[float] = []
        codes: list[int | None] = []
        for app in apps:
            try:
                codes.append(app.proc.wait(max(0.1, sent + bound_s - time.monotonic())))
                exits.append(time.monotonic() - sent)
            except subprocess.TimeoutExpired:
                codes.append(None)
        figures(processes=processes, exited=len(exits), slowest_exit_s=max(exits, default=float("nan")))
        assert codes == [-signal.SIGTERM] * processes, f"still running {bound_s} s after SIGTERM: {codes}"
    finally:
        for app in apps:
            app.kill()


def _stats_sum(stats: dict[str, int], signal_name: str) -> dict[str, int]:
    kinds = ("export_failed", "queue_dropped", "shutdown_abandoned", "dropped_after_shutdown")
    return {k: stats.get(f"{k}_{signal_name}", 0) for k in kinds if stats.get(f"{k}_{signal_name}", 0)}


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_timed_out_shutdown_counts_every_record_once(
    hung: HungServer, tmp_path: Path, figures: Callable[..., None], protocol: str
) -> None:
    """Nothing can arrive at a hung endpoint, so every record must be in exactly one count:
    evicted, failed, or abandoned by the timed-out shutdown, queued or in flight (the batch
    being sent when the deadline passes). When the in-flight export ends later (the endpoint
    drops its connections), it is not counted a second time."""
    rounds = 3_000
    options = {"service_name": "failure-hung-accounting", "endpoint": f"http://127.0.0.1:{hung.port}"}
    options.update(protocol=protocol, shutdown_timeout=2)
    env = {"OTEL_EXPORTER_OTLP_TIMEOUT": "4"}
    with App(options, env, tmp_path / "app.log") as app:
        app("mixed", phase="p", n=rounds)
        done = app("shutdown")
        at_shutdown = app("stats")
        hung.close()
        assert app("join_exports", timeout=30)["alive"] == 0, "the in-flight export did not end"
        later = app("stats")
        code, _ = app.close()
    assert done["ok"] is False
    assert code == 0
    logs, spans = _stats_sum(at_shutdown, "logs"), _stats_sum(at_shutdown, "spans")
    figures(
        sent_logs=3 * rounds,
        logs_at_shutdown=logs,
        sent_spans=rounds,
        spans_at_shutdown=spans,
        metric_points_at_shutdown=_stats_sum(at_shutdown, "metric_points"),
    )
    assert sum(logs.values()) == 3 * rounds, logs
    assert sum(spans.values()) == rounds, spans
    assert _stats_sum(later, "logs") == logs
    assert _stats_sum(later, "spans") == spans
    # The reader's final metrics export was in flight too: counted then, not again.
    assert at_shutdown.get("shutdown_abandoned_metric_points", 0) > 0
    assert _stats_sum(later, "metric_points") == _stats_sum(at_shutdown, "metric_points")


class SlowProxy:
    """Forwards OTLP/HTTP requests to the Collector, each after ``delay_s``: an export that
    takes a while, so a signal can land while the exit flush is under way."""

    def __init__(self, target: str, delay_s: float) -> None:
        proxy = self
        self.target = target
        self.delay_s = delay_s
        self.received = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    proxy.received += 1
                time.sleep(proxy.delay_s)
                request = urllib.request.Request(
                    proxy.target + self.path, data=body, headers={"Content-Type": self.headers["Content-Type"]}
                )
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status, content = answer.status, answer.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_sigterm_during_the_exit_flush_waits_for_it(
    collector: SinkCollector, tmp_path: Path, figures: Callable[..., None]
) -> None:
    """A process already flushing on its way out gets SIGTERM (``multiprocessing``'s
    ``Pool.terminate()`` does this to its workers): the flush goes on to its end instead of
    being cut short by the second shutdown."""
    service = "failure-sigterm-during-exit"
    events = 10
    proxy = SlowProxy(collector.http_url, delay_s=0.4)
    # Two records per batch: the exit flush is five requests in a row, 0.4 s each.
    env = {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "2", "OTEL_BLRP_SCHEDULE_DELAY": "60000"}
    options = {"service_name": service, "endpoint": proxy.url, "shutdown_timeout": 10}
    try:
        with App(options, env, tmp_path / "app.log") as app:
            app("emit", phase="p", n=events)
            seen = proxy.received
            assert app.proc.stdin is not None
            assert app.proc.stdout is not None
            app.proc.stdin.close()
            assert "main_returned_at" in app.proc.stdout.readline()
            wait_until(lambda: proxy.received > seen, 10, "the exit flush to begin")
            os.kill(app.proc.pid, signal.SIGTERM)
            app.proc.wait(30)
        counts = wait_until(
            lambda: (c := phase_counts(collector.requests(), service))["events"]["p"] >= events and c,
            5,
            "the events",
        )
    except AssertionError:
        counts = phase_counts(collector.requests(), service)
    finally:
        proxy.close()
    figures(sent=events, arrived=counts["event_records"]["p"])
    assert counts["event_records"]["p"] == events


def test_pool_terminate_during_the_workers_exit_flush(
    collector: SinkCollector, tmp_path: Path, figures: Callable[..., None]
) -> None:
    """``Pool.close()`` then ``terminate()``: the workers are flushing on their way out (five
    slow requests each) when SIGTERM reaches them; what they emitted still arrives."""
    service = "failure-pool-terminate"
    events, processes = 10, 2
    proxy = SlowProxy(collector.http_url, delay_s=0.4)
    env = {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "2", "OTEL_BLRP_SCHEDULE_DELAY": "60000"}
    options = {"service_name": service, "endpoint": proxy.url, "shutdown_timeout": 10}
    phases = [f"t-pool{i}" for i in range(processes)]
    try:
        with App(options, env, tmp_path / "app.log") as app:
            app("pool_terminate", phase="t", n=events, processes=processes, wait_s=1.0)
            app.close()
        try:
            counts = wait_until(
                lambda: (
                    (c := phase_counts(collector.requests(), service))
                    and all(c["events"][p] >= events for p in phases)
                    and c
                ),
                5,
                "the workers' events",
            )
        except AssertionError:
            counts = phase_counts(collector.requests(), service)
    finally:
        proxy.close()
    arrived = {p: counts["event_records"][p] for p in phases}
    figures(sent_per_worker=events, arrived=arrived)
    assert arrived == dict.fromkeys(phases, events)
