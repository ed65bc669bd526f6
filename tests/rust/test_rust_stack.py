"""The Rust producer's real events through ``multi-llm-otel ingest`` over OTLP into the real
stack: the agent Collector, Prometheus (the server, scraping it) and Jaeger."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.cli._helpers import clean_env, run
from tests.collector._procs import attributes_dict, otlp_log_records, read_otlp_json_lines, wait_until
from tests.collector._stack import Stack
from tests.rust._producer import CALLS, USER, RustRun

from multi_llm_otel import BusinessEvent
from multi_llm_otel._serde_lines import parse_events

pytestmark = [pytest.mark.collector, pytest.mark.llm, pytest.mark.rust]


def test_the_crates_events_reach_prometheus_and_the_user_file_and_make_no_spans(
    stack: Stack, rust_events: RustRun, tmp_path: Path
) -> None:
    service = f"rust-{uuid.uuid4().hex[:8]}"
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    path = tmp_path / "rust.jsonl"
    path.write_text("".join(line + "\n" for line in rust_events.lines), encoding="utf-8")
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=stack.collector.otlp_http_url, OTEL_SERVICE_NAME=service)
    result = run("ingest", str(path), env=env)
    assert result.returncode == 0, result.stderr

    events = [event for line in rust_events.lines for event, _ in parse_events(line)]
    derived = [e for e in events if e.metadata.get("derived") is True]
    hits = sum(1 for e in derived if e.event_type == "cache_hit")

    def ours() -> list[dict[str, object]] | None:
        records = [
            attributes_dict(r["attributes"])
            for r in otlp_log_records(read_otlp_json_lines(stack.collector.user_file))
            if attributes_dict(r["_resource"].get("attributes", []))["service.name"] == service
        ]
        return records if len(records) >= len(events) else None

    records = wait_until(ours, 60, "the ingested events in the user scope file", stack.servers["otelcol"])

    # A derived event gets a fresh id each time it is derived: it is known by its response.
    def key(attrs: dict[str, object]) -> str:
        return f"from {attrs['derived_from']}" if attrs.get("derived") is True else str(attrs["multi_llm.event.id"])

    def event_key(event: BusinessEvent) -> str:
        return f"from {event.metadata['derived_from']}" if event in derived else str(event.id)

    assert sorted(key(a) for a in records) == sorted(event_key(e) for e in events)
    assert {a["user.id"] for a in records} == {USER}

    prometheus = stack.prometheus
    anthropic = 'gen_ai_provider_name="anthropic",multi_llm_event_scope="user"'

    def scraped() -> bool | None:
        requests = prometheus.scalar(f"sum(multi_llm_llm_requests_total{{{anthropic}}})")
        cache = prometheus.scalar(f"sum(multi_llm_cache_hits_total{{{anthropic}}}) or vector(0)")
        return True if requests == CALLS and cache == hits else None

    wait_until(scraped, 60, "the counts in Prometheus", stack.servers["prometheus"])
    assert prometheus.scalar(f"sum(multi_llm_llm_responses_total{{{anthropic}}})") == CALLS
    assert (prometheus.scalar(f"sum(multi_llm_cache_misses_total{{{anthropic}}}) or vector(0)") or 0) == len(
        derived
    ) - hits

    # Ingested events are log records only: the spans they belonged to ran in the Rust service.
    end = datetime.now(timezone.utc) + timedelta(minutes=1)
    window = [moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for moment in (start, end)]
    assert stack.jaeger.traces(service, *window) == []
