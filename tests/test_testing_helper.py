"""``multi_llm_otel.testing.capture()``: what users assert their own telemetry with."""

from __future__ import annotations

import pytest
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk.metrics.export import HistogramDataPoint

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope
from multi_llm_otel._emitter import active
from multi_llm_otel.testing import Captured, capture


def test_capture_records_spans_span_events_and_logs() -> None:
    with capture() as captured:
        tracer = captured.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("outer"):
            multi_llm_otel.emit(BusinessEvent.new("llm_request").with_metadata("model", "m"))
            with tracer.start_as_current_span("inner"):
                multi_llm_otel.emit(BusinessEvent.new("llm_response"))
            multi_llm_otel.emit(BusinessEvent.new("cache_hit"))
        multi_llm_otel.emit(BusinessEvent.new("error"), EventScope.user("u"))

        assert [s.name for s in captured.spans()] == ["inner", "outer"], "in the order they ended"
        assert [e.name for e in captured.span_events()] == ["llm_response", "llm_request", "cache_hit"]
        assert [e.name for e in captured.span_events("llm_request")] == ["llm_request"]
        assert captured.span_events("nothing") == []
        assert captured.event_names() == ["llm_request", "llm_response", "cache_hit", "error"]
        assert [r.event_name for r in captured.logs()] == captured.event_names()
        [error] = captured.logs("error")
        assert (error.attributes or {})["user.id"] == "u"
        assert captured.logs("nothing") == []


def test_metrics_are_captured_by_name() -> None:
    with capture() as captured:
        assert captured.metrics() == {}
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.token.type": "input"}
        captured.emitter.metrics.token_usage.record(100, attributes)
        captured.emitter.metrics.token_usage.record(20, attributes)
        captured.emitter.metrics.operation_duration.record(0.5, {"gen_ai.operation.name": "chat"})
        found = captured.metrics()
    assert set(found) == {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"}
    [tokens] = found["gen_ai.client.token.usage"]
    assert isinstance(tokens, HistogramDataPoint)
    assert (tokens.count, tokens.sum, tokens.min, tokens.max) == (2, 120, 20, 100)
    assert dict(tokens.attributes or {}) == attributes
    [duration] = found["gen_ai.client.operation.duration"]
    assert duration.count == 1
    assert duration.sum == 0.5


def test_token_histogram_uses_the_genai_buckets() -> None:
    with capture() as captured:
        captured.emitter.metrics.token_usage.record(3)
        [point] = captured.metrics()["gen_ai.client.token.usage"]
    assert list(point.explicit_bounds)[:4] == [1, 4, 16, 64]


def test_clear_forgets_spans_and_logs_but_keeps_capturing() -> None:
    with capture() as captured:
        with captured.tracer_provider.get_tracer("t").start_as_current_span("s"):
            multi_llm_otel.emit(BusinessEvent.new("before"))
        captured.clear()
        assert captured.spans() == []
        assert captured.span_events() == []
        assert captured.logs() == []
        assert captured.event_names() == []
        with captured.tracer_provider.get_tracer("t").start_as_current_span("s"):
            multi_llm_otel.emit(BusinessEvent.new("after"))
        assert captured.event_names() == ["after"]
        assert [e.name for e in captured.span_events()] == ["after"]


def test_the_previous_emitter_is_restored() -> None:
    before = active()
    with capture() as outer:
        assert active() is outer.emitter
        with capture() as inner:
            assert active() is inner.emitter
            multi_llm_otel.emit(BusinessEvent.new("inner"))
        assert active() is outer.emitter
        multi_llm_otel.emit(BusinessEvent.new("outer"))
    assert active() is before
    assert inner.event_names() == ["inner"]
    assert outer.event_names() == ["outer"]


def test_the_previous_emitter_is_restored_when_the_block_raises() -> None:
    before = active()
    with pytest.raises(RuntimeError), capture():
        raise RuntimeError("boom")
    assert active() is before


def test_nothing_is_captured_after_the_block() -> None:
    with capture() as captured:
        multi_llm_otel.emit(BusinessEvent.new("inside"))
    multi_llm_otel.emit(BusinessEvent.new("outside"))
    assert captured.event_names() == ["inside"]


def test_the_applications_global_providers_are_left_alone() -> None:
    providers = (trace.get_tracer_provider(), _logs.get_logger_provider(), metrics.get_meter_provider())
    with capture() as captured:
        assert captured.tracer_provider is not providers[0]
        assert (trace.get_tracer_provider(), _logs.get_logger_provider(), metrics.get_meter_provider()) == providers
    assert (trace.get_tracer_provider(), _logs.get_logger_provider(), metrics.get_meter_provider()) == providers


def test_capture_passes_options_to_the_emitter_and_the_bridge() -> None:
    with capture(span_events=False, user_id_hash_key=b"k", max_attributes=50, max_value_length=9) as captured:
        assert isinstance(captured, Captured)
        assert captured.emitter.user_id_hash_key == b"k"
        assert captured.emitter.max_attributes == 50
        assert captured.emitter.max_value_length == 9
        with captured.tracer_provider.get_tracer("t").start_as_current_span("s"):
            multi_llm_otel.emit(BusinessEvent.new("x"), EventScope.user("u"))
        assert captured.span_events() == []
        [record] = captured.logs()
        assert str((record.attributes or {})["user.id"]).startswith("hmac-sha256:")


def test_capture_is_public() -> None:
    import multi_llm_otel.testing as testing

    assert testing.__all__ == ["Captured", "capture"]
    assert testing.capture.__doc__
    assert testing.Captured.__doc__
