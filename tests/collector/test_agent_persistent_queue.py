"""agent-persistent-queue.yaml: telemetry sent while the trace backend is down, and kept
across a Collector restart, reaches the backend once it is up. Real Collector, real Jaeger."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.collector._collector import CollectorEnv, collector_server, wait_healthy
from tests.collector._procs import REPO, otlp_log_records, otlp_spans, read_otlp_json_lines, running, wait_until
from tests.collector._stack import jaeger_process

pytestmark = pytest.mark.collector


def test_spans_queued_on_disk_survive_outage_and_restart(otelcol: Path, jaeger: Path, tmp_path: Path) -> None:
    jaeger_server, jaeger_api, jaeger_ready = jaeger_process(jaeger, tmp_path)
    env = CollectorEnv(tmp_path / "collector", jaeger_otlp_grpc=jaeger_api.otlp_grpc)
    env.root.mkdir()
    configs = ["agent.yaml", "agent-persistent-queue.yaml"]
    service = f"outage-{uuid.uuid4().hex[:8]}"
    start = datetime.now(timezone.utc) - timedelta(minutes=1)

    # 1. Jaeger is down: the Collector accepts the data and can deliver only the local copies.
    first = collector_server(otelcol, configs, env)
    with first:
        wait_healthy(first, env)
        argv = [sys.executable, "-m", "tests.collector._app", "--endpoint", env.otlp_http_url]
        app = subprocess.run(
            [*argv, "--service", service, "--burst", "12", "burst"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
            timeout=120,
        )
        assert app.returncode == 0, app.stderr[-4000:]
        sent = json.loads(app.stdout)
        logs = len(sent["logs"])
        # The file copies prove the Collector has taken everything in.
        wait_until(
            lambda: (
                len(otlp_log_records(read_otlp_json_lines(env.user_file) + read_otlp_json_lines(env.system_file)))
                >= logs
            ),
            60,
            "the events in the local files",
            first,
        )
    assert "Exporting failed" in first.log_tail(200_000) or "connection refused" in first.log_tail(200_000)

    # 2. Jaeger comes up; a new Collector process finds the queue on disk and delivers it.
    second = collector_server(otelcol, configs, env)
    with running(jaeger_server, jaeger_ready), second:
        wait_healthy(second, env)
        end = datetime.now(timezone.utc) + timedelta(minutes=1)
        window = (start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"))

        def delivered() -> set[str] | None:
            ids = {s["spanId"] for s in otlp_spans([{"resourceSpans": jaeger_api.traces(service, *window)}])}
            return ids if len(ids) >= len(sent["spans"]) else None

        in_jaeger = wait_until(delivered, 90, "the queued spans in Jaeger", second)
    assert in_jaeger == {s["span_id"] for s in sent["spans"]}
