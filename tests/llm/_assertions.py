"""Shared checks for telemetry of calls made against the real llama-server."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from multi_llm_otel.testing import Captured

MODEL = "gemma-3-270m"


def only_span(telemetry: Captured) -> ReadableSpan:
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    span = spans[0]
    assert span.kind is SpanKind.CLIENT
    return span


def event_names(span: ReadableSpan) -> list[str]:
    return [e.name for e in span.events if e.name != "exception"]


def event(span: ReadableSpan, name: str) -> dict[str, Any]:
    found = [dict(e.attributes or {}) for e in span.events if e.name == name]
    assert len(found) == 1, f"{name}: {event_names(span)}"
    return found[0]


def assert_logs_mirror_span_events(telemetry: Captured, span: ReadableSpan) -> None:
    """Every span event has its log record: same name, attributes, trace and span id."""
    logs = telemetry.logs()
    assert [r.event_name for r in logs] == event_names(span)
    for record, span_event in zip(logs, [e for e in span.events if e.name != "exception"], strict=False):
        assert dict(record.attributes or {}) == dict(span_event.attributes or {})
        assert record.trace_id == span.context.trace_id
        assert record.span_id == span.context.span_id
        assert record.timestamp == span_event.timestamp


def expected_cache_event(cached_tokens: int | None) -> list[str]:
    """The rule of the event model: read > 0 is a hit, reported 0 a miss, unreported nothing."""
    if cached_tokens is None:
        return []
    return ["cache_hit"] if cached_tokens > 0 else ["cache_miss"]


def histogram_sums(telemetry: Captured, name: str) -> dict[tuple[tuple[str, Any], ...], tuple[int, float]]:
    return {tuple(sorted((p.attributes or {}).items())): (p.count, p.sum) for p in telemetry.metrics().get(name, [])}


def token_sums(telemetry: Captured) -> dict[str, float]:
    sums: dict[str, float] = {}
    for point in telemetry.metrics().get("gen_ai.client.token.usage", []):
        kind = (point.attributes or {})["gen_ai.token.type"]
        sums[kind] = sums.get(kind, 0) + point.sum
    return sums


def assert_error_span(span: ReadableSpan, error_type: str) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == error_type
