"""``ingest`` rebuilds the Rust crate's call spans: one CLIENT span per crate call, timed by the
response, with the call's events on it and the decorator's span attributes and metrics."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from opentelemetry.trace import SpanKind, StatusCode

from multi_llm_otel.cli.ingest import IngestOptions, Reporter, Tally, run
from multi_llm_otel.testing import Captured, capture

USER = "u-9"
END = "2026-12-05T17:02:59.500Z"
REQUEST_AT = "2026-12-05T17:02:59.501Z"


def _line(event_type: str, metadata: dict[str, Any], created_at: str = END, user: str | None = USER) -> str:
    event = {"id": str(uuid.uuid4()), "event_type": event_type, "metadata": metadata, "created_at": created_at}
    scope: Any = {"User": user} if user is not None else "System"
    return json.dumps({"event": event, "scope": scope})


def _ingest(lines: list[str], *, spans: bool = True) -> tuple[Captured, Tally]:
    err = io.StringIO()
    with capture() as captured:
        stream = io.BytesIO("".join(line + "\n" for line in lines).encode())
        tally = run(
            IngestOptions(path="-", spans=spans),
            stream,
            captured.emitter.emit,
            lambda: None,
            Reporter(err, False),
            tracing=captured.emitter,
        )
    assert err.getvalue() == ""
    return captured, tally


ANTHROPIC_CALL = [
    _line("llm_request", {"provider": "anthropic", "model": "claude-x", "llm_path": "chat"}, REQUEST_AT),
    _line(
        "llm_response",
        {
            "provider": "anthropic",
            "model": "claude-x-2025",
            "input_tokens": 10,
            "output_tokens": 7,
            "cache_read_tokens": 30,
            "cache_creation_tokens": 0,
            "duration_ms": 1250,
            "session_id": "s-1",
        },
    ),
]


def test_a_crate_call_becomes_one_client_span_with_its_events_and_token_totals() -> None:
    captured, tally = _ingest(ANTHROPIC_CALL)
    (span,) = captured.spans()
    assert span.name == "chat claude-x"
    assert span.kind is SpanKind.CLIENT
    assert span.end_time - span.start_time == 1_250_000_000
    assert span.end_time % 1_000_000_000 == 500_000_000
    attrs = dict(span.attributes or {})
    assert attrs == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-x",
        "multi_llm.event.scope": "user",
        "user.id": USER,
        "multi_llm.span.reconstructed": True,
        # The dialect table's total: the raw 10 plus the 30 read from the cache.
        "gen_ai.usage.input_tokens": 40,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 30,
        "gen_ai.usage.cache_write.input_tokens": 0,
    }
    assert [e.name for e in span.events] == ["llm_request", "llm_response", "cache_hit"]
    assert [r.event_name for r in captured.logs()] == ["llm_request", "llm_response", "cache_hit"]
    assert {r.span_id for r in captured.logs()} == {span.context.span_id}
    assert (tally.events, tally.call_spans) == (3, 1)


def test_the_call_records_the_decorators_token_metrics() -> None:
    captured, _ = _ingest(ANTHROPIC_CALL)
    points = captured.metrics()["gen_ai.client.token.usage"]
    by_type = {dict(p.attributes)["gen_ai.token.type"]: p for p in points}
    assert by_type["input"].sum == 40
    assert by_type["output"].sum == 7
    assert dict(by_type["input"].attributes)["gen_ai.provider.name"] == "anthropic"
    (duration,) = captured.metrics()["gen_ai.client.operation.duration"]
    assert duration.sum == 1.25


def test_openai_calls_pair_in_order_per_provider_and_user() -> None:
    def call(user: str, tokens: int) -> list[str]:
        return [
            _line("llm_request", {"provider": "openai", "model": "m"}, user=user),
            _line(
                "llm_response",
                {"provider": "openai", "model": "m", "input_tokens": tokens, "output_tokens": 1, "duration_ms": 5},
                user=user,
            ),
        ]

    a, b = call("a", 11), call("b", 22)
    # Two services' calls interleaved in one file: each response ends its own user's request.
    captured, _ = _ingest([a[0], b[0], a[1], b[1]])
    spans = captured.spans()
    assert [(s.attributes or {})["user.id"] for s in spans] == ["a", "b"]
    assert [(s.attributes or {})["gen_ai.usage.input_tokens"] for s in spans] == [11, 22]
    for span in spans:
        assert [e.name for e in span.events] == ["llm_request", "llm_response"]
        assert {e.attributes["user.id"] for e in span.events if e.attributes} == {(span.attributes or {})["user.id"]}


def test_a_crate_error_ends_its_call_with_the_error_type_and_status() -> None:
    captured, _ = _ingest(
        [
            _line("llm_request", {"provider": "openai", "model": "m"}, "2026-12-05T17:02:58Z"),
            _line("llm_error", {"provider": "openai", "error": "Request timed out after 30s"}, END),
        ]
    )
    (span,) = captured.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Request timed out after 30s"
    assert (span.attributes or {})["error.type"] == "Timeout"
    assert span.end_time - span.start_time == 1_500_000_000
    assert [e.name for e in span.events] == ["llm_request", "llm_error"]
    # No duration was reported: no call metrics rather than made-up ones.
    assert "gen_ai.client.operation.duration" not in captured.metrics()


def test_decorator_events_and_lone_requests_stay_log_records_without_spans() -> None:
    decorator = [
        _line("llm_request", {"provider": "openai", "model": "m", "operation": "chat", "stream": False}),
        _line("llm_response", {"provider": "openai", "model": "m", "input_tokens": 3, "duration_ms": 12.5}),
        _line("cache_miss", {"provider": "openai", "cache": "provider", "cache_read_tokens": 0}),
    ]
    lone = _line("llm_request", {"provider": "anthropic", "model": "claude-x"})
    captured, _ = _ingest([*decorator, lone])
    assert captured.spans() == []
    assert [r.event_name for r in captured.logs()] == ["llm_request", "llm_response", "cache_miss", "llm_request"]


def test_no_spans_leaves_every_event_a_log_record() -> None:
    captured, tally = _ingest(ANTHROPIC_CALL, spans=False)
    assert captured.spans() == []
    assert [r.event_name for r in captured.logs()] == ["llm_request", "llm_response", "cache_hit"]
    assert (tally.events, tally.call_spans) == (3, 0)


def test_a_response_without_its_request_still_gets_its_span() -> None:
    captured, _ = _ingest(ANTHROPIC_CALL[1:])
    (span,) = captured.spans()
    # The response's model names the call when no request said which was asked for.
    assert span.name == "chat claude-x-2025"
    assert [e.name for e in span.events] == ["llm_response", "cache_hit"]
