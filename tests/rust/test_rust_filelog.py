"""The Rust producer's real events through the Collector's file-log pipeline
(collector-config/filelog-ingest.yaml on agent.yaml): the records must be those ``ingest``
makes (the library's own parse, dialect table and mapping), derived cache events included,
and the Prometheus counts must count them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.collector._collector import CollectorEnv, collector_server, wait_healthy
from tests.collector._procs import (
    attributes_dict,
    get_text,
    otlp_log_records,
    prometheus_samples,
    read_otlp_json_lines,
    sample_sum,
    wait_until,
)
from tests.rust._producer import CALLS, USER, RustRun

from multi_llm_otel._mapping import event_attributes
from multi_llm_otel._serde_lines import parse_events

pytestmark = [pytest.mark.collector, pytest.mark.llm, pytest.mark.rust]


def _expected(lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        for event, scope in parse_events(line):
            attrs = event_attributes(event, scope)
            out.append({k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()})
    return out


# What the crate writes but a caller cannot receive from a provider (an llm_error is dropped by
# `return Err(e)`) or llama-server does not produce (cache creation): written in the crate's form.
HAND_MADE = [
    {"provider": "openai", "error": "Request timed out after 30s"},
    {"provider": "anthropic", "error": "Rate limit exceeded, retry after 20s"},
    {"provider": "ollama", "error": "something the crate does not classify"},
]
CACHE_WRITE = {
    "provider": "anthropic",
    "model": "claude-sonnet-4-5",
    "input_tokens": 12,
    "output_tokens": 40,
    "duration_ms": 812,
    "cache_creation_tokens": 2048,
    "session_id": "sess-9",
}


def _crate_line(event_type: str, metadata: dict[str, Any]) -> str:
    event = {
        "id": str(uuid.uuid4()),
        "event_type": event_type,
        "metadata": metadata,
        "created_at": "2026-12-05T17:02:59.5Z",
    }
    return json.dumps({"event": event, "scope": {"User": USER}}, separators=(",", ":"))


def _key(attrs: dict[str, Any]) -> tuple[str, str]:
    """Derived events get a fresh id on each path: they are known by the response they come from."""
    if attrs.get("derived") is True:
        return ("derived", str(attrs["derived_from"]))
    return ("event", str(attrs["multi_llm.event.id"]))


def test_the_crates_events_through_the_file_log_pipeline(otelcol: Path, rust_events: RustRun, tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    lines = [
        *rust_events.lines,
        *(_crate_line("llm_error", m) for m in HAND_MADE),
        _crate_line("llm_response", CACHE_WRITE),
    ]
    (events_dir / "rust-service.jsonl").write_text("".join(line + "\n" for line in lines))
    expected = _expected(lines)
    derived = [a for a in expected if a.get("derived") is True]
    assert derived, "the crate's Anthropic responses report cache tokens on llama-server"

    env = CollectorEnv(tmp_path, extra={"MLO_EVENTS_JSONL": str(events_dir / "*.jsonl")})
    server = collector_server(otelcol, ["agent.yaml", "filelog-ingest.yaml"], env)
    with server:
        wait_healthy(server, env)

        def all_records() -> list[dict[str, Any]] | None:
            records = otlp_log_records(read_otlp_json_lines(env.user_file))
            return records if len(records) >= len(expected) else None

        records = wait_until(all_records, 90, "the Rust events in the user scope file", server)

        def counted() -> str | None:
            text = get_text(env.prometheus_metrics_url)
            samples = prometheus_samples(text)
            cache = sum(sample_sum(samples, f"multi_llm_cache_{k}_total") for k in ("hits", "misses"))
            responses = sample_sum(samples, "multi_llm_llm_responses_total")
            return text if cache >= len(derived) and responses >= 2 * CALLS + 1 else None

        metrics = wait_until(counted, 30, "the event counts on the Prometheus exporter", server)

    assert len(records) == len(expected)
    got = {_key(a): a for a in (attributes_dict(r["attributes"]) for r in records)}
    for attrs in expected:
        record = got[_key(attrs)]
        if attrs.get("derived") is True:
            record = {k: v for k, v in record.items() if k != "multi_llm.event.id"}
            attrs = {k: v for k, v in attrs.items() if k != "multi_llm.event.id"}
        assert record == attrs
    assert all(a["user.id"] == USER for a in got.values())

    samples = prometheus_samples(metrics)
    user = {"multi_llm_event_scope": "user"}
    for provider, extra in (("openai", 0), ("anthropic", 1)):
        labels = {"gen_ai_provider_name": provider, **user}
        assert sample_sum(samples, "multi_llm_llm_requests_total", **labels) == CALLS
        assert sample_sum(samples, "multi_llm_llm_responses_total", **labels) == CALLS + extra
    for provider, error_type in (("openai", "Timeout"), ("anthropic", "RateLimitExceeded"), ("ollama", "_OTHER")):
        assert (
            sample_sum(samples, "multi_llm_llm_errors_total", gen_ai_provider_name=provider, error_type=error_type) == 1
        )
    hits = sum(1 for a in derived if a["cache_read_tokens"] > 0)
    anthropic = {"gen_ai_provider_name": "anthropic", **user}
    assert sample_sum(samples, "multi_llm_cache_hits_total", **anthropic) == hits
    assert sample_sum(samples, "multi_llm_cache_misses_total", **anthropic) == len(derived) - hits
