"""End to end: an application using multi-llm-otel -> the agent Collector (agent.yaml) ->
Jaeger, the per-scope event files and Prometheus, all real processes on loopback.

The application runs as its own process (``tests/collector/_app.py``) and reports every span
and log record its SDK finished; each destination must hold exactly those, nothing dropped.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tests.collector._metrics import KNOWN_METRICS
from tests.collector._procs import (
    REPO,
    attributes_dict,
    get_text,
    otlp_log_records,
    otlp_spans,
    prometheus_samples,
    read_otlp_json_lines,
    wait_until,
)
from tests.collector._stack import Stack

pytestmark = pytest.mark.collector

DASHBOARD = REPO / "collector-config" / "grafana" / "dashboards" / "multi-llm-otel.json"


@pytest.fixture(scope="module")
def sent(stack: Stack, llama_server: str) -> dict[str, Any]:
    """Run the application once; what it sent, as its SDK recorded it."""
    service = f"e2e-{uuid.uuid4().hex[:8]}"
    window_start = datetime.now(timezone.utc) - timedelta(minutes=1)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.collector._app",
            "--endpoint",
            stack.collector.otlp_http_url,
            "--service",
            service,
            "--llama-url",
            llama_server,
            "burst",
            "decorated",
            "llama",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    record: dict[str, Any] = json.loads(result.stdout)
    record["service"] = service
    record["window"] = (window_start, datetime.now(timezone.utc) + timedelta(minutes=1))
    return record


def test_the_application_lost_nothing(sent: dict[str, Any]) -> None:
    assert sent["flushed"]
    assert sent["clean_exit"]
    assert sent["stats"] == {}, "the library reports drops or failures"
    assert len(sent["spans"]) >= 60
    # Every business event is both a span event and a log record (spans also carry the SDK's
    # "exception" events of failed calls).
    span_events = [e for s in sent["spans"] for e in s["events"] if "multi_llm.event.id" in e["attributes"]]
    assert len(span_events) == len(sent["logs"])


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_every_span_and_span_event_is_in_jaeger(stack: Stack, sent: dict[str, Any]) -> None:
    start, end = sent["window"]

    def stored() -> dict[str, dict[str, Any]] | None:
        spans = {
            s["spanId"]: s
            for s in otlp_spans(
                [{"resourceSpans": stack.jaeger.traces(sent["service"], _rfc3339(start), _rfc3339(end))}]
            )
        }
        return spans if len(spans) >= len(sent["spans"]) else None

    in_jaeger = wait_until(stored, 60, "all spans in Jaeger")
    assert len(in_jaeger) == len(sent["spans"])
    for span in sent["spans"]:
        got = in_jaeger[span["span_id"]]
        assert got["traceId"] == span["trace_id"]
        assert got["name"] == span["name"]
        assert attributes_dict(got.get("attributes", [])).items() >= span["attributes"].items()
        got_events = got.get("events", [])
        assert len(got_events) == len(span["events"]), span["name"]
        for want, have in zip(span["events"], got_events, strict=True):
            assert have["name"] == want["name"]
            assert int(have["timeUnixNano"]) == want["time_unix_nano"]
            assert attributes_dict(have.get("attributes", [])) == want["attributes"]


def _scope_of(attributes: dict[str, Any]) -> str:
    return "user" if attributes.get("multi_llm.event.scope") == "user" else "system"


def _of_service(resource: dict[str, Any], service: str) -> bool:
    return attributes_dict(resource.get("attributes", [])).get("service.name") == service


def _wait_for_scope_files(stack: Stack, sent: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The service's log records in each scope's file, once all have been written."""

    def logs_by_scope() -> dict[str, list[dict[str, Any]]] | None:
        found = {
            scope: [
                r for r in otlp_log_records(read_otlp_json_lines(path)) if _of_service(r["_resource"], sent["service"])
            ]
            for scope, path in _files(stack).items()
        }
        return found if sum(map(len, found.values())) >= len(sent["logs"]) else None

    return wait_until(logs_by_scope, 60, "all log records in the scope files")


def _files(stack: Stack) -> dict[str, Path]:
    return {"user": stack.collector.user_file, "system": stack.collector.system_file}


def test_user_and_system_events_land_in_their_own_files(stack: Stack, sent: dict[str, Any]) -> None:
    found = _wait_for_scope_files(stack, sent)
    expected = Counter(_scope_of(r["attributes"]) for r in sent["logs"])
    assert {scope: len(records) for scope, records in found.items()} == dict(expected)
    assert expected["user"]
    assert expected["system"]
    sent_by_id = {r["attributes"]["multi_llm.event.id"]: r for r in sent["logs"]}
    for scope, records in found.items():
        for record in records:
            attributes = attributes_dict(record["attributes"])
            assert _scope_of(attributes) == scope
            want = sent_by_id[attributes["multi_llm.event.id"]]
            assert attributes == want["attributes"]
            assert record["eventName"] == want["event_name"]
            assert int(record["timeUnixNano"]) == want["time_unix_nano"]

    # Spans follow the same rule; a span keeps no event of the other scope (events without a
    # scope, such as the SDK's "exception", stay with their span).
    other = {"user": "system", "system": "user"}
    for scope, path in _files(stack).items():
        for request in read_otlp_json_lines(path):
            for resource_spans in request.get("resourceSpans", []):
                if not _of_service(resource_spans["resource"], sent["service"]):
                    continue
                for span in otlp_spans([{"resourceSpans": [resource_spans]}]):
                    assert _scope_of(attributes_dict(span.get("attributes", []))) == scope
                    for event in span.get("events", []):
                        assert attributes_dict(event.get("attributes", [])).get("multi_llm.event.scope") != other[scope]


def _expected_counts(sent: dict[str, Any]) -> Counter[tuple[str, str, str, str]]:
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for record in sent["logs"]:
        a = record["attributes"]
        key = (
            record["event_name"],
            a.get("gen_ai.provider.name", "unknown"),
            a.get("gen_ai.request.model", "unknown"),
            a.get("multi_llm.event.scope", "system"),
        )
        counts[key] += 1
    return counts


METRIC_OF_EVENT = {
    "llm_request": "multi_llm_llm_requests_total",
    "llm_response": "multi_llm_llm_responses_total",
    "llm_error": "multi_llm_llm_errors_total",
    "cache_hit": "multi_llm_cache_hits_total",
    "cache_miss": "multi_llm_cache_misses_total",
}


def _wait_until_counted(stack: Stack, sent: dict[str, Any]) -> None:
    job = f'job=~".*{sent["service"]}"'
    total = sum(n for (event, *_), n in _expected_counts(sent).items() if event in METRIC_OF_EVENT)
    sum_all = " + ".join(f"sum({m}{{{job}}})" for m in METRIC_OF_EVENT.values())
    wait_until(lambda: stack.prometheus.scalar(sum_all) == total, 60, f"{total} events counted in Prometheus")


def test_prometheus_counts_match_what_was_sent(stack: Stack, sent: dict[str, Any]) -> None:
    _wait_until_counted(stack, sent)
    expected = _expected_counts(sent)
    job = f'job=~".*{sent["service"]}"'

    for (event, provider, model, scope), n in expected.items():
        if event not in METRIC_OF_EVENT:
            continue
        labels = (
            f'{job},gen_ai_provider_name="{provider}",gen_ai_request_model="{model}",multi_llm_event_scope="{scope}"'
        )
        assert stack.prometheus.scalar(f"sum({METRIC_OF_EVENT[event]}{{{labels}}})") == n, (
            event,
            provider,
            model,
            scope,
        )

    # Token sums from the SDK's gen_ai.client.token.usage histogram, recorded by @llm_call.
    # The library's spans (the anthropic SDK's tracing records onto them rather than adding its own).
    calls = [s["attributes"] for s in sent["spans"] if s["scope"] == "multi_llm_otel"]
    for token_type, attribute in (("input", "gen_ai.usage.input_tokens"), ("output", "gen_ai.usage.output_tokens")):
        want = sum(a.get(attribute, 0) for a in calls)
        assert want > 0
        query = f'sum(gen_ai_client_token_usage_sum{{{job},gen_ai_token_type="{token_type}"}})'
        wait_until(lambda q=query, w=want: stack.prometheus.scalar(q) == w, 30, f"{token_type} tokens = {want}")

    # Cost from the multi_llm.client.cost counter: the sum of the cost_usd the responses carried.
    costs = [
        e["attributes"]["cost_usd"]
        for s in sent["spans"]
        if s["scope"] == "multi_llm_otel"
        for e in s["events"]
        if e["name"] == "llm_response" and "cost_usd" in e["attributes"]
    ]
    assert costs
    query = f"sum(multi_llm_client_cost_total{{{job}}})"
    wait_until(lambda: abs((stack.prometheus.scalar(query) or 0) - sum(costs)) < 1e-9, 30, f"cost = {sum(costs)} USD")


def test_every_dashboard_query_returns_data(stack: Stack, sent: dict[str, Any]) -> None:
    _wait_until_counted(stack, sent)
    dashboard = json.loads(DASHBOARD.read_text())
    names = {name for name, _, _ in prometheus_samples(get_text(stack.collector.prometheus_metrics_url))}
    assert names >= KNOWN_METRICS, "a metric the dashboard may use is not produced"
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable in ("provider", "model", "scope"):
                expr = expr.replace(f"${variable}", ".*")
            expr = expr.replace("$__rate_interval", "2m").replace("$__range", "10m")
            # Rates need two scrapes of a series: poll rather than query once.
            wait_until(lambda e=expr: stack.prometheus.query(e), 30, f"data for panel {panel['title']!r}: {expr}")


def test_the_collector_dropped_nothing(stack: Stack, sent: dict[str, Any]) -> None:
    _wait_for_scope_files(stack, sent)

    def jaeger_sent() -> list[tuple[str, dict[str, str], float]] | None:
        samples = prometheus_samples(get_text(stack.collector.telemetry_metrics_url))
        spans = sum(
            v
            for n, labels, v in samples
            if n.startswith("otelcol_exporter_sent_spans") and labels.get("exporter") == "otlp_grpc/jaeger"
        )
        return samples if spans >= len(sent["spans"]) else None

    samples = wait_until(jaeger_sent, 60, "every span exported to Jaeger")
    # Refused (memory limiter), failed (receiver or exporter) and dropped counters appear once
    # something is lost; where they exist they must be zero.
    losses = [(n, labels, v) for n, labels, v in samples if re.search(r"refused|failed|dropped", n)]
    assert [loss for loss in losses if loss[2] != 0] == []
    stack.check_alive()
