"""The pure builders: what one call's record becomes, without any OpenTelemetry."""

from __future__ import annotations

import subprocess
import sys

from multi_llm_otel import EventScope
from multi_llm_otel._call_events import (
    error_event,
    metric_attributes,
    provider_cache_event,
    request_event,
    response_event,
    span_end_attributes,
    span_start_attributes,
)
from multi_llm_otel._call_record import CallRecord
from multi_llm_otel.providers import ErrorInfo, RequestInfo, ResponseInfo


def record(**overrides: object) -> CallRecord:
    values: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4o",
        "operation": "chat",
        "scope": EventScope.user("u1"),
        "request": RequestInfo(model="gpt-4o", max_tokens=10, temperature=0.5, tool_count=2),
        "server_address": "api.openai.com",
        "server_port": 443,
        "capture_content": False,
        "start": 100.0,
    }
    values.update(overrides)
    return CallRecord(**values)  # type: ignore[arg-type]


def test_the_builders_need_no_opentelemetry() -> None:
    code = (
        "import sys, multi_llm_otel._call_events, multi_llm_otel._call_record;"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_request_event_carries_the_parameters_and_no_content() -> None:
    rec = record(request=RequestInfo(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "hi"}]))
    event = request_event(rec)
    assert event.event_type == "llm_request"
    assert event.metadata == {
        "provider": "openai",
        "model": "gpt-4o",
        "operation": "chat",
        "stream": False,
        "max_tokens": 10,
    }


def test_response_event_and_cache_hit_from_usage() -> None:
    rec = record()
    rec.stream = True
    rec.chunks = 3
    rec.first_chunk_at = 100.25
    info = ResponseInfo(
        response_id="r1", input_tokens=50, output_tokens=5, cache_read_tokens=40, finish_reasons=["stop"]
    )
    event = response_event(rec, info, 0.5, True, None)
    assert event is not None
    assert event.metadata["duration_ms"] == 500.0
    assert event.metadata["time_to_first_chunk_ms"] == 250.0
    assert event.metadata["chunk_count"] == 3
    assert event.metadata["finish_reasons"] == ["stop"]
    hit = provider_cache_event(rec, info)
    assert hit is not None
    assert hit.event_type == "cache_hit"
    assert hit.metadata["cache_read_tokens"] == 40


def test_a_call_that_failed_before_any_response_has_no_response_event() -> None:
    error = ErrorInfo(error_type="APIConnectionError", message="down")
    assert response_event(record(), ResponseInfo(), 0.1, False, error) is None
    assert error_event(record(), error).metadata["error_type"] == "APIConnectionError"


def test_span_and_metric_attributes_use_the_semantic_convention_names() -> None:
    rec = record()
    start = span_start_attributes(rec)
    assert start["gen_ai.request.max_tokens"] == 10
    assert start["server.port"] == 443
    end = span_end_attributes(rec, ResponseInfo(response_model="gpt-4o-2024"), True, ErrorInfo(error_type="X"))
    assert end == {"gen_ai.response.model": "gpt-4o-2024", "error.type": "X"}
    metric = metric_attributes(rec, ResponseInfo(response_model="gpt-4o-2024"), None)
    assert metric["multi_llm.event.scope"] == "user"
    assert "user.id" not in metric, "a user id in a metric attribute would explode cardinality"
