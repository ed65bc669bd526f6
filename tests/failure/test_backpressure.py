"""Backpressure with nothing listening: the queues stay bounded, the callers never wait, and
every item is accounted for (exported, failed or evicted; never silently gone).

No Collector is needed: the endpoint is a free loopback port nobody listens on, which is what
an application sees while its Collector is down.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from tests.collector._procs import free_port
from tests.failure._harness import App

import multi_llm_otel
from multi_llm_otel._export_losses import CountingLogExporter, watch_queue

EVENTS = 50_000
CALLS = 10_000


@pytest.mark.stress
def test_collector_down_memory_bounded_and_every_drop_counted(tmp_path: Path, figures: Callable[..., None]) -> None:
    # The default queues and delays; a 2 s export timeout (default 10 s) so the final flush of
    # the full queues, which only serves the accounting below, takes seconds.
    env = {"OTEL_EXPORTER_OTLP_TIMEOUT": "2"}
    endpoint = f"http://127.0.0.1:{free_port()}"
    with App({"service_name": "failure-backpressure", "endpoint": endpoint}, env, tmp_path / "app.log") as app:
        app("emit", phase="warm", n=100)
        app("calls", phase="warm", n=100)
        app("flush")
        base = app("stats")
        rss0 = app("rss")["rss_kib"]

        first = app("emit", phase="burst", n=EVENTS // 5)
        rss_10k = app("rss")["rss_kib"]
        rest = app("emit", phase="burst", n=EVENTS - EVENTS // 5, start=EVENTS // 5)
        rss_50k = app("rss")
        calls, rss_calls = [], [rss_50k["rss_kib"]]
        for _ in range(4):
            calls.append(app("calls", phase="burst", n=CALLS // 4))
            rss_calls.append(app("rss")["rss_kib"])
        peak = app("rss")["peak_kib"]
        queued = app("queued")
        flushed = app("flush")
        stats = app("stats")

    sent_logs = EVENTS + 2 * CALLS
    failed_logs = stats.get("export_failed_logs", 0) - base.get("export_failed_logs", 0)
    dropped_logs = stats.get("queue_dropped_logs", 0) - base.get("queue_dropped_logs", 0)
    failed_spans = stats.get("export_failed_spans", 0) - base.get("export_failed_spans", 0)
    dropped_spans = stats.get("queue_dropped_spans", 0) - base.get("queue_dropped_spans", 0)
    # Nothing could arrive, so every single item is in exactly one of the two counts.
    assert failed_logs + dropped_logs == sent_logs
    assert failed_spans + dropped_spans == CALLS
    assert dropped_logs > 0, "the burst outran the exporter: the queue must have evicted"
    assert queued["logs"] <= 2048
    assert queued["spans"] <= 2048
    # Bounded: 40,000 more events held in memory would take tens of MiB (see the README).
    growth_mib = (rss_50k["rss_kib"] - rss_10k) / 1024
    assert growth_mib < 16, f"RSS grew {growth_mib:.1f} MiB from 10k to 50k events: is a queue unbounded?"
    # Both queues are full after the first quarter; the growth then levels off (about
    # +25 MiB in all for 2,048 spans and 2,048 log records of calls, see the README).
    calls_growth_mib = (rss_calls[4] - rss_calls[2]) / 1024
    assert calls_growth_mib < 16, f"RSS grew {calls_growth_mib:.1f} MiB over the second half of the calls"

    log = (tmp_path / "app.log").read_text()
    assert log.count("multi-llm-otel: queue_dropped_logs") == 1
    figures(
        emit_max_ms=max(first["max_ms"], rest["max_ms"]),
        emit_p99_ms=rest["p99_ms"],
        emit_mean_us=rest["mean_us"],
        emit_rate_per_s=round((EVENTS - EVENTS // 5) / rest["total_s"]),
        call_max_ms=max(c["max_ms"] for c in calls),
        call_p99_ms=max(c["p99_ms"] for c in calls),
        call_mean_us=sum(c["mean_us"] for c in calls) / len(calls),
        rss_before_mib=round(rss0 / 1024, 1),
        rss_growth_first_10k_events_mib=round((rss_10k - rss0) / 1024, 1),
        rss_growth_10k_to_50k_events_mib=round(growth_mib, 1),
        rss_growth_per_quarter_of_calls_mib=[round((b - a) / 1024, 1) for a, b in itertools.pairwise(rss_calls)],
        rss_growth_second_half_of_calls_mib=round(calls_growth_mib, 1),
        rss_peak_mib=round(peak / 1024, 1),
        sent_logs=sent_logs,
        export_failed_logs=failed_logs,
        queue_dropped_logs=dropped_logs,
        sent_spans=CALLS,
        export_failed_spans=failed_spans,
        queue_dropped_spans=dropped_spans,
        final_flush_s=flushed["seconds"],
        force_flush_returned=flushed["ok"],
    )


class _Refusing(LogRecordExporter):
    """A backend that is down: every export fails at once."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def test_evictions_racing_the_export_thread_are_counted_exactly_once() -> None:
    """A small queue that is full all the time, several threads emitting and the export
    thread taking batches out at the same moment: the SDK's own "queue full" check runs
    before it adds the item, so an item it counted as evicted could still be exported, and
    two threads adding at once could evict one uncounted. Each record must be in exactly one
    count (the endpoint is down: nothing is exported)."""
    threads, per_thread = 4, 5_000
    multi_llm_otel.reset_stats()
    processor = BatchLogRecordProcessor(
        CountingLogExporter(_Refusing()), max_queue_size=64, max_export_batch_size=16, schedule_delay_millis=1
    )
    assert watch_queue(processor, "logs")
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    logger = provider.get_logger("race")

    def emit() -> None:
        for _ in range(per_thread):
            logger.emit(body="x")

    workers = [threading.Thread(target=emit) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    provider.shutdown()
    stats = multi_llm_otel.stats()
    counted = {k: v for k, v in stats.items() if k.endswith("_logs")}
    assert sum(counted.values()) == threads * per_thread, counted
