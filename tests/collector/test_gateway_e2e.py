"""Scale-out shape: application -> agent (agent-to-gateway.yaml) -> two gateways
(gateway.yaml) -> Jaeger, each gateway with its own scope files and Prometheus exporter.

Load balancing by trace id must deliver every span and event exactly once, keep each trace's
spans on one gateway and each trace's log records on one gateway, and use both gateways.
(Not necessarily the same gateway for both: at v0.161 the exporter hashes a span's trace id
as raw bytes and a log record's as hex text, so the two signals of a trace can part ways.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import defaultdict
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tests.collector._collector import CollectorEnv, collector_server
from tests.collector._procs import (
    LOOPBACK,
    REPO,
    attributes_dict,
    get_text,
    http_ok,
    otlp_log_records,
    otlp_spans,
    prometheus_samples,
    read_otlp_json_lines,
    running,
    sample_sum,
    wait_until,
)
from tests.collector._stack import jaeger_process

pytestmark = pytest.mark.collector


def _records(env: CollectorEnv, service: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    requests = read_otlp_json_lines(env.user_file) + read_otlp_json_lines(env.system_file)
    logs = [r for r in otlp_log_records(requests) if _service(r["_resource"]) == service]
    spans = [
        span
        for request in requests
        for rs in request.get("resourceSpans", [])
        if _service(rs["resource"]) == service
        for span in otlp_spans([{"resourceSpans": [rs]}])
    ]
    return logs, spans


def _service(resource: dict[str, Any]) -> Any:
    return attributes_dict(resource.get("attributes", [])).get("service.name")


def test_agents_spread_whole_traces_over_the_gateways(otelcol: Path, jaeger: Path, tmp_path: Path) -> None:
    jaeger_server, jaeger_api, jaeger_ready = jaeger_process(jaeger, tmp_path)
    gateways = []
    for name in ("gw1", "gw2"):
        (tmp_path / name).mkdir()
        gateways.append(CollectorEnv(tmp_path / name, jaeger_otlp_grpc=jaeger_api.otlp_grpc))
    endpoints = ", ".join(f"{LOOPBACK}:{g.otlp_grpc_port}" for g in gateways)
    (tmp_path / "agent").mkdir()
    agent = CollectorEnv(tmp_path / "agent", extra={"MLO_GATEWAY_ENDPOINTS": f"[{endpoints}]"})
    service = f"scale-{uuid.uuid4().hex[:8]}"
    start = datetime.now(timezone.utc) - timedelta(minutes=1)

    with ExitStack() as stack:
        stack.enter_context(running(jaeger_server, jaeger_ready))
        for g in gateways:
            gateway = collector_server(otelcol, ["gateway.yaml"], g)
            stack.enter_context(running(gateway, lambda g=g: http_ok(f"http://{LOOPBACK}:{g.health_port}/")))
        agent_server = collector_server(otelcol, ["agent-to-gateway.yaml"], agent)
        stack.enter_context(running(agent_server, lambda: http_ok(f"http://{LOOPBACK}:{agent.health_port}/")))

        app = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.collector._app",
                "--endpoint",
                agent.otlp_http_url,
                "--service",
                service,
                "burst",
                "decorated",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
            timeout=120,
        )
        assert app.returncode == 0, app.stderr[-4000:]
        sent = json.loads(app.stdout)

        def all_delivered() -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] | None:
            per_gateway = [_records(g, service) for g in gateways]
            logs = sum(len(logs) for logs, _ in per_gateway)
            spans = sum(len(spans) for _, spans in per_gateway)
            return per_gateway if logs >= len(sent["logs"]) and spans >= len(sent["spans"]) else None

        per_gateway = wait_until(all_delivered, 60, "every event and span at a gateway", agent_server)
        window = (start.strftime("%Y-%m-%dT%H:%M:%SZ"), (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))

        def in_jaeger() -> set[str] | None:
            ids = {s["spanId"] for s in otlp_spans([{"resourceSpans": jaeger_api.traces(service, *window)}])}
            return ids if len(ids) >= len(sent["spans"]) else None

        assert wait_until(in_jaeger, 60, "every span in Jaeger") == {s["span_id"] for s in sent["spans"]}
        requests = sum(1 for r in sent["logs"] if r["event_name"] == "llm_request")
        job = {"job": f"multi-llm/{service}"}

        def counted() -> float:
            samples = [prometheus_samples(get_text(g.prometheus_metrics_url)) for g in gateways]
            return sum(sample_sum(s, "multi_llm_llm_requests_total", **job) for s in samples)

        # Each gateway counts the events it received; together they count every request.
        wait_until(lambda: counted() == requests, 30, f"{requests} requests counted over the gateways")

    event_ids = [attributes_dict(r["attributes"])["multi_llm.event.id"] for logs, _ in per_gateway for r in logs]
    assert sorted(event_ids) == sorted(r["attributes"]["multi_llm.event.id"] for r in sent["logs"])
    span_ids = [s["spanId"] for _, spans in per_gateway for s in spans]
    assert sorted(span_ids) == sorted(s["span_id"] for s in sent["spans"])

    for signal in ("spans", "logs"):
        home: dict[str, set[int]] = defaultdict(set)
        for index, (logs, spans) in enumerate(per_gateway):
            for item in spans if signal == "spans" else logs:
                home[item["traceId"]].add(index)
        assert all(len(where) == 1 for where in home.values()), f"a trace's {signal} were split over gateways"
        assert {i for where in home.values() for i in where} == {0, 1}, f"one gateway got no {signal}"
