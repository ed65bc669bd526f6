"""The Rust producer's real events through ``multi-llm-otel ingest`` over OTLP into the real
stack (the agent Collector, Prometheus scraping it, Jaeger), next to the same llama-server calls
made through ``@llm_call``: the crate's calls must look in Jaeger and Prometheus as the
decorator's do, with the same attribute names and token totals."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tests.cli._helpers import clean_env, run
from tests.collector._procs import (
    REPO,
    attributes_dict,
    otlp_log_records,
    otlp_spans,
    read_otlp_json_lines,
    wait_until,
)
from tests.collector._stack import Stack
from tests.llm._assertions import MODEL
from tests.rust._producer import CALLS, USER, RustRun

from multi_llm_otel import BusinessEvent
from multi_llm_otel._serde_lines import parse_events

pytestmark = [pytest.mark.collector, pytest.mark.llm, pytest.mark.rust]

TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _call_spans(stack: Stack, service: str, window: tuple[datetime, datetime]) -> list[dict[str, Any]]:
    """The service's LLM-call spans in Jaeger (``2 * CALLS`` of them), in the order they started."""

    def stored() -> list[dict[str, Any]] | None:
        found = otlp_spans([{"resourceSpans": stack.jaeger.traces(service, *map(_rfc3339, window))}])
        calls = [s for s in found if "gen_ai.operation.name" in attributes_dict(s.get("attributes", []))]
        return calls if len(calls) >= 2 * CALLS else None

    calls = wait_until(stored, 60, f"the call spans of {service} in Jaeger", stack.servers["otelcol"])
    assert len(calls) == 2 * CALLS
    return sorted(calls, key=lambda s: int(s["startTimeUnixNano"]))


def test_the_crates_calls_reach_jaeger_and_prometheus_as_the_decorators_do(
    stack: Stack, rust_events: RustRun, llama_server: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    rust, python = f"rust-{tag}", f"python-{tag}"
    path = tmp_path / "rust.jsonl"
    path.write_text("".join(line + "\n" for line in rust_events.lines), encoding="utf-8")
    endpoint = stack.collector.otlp_http_url
    result = run("ingest", str(path), env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME=rust))
    assert result.returncode == 0, result.stderr
    assert f"{2 * CALLS} calls of the Rust crate got a reconstructed span" in result.stderr
    twin = subprocess.run(
        [sys.executable, "-m", "tests.rust._decorated_twin", llama_server],
        env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME=python),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert twin.returncode == 0, twin.stderr[-4000:]

    events = [event for line in rust_events.lines for event, _ in parse_events(line)]
    # The rebuilt spans are as old as the producer's calls, made when the session started.
    window = (
        min(e.created_at for e in events) - timedelta(minutes=1),
        datetime.now(timezone.utc) + timedelta(minutes=5),
    )

    # Every event reaches the user scope file as a log record.
    def ours() -> list[dict[str, Any]] | None:
        records = [
            attributes_dict(r["attributes"])
            for r in otlp_log_records(read_otlp_json_lines(stack.collector.user_file))
            if attributes_dict(r["_resource"].get("attributes", []))["service.name"] == rust
        ]
        return records if len(records) >= len(events) else None

    records = wait_until(ours, 60, "the ingested events in the user scope file", stack.servers["otelcol"])

    # A derived event gets a fresh id each time it is derived: it is known by its response.
    def key(attrs: dict[str, Any]) -> str:
        return f"from {attrs['derived_from']}" if attrs.get("derived") is True else str(attrs["multi_llm.event.id"])

    def event_key(event: BusinessEvent) -> str:
        derived_from = event.metadata.get("derived_from")
        return f"from {derived_from}" if event.metadata.get("derived") is True else str(event.id)

    assert sorted(key(a) for a in records) == sorted(event_key(e) for e in events)
    assert {a["user.id"] for a in records} == {USER}

    # Jaeger: one reconstructed CLIENT span per crate call, holding that call's events.
    rust_spans = _call_spans(stack, rust, window)
    python_spans = _call_spans(stack, python, window)
    seen = []
    for span in rust_spans:
        attrs = attributes_dict(span["attributes"])
        assert attrs["multi_llm.span.reconstructed"] is True
        assert span["kind"] in (3, "SPAN_KIND_CLIENT")
        assert span["name"] == f"chat {MODEL}"
        names = [e["name"] for e in span.get("events", [])]
        assert names[:2] == ["llm_request", "llm_response"]
        assert set(names[2:]) <= {"cache_hit", "cache_miss"}
        seen += [key(attributes_dict(e["attributes"])) for e in span["events"]]
    assert sorted(seen) == sorted(event_key(e) for e in events)

    # The same calls, in the same order (CALLS chat completions, then CALLS messages): the
    # decorator names the server that answered, the crate the provider it used, so the calls
    # are compared by position; attribute names and token totals must agree.
    for provider, part in (("openai", slice(0, CALLS)), ("anthropic", slice(CALLS, 2 * CALLS))):
        mine = [attributes_dict(s["attributes"]) for s in rust_spans[part]]
        theirs = [attributes_dict(s["attributes"]) for s in python_spans[part]]
        assert {a["gen_ai.provider.name"] for a in mine} == {provider}
        mine_names = {k for a in mine for k in a if k.startswith("gen_ai.")}
        their_names = {k for a in theirs for k in a if k.startswith("gen_ai.")}
        assert mine_names <= their_names, (provider, mine_names - their_names)
        for name in TOKENS:
            total = sum(a[name] for a in mine)
            assert total > 0
            assert total == sum(a[name] for a in theirs), (provider, name)

    # Prometheus: the decorator's token histogram (SDK metrics, recorded for the rebuilt calls
    # by ingest) and the Collector's token sums from llm_response events, equal for both.
    prometheus = stack.prometheus
    for token_type, name in zip(("input", "output"), TOKENS, strict=True):
        want = sum(attributes_dict(s["attributes"])[name] for s in python_spans)
        for service in (rust, python):
            job = f'job=~".*{service}"'
            for query in (
                f'sum(gen_ai_client_token_usage_sum{{{job},gen_ai_token_type="{token_type}"}})',
                f"sum(multi_llm_usage_{token_type}_tokens_total{{{job}}})",
            ):
                wait_until(
                    lambda q=query, w=want: prometheus.scalar(q) == w,
                    60,
                    f"{query} = {want}",
                    stack.servers["prometheus"],
                )
