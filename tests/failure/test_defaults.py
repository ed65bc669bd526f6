"""What ``configure()`` sets up by default, read back from the objects it built, and how long
one export takes to give up with the Collector down (the figures in the README's "Failure behaviour" section)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.collector._procs import free_port
from tests.failure._harness import App


def test_defaults_and_the_give_up_time_of_one_batch(tmp_path: Path, figures: Callable[..., None]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens
    with App({"service_name": "failure-defaults", "endpoint": endpoint}, log=tmp_path / "app.log") as app:
        defaults = app("defaults")
        app("emit", phase="one", n=1)
        flushed = app("flush", signal="logs")  # one batch of one log record, tried until given up
        stats = app("stats")
    spans, logs, metrics = defaults["spans"], defaults["logs"], defaults["metrics"]
    # The SDK's standard values; the README explains why configure() keeps them.
    assert (spans["max_queue_size"], spans["max_export_batch_size"], spans["schedule_delay_ms"]) == (2048, 512, 5000)
    assert (logs["max_queue_size"], logs["max_export_batch_size"], logs["schedule_delay_ms"]) == (2048, 512, 1000)
    assert metrics["export_interval_ms"] == 60000
    assert spans["exporter_timeout_s"] == logs["exporter_timeout_s"] == metrics["exporter_timeout_s"] == 10
    assert defaults["shutdown_timeout_s"] == 5
    assert stats["export_failed_logs"] == 1
    figures(
        defaults=defaults,
        give_up_one_batch_s=flushed["seconds"],
        force_flush_returned=flushed["ok"],
    )
