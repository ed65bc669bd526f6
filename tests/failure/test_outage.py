"""Collector outages with the real Collector: absent at start, ``kill -9`` mid-run, restarted.

One application process lives through all of it. What must hold:

- no emit and no decorated call waits for the network (the latencies are printed);
- every item the application handed over either arrived or is counted in ``stats()``
  (``export_failed_*``, ``queue_dropped_*``), with one warning per kind, and the counts are
  exported too (``multi_llm.otel.diagnostics``) once the Collector is back;
- after a restart, telemetry flows again without any action of the application.

The only loss the application cannot see is what the killed Collector had acknowledged but
not yet written: it is printed as ``lost_inside_killed_collector``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.collector._procs import wait_until
from tests.failure._harness import App, SinkCollector, arrived_metrics, phase_counts

pytestmark = pytest.mark.collector

# Shorter than the default 10 s so that a refused batch is given up (and counted) within a
# second or two instead of ~7 s; queue sizes and batch delays keep their defaults.
ENV = {"OTEL_EXPORTER_OTLP_TIMEOUT": "2"}


def test_absent_killed_restarted(otelcol: Path, tmp_path: Path, figures: Callable[..., None]) -> None:
    service = "failure-outage"
    collector = SinkCollector(otelcol, tmp_path)
    app = App({"service_name": service, "endpoint": collector.http_url}, ENV, tmp_path / "app.log")
    try:
        # --- 1. No Collector at all --------------------------------------------------------
        absent = app("mixed", phase="absent", n=50)
        flushed = app("flush")
        stats = wait_until(
            lambda: (
                (s := app("stats")).get("export_failed_logs", 0) >= 150 and s.get("export_failed_spans", 0) >= 50 and s
            ),
            30,
            "the failed exports to be counted",
        )
        # Everything emitted while nothing listened is counted, exactly: 50 events + 50 calls
        # of two log records each; 50 spans.
        assert stats["export_failed_logs"] == 150
        assert stats["export_failed_spans"] == 50
        assert stats.get("queue_dropped_logs", 0) == 0
        figures(
            absent_emit_max_ms=absent["emit"]["max_ms"],
            absent_call_max_ms=absent["call"]["max_ms"],
            absent_emit_p99_ms=absent["emit"]["p99_ms"],
            absent_call_p99_ms=absent["call"]["p99_ms"],
            absent_flush_s=flushed["seconds"],
            absent_force_flush_returned=flushed["ok"],
        )

        # --- 2. The Collector starts: no action needed from the application -----------------
        figures(collector_start_s=collector.start())
        up = app("mixed", phase="up", n=100)
        app("flush")
        arrived = wait_until(
            lambda: (
                (c := phase_counts(collector.requests(), service))["spans"]["up"] >= 100
                and c["events"]["up"] >= 100
                and c["call_logs"]["up"] >= 200
                and c
            ),
            30,
            "phase 'up' to arrive",
            collector.server,
        )
        assert arrived["event_records"]["up"] == 100
        assert arrived["call_logs"]["up"] == 200
        assert arrived["spans"]["up"] == 100
        assert arrived["events"]["absent"] == 0, "given-up batches are not re-sent"
        figures(up_emit_max_ms=up["emit"]["max_ms"], up_call_max_ms=up["call"]["max_ms"])

        # --- 3. kill -9 in the middle of steady traffic --------------------------------------
        before = app("stats")
        rounds = 2000
        app.send("mixed", phase="kill", n=rounds, pace_s=0.0005)
        time.sleep(0.7)
        collector.kill()
        during = app.answer()
        app("flush")
        after = wait_until(lambda: _settled(app), 40, "the kill's failed exports to settle")
        counts = phase_counts(collector.requests(), service)
        sent_logs = rounds * 3  # one event and two call events per round
        failed_logs = after.get("export_failed_logs", 0) - before.get("export_failed_logs", 0)
        dropped_logs = after.get("queue_dropped_logs", 0) - before.get("queue_dropped_logs", 0)
        arrived_logs = counts["event_records"]["kill"] + counts["call_logs"]["kill"]
        assert failed_logs + dropped_logs > 0, "the outage must show in stats()"
        figures(
            kill_emit_max_ms=during["emit"]["max_ms"],
            kill_call_max_ms=during["call"]["max_ms"],
            kill_emit_p99_ms=during["emit"]["p99_ms"],
            kill_call_p99_ms=during["call"]["p99_ms"],
            kill_sent_logs=sent_logs,
            kill_arrived_logs=arrived_logs,
            kill_export_failed_logs=failed_logs,
            kill_queue_dropped_logs=dropped_logs,
            kill_lost_inside_killed_collector=sent_logs - arrived_logs - failed_logs - dropped_logs,
            kill_sent_spans=rounds,
            kill_arrived_spans=counts["spans"]["kill"],
            kill_export_failed_spans=after.get("export_failed_spans", 0) - before.get("export_failed_spans", 0),
            kill_queue_dropped_spans=after.get("queue_dropped_spans", 0) - before.get("queue_dropped_spans", 0),
        )

        # --- 4. Restarted: flows again -------------------------------------------------------
        figures(collector_restart_s=collector.start())
        restart = app("mixed", phase="restart", n=100)
        app("flush")
        arrived = wait_until(
            lambda: (
                (c := phase_counts(collector.requests(), service))["spans"]["restart"] >= 100
                and c["call_logs"]["restart"] >= 200
                and c["events"]["restart"] >= 100
                and c
            ),
            30,
            "phase 'restart' to arrive",
            collector.server,
        )
        assert arrived["event_records"]["restart"] == 100
        assert arrived["spans"]["restart"] == 100
        figures(restart_emit_max_ms=restart["emit"]["max_ms"], restart_call_max_ms=restart["call"]["max_ms"])

        # The counts reach the backend too, as a cumulative counter.
        final = app("stats")
        app("flush")
        points = wait_until(
            lambda: arrived_metrics(collector.requests(), service).get("multi_llm.otel.diagnostics"),
            30,
            "the diagnostics metric",
        )
        exported = {
            next(a["value"]["stringValue"] for a in p["attributes"] if a["key"] == "multi_llm.diagnostic.kind"): int(
                p["asInt"]
            )
            for p in points
        }
        assert exported["export_failed_logs"] >= 150
        assert exported["export_failed_logs"] <= final["export_failed_logs"]

        code, exit_s = app.close()
        assert code == 0
        figures(exit_with_collector_up_s=exit_s)
    finally:
        app.kill()
        collector.stop()

    # One warning per kind, however many failures.
    log = (tmp_path / "app.log").read_text()
    assert log.count("multi-llm-otel: export_failed_logs") == 1
    assert log.count("multi-llm-otel: export_failed_spans") == 1


def _settled(app: App) -> dict[str, int] | None:
    """stats() once nothing waits in the queues and two reads agree."""
    first = app("stats")
    queued = app("queued")
    if any(queued.values()):
        return None
    time.sleep(0.5)
    second = app("stats")
    return second if first == second else None
