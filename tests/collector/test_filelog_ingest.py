"""The file-log ingestion pipeline, run by the real Collector on serde-format JSON lines.

The Collector reads what the Rust crate writes and must produce the log record the Python
library produces for the same event: the expected attributes come from the library's own
mapping (``multi_llm_otel._mapping.event_attributes``), so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
import uuid
from calendar import timegm
from pathlib import Path
from typing import Any

import pytest
from tests.collector._collector import CollectorEnv, collector_server, wait_healthy
from tests.collector._procs import (
    any_value,
    attributes_dict,
    get_text,
    otlp_log_records,
    prometheus_samples,
    read_otlp_json_lines,
    sample_sum,
    wait_until,
)

from multi_llm_otel import BusinessEvent, EventScope
from multi_llm_otel._mapping import event_attributes

pytestmark = pytest.mark.collector

RICH_METADATA: dict[str, Any] = {
    "provider": "openai",
    "model": "gpt-4o",
    "input_tokens": 120,
    "prompt_tokens": 999,
    "output_tokens": 42,
    "cache_read_tokens": 100,
    "cache_write_tokens": 7,
    "reasoning_tokens": 3,
    "response_model": "gpt-4o-2024-08-06",
    "response_id": "chatcmpl-1",
    "finish_reasons": "stop",
    "temperature": 0.5,
    "whole_float": 2.0,
    "streamed": False,
    "tags": ["a", "b"],
    "mixed": [1, "x", None],
    "empty": [],
    "nothing": None,
    "request": {"b": [1, 2], "a": {"deep": "é <&>"}},
    "user.id": "metadata must not override the scope",
    "multi_llm.event.scope": None,
    "": "the empty key is no attribute key",
}


def _line(
    event_type: str, metadata: dict[str, Any], created_at: str, scope: object | None
) -> tuple[str, dict[str, Any]]:
    event = {"id": str(uuid.uuid4()), "event_type": event_type, "metadata": metadata, "created_at": created_at}
    payload: object = event if scope is None else {"event": event, "scope": scope}
    return json.dumps(payload, separators=(",", ":")), {"event": event, "scope": scope}


CASES = [
    # (event_type, metadata, created_at as serde writes it, serde scope or None for a bare event)
    ("llm_request", RICH_METADATA, "2026-11-26T19:11:18.123456789Z", None),
    (
        "llm_response",
        {"provider": "anthropic", "model": "claude", "output_tokens": 5},
        "2026-11-26T19:11:19Z",
        {"User": "u1"},
    ),
    (
        "llm_error",
        {"provider": "openai", "model": "gpt-4o", "error_type": "timeout"},
        "2026-11-26T19:11:20.5Z",
        "System",
    ),
    ("cache_hit", {"provider": "openai", "model": "gpt-4o"}, "2026-11-26T19:11:21.000001Z", {"User": "u2"}),
    ("error", {"message": "disk full"}, "2026-11-26T19:11:22.999999999Z", "System"),
    ("cache_miss", {"provider": "openai", "model": "gpt-4o"}, "2026-11-26T19:11:23.120Z", {"User": "u1"}),
]


def _unix_nanos(rfc3339: str) -> int:
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", rfc3339)
    assert match is not None
    seconds = timegm((*(int(x) for x in re.split(r"[-T:]", match[1])), 0, 0, 0))
    return seconds * 1_000_000_000 + int((match[2] or "").ljust(9, "0"))


def _python_attributes(event: dict[str, Any], scope: object | None) -> dict[str, Any]:
    py_scope = EventScope.system() if scope is None else EventScope.from_json_value(scope)
    attrs = event_attributes(BusinessEvent.from_dict(event), py_scope)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}


def test_serde_json_lines_become_the_python_log_records(otelcol: Path, tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    lines, written = zip(*(_line(*case) for case in CASES), strict=True)
    (events_dir / "service.jsonl").write_text("\n".join(lines) + "\n")

    env = CollectorEnv(tmp_path, extra={"MLO_EVENTS_JSONL": str(events_dir / "*.jsonl")})
    server = collector_server(otelcol, ["agent.yaml", "filelog-ingest.yaml"], env)
    with server:
        wait_healthy(server, env)

        def all_records() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
            user = otlp_log_records(read_otlp_json_lines(env.user_file))
            system = otlp_log_records(read_otlp_json_lines(env.system_file))
            return (user, system) if len(user) + len(system) >= len(CASES) else None

        user_records, system_records = wait_until(all_records, 60, "the events in the scope files", server)

        def counted() -> str | None:
            text = get_text(env.prometheus_metrics_url)
            return text if "multi_llm_cache_misses_total" in text else None

        metrics = wait_until(counted, 30, "the event counts on the Prometheus exporter", server)

    expected_user = {w["event"]["id"] for w in written if isinstance(w["scope"], dict)}
    expected_system = {w["event"]["id"] for w in written} - expected_user
    by_id = {}
    for records, expected in ((user_records, expected_user), (system_records, expected_system)):
        ids = [attributes_dict(r["attributes"])["multi_llm.event.id"] for r in records]
        assert sorted(ids) == sorted(expected), "each event once, in its own scope's file"
        by_id.update(zip(ids, records, strict=True))

    for w in written:
        event, scope = w["event"], w["scope"]
        record = by_id[event["id"]]
        assert record["eventName"] == event["event_type"]
        assert int(record["timeUnixNano"]) == _unix_nanos(event["created_at"])
        error = event["event_type"] in ("llm_error", "error")
        assert record["severityNumber"] == (17 if error else 9)  # SEVERITY_NUMBER_ERROR, _INFO
        assert record["severityText"] == ("ERROR" if error else "INFO")
        assert any_value(record["body"]) == event["metadata"]
        assert attributes_dict(record["attributes"]) == _python_attributes(event, scope)
        resource = attributes_dict(record["_resource"].get("attributes", []))
        assert resource["service.name"] == "multi-llm"
        assert resource["deployment.environment.name"] == "test"

    # The same scope routing and counting as for OTLP input.
    samples = prometheus_samples(metrics)
    openai = {"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o"}
    assert sample_sum(samples, "multi_llm_llm_requests_total", **openai, multi_llm_event_scope="system") == 1
    assert sample_sum(samples, "multi_llm_llm_responses_total", multi_llm_event_scope="user") == 1
    assert sample_sum(samples, "multi_llm_llm_errors_total", **openai, error_type="timeout") == 1
    assert sample_sum(samples, "multi_llm_cache_hits_total", **openai, multi_llm_event_scope="user") == 1
    assert sample_sum(samples, "multi_llm_cache_misses_total", **openai, multi_llm_event_scope="user") == 1
