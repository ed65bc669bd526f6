"""``_settings.resolve()``: the one reading of the telemetry settings, shared by ``configure()``
and ``multi-llm-otel check``. Pure: each case passes its own environment."""

from __future__ import annotations

import io

import pytest

from multi_llm_otel._settings import resolve


def test_nothing_set_is_the_embedded_default() -> None:
    settings = resolve({})
    assert settings.exporters == {"traces": "console", "logs": "console", "metrics": "console"}
    assert settings.endpoints == {}
    assert settings.sink is None
    assert (settings.spans.max_queue_size, settings.spans.max_export_batch_size) == (2048, 512)
    assert (settings.spans.schedule_delay_millis, settings.logs.schedule_delay_millis) == (5000, 1000)
    assert settings.metric_export_interval_millis == 60_000
    assert (settings.limits.event_attributes, settings.limits.value_length) == (128, None)
    assert settings.sampler.name == "parentbased_always_on"
    assert settings.problems == ()


def test_endpoints_per_signal_win_over_the_base_and_http_appends_the_path() -> None:
    settings = resolve(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://logs.example/ingest",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2.5",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "7",
        }
    )
    assert settings.exporters == {"traces": "otlp", "logs": "otlp", "metrics": "otlp"}
    assert settings.endpoints["traces"].url == "http://collector:4318/v1/traces"
    assert settings.endpoints["logs"].url == "https://logs.example/ingest"
    assert settings.endpoints["logs"].source == "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
    assert [settings.endpoints[s].timeout for s in ("traces", "logs", "metrics")] == [2.5, 2.5, 7.0]


def test_grpc_uses_the_endpoint_as_given_and_an_argument_wins() -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}
    assert resolve(env).endpoints["traces"].url == "collector:4317"
    given = resolve(env, endpoint="http://other:4317")
    assert given.endpoints["traces"].url == "http://other:4317"
    assert (
        resolve({}, endpoint="http://c:4318", protocol="http/protobuf").endpoints["logs"].url == "http://c:4318/v1/logs"
    )


def test_a_small_queue_makes_the_default_batch_fit() -> None:
    settings = resolve({"OTEL_BSP_MAX_QUEUE_SIZE": "100"})
    assert (settings.spans.max_queue_size, settings.spans.max_export_batch_size) == (100, 100)
    assert settings.problems == ()


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:99999"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://h"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h", "OTEL_EXPORTER_OTLP_TIMEOUT": "-1"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ({"OTEL_BSP_EXPORT_TIMEOUT": "1.5"}, "OTEL_BSP_EXPORT_TIMEOUT"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "x"}, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
        ({"MULTI_LLM_OTEL_SPAN_EVENTS": "maybe"}, "MULTI_LLM_OTEL_SPAN_EVENTS"),
    ],
)
def test_each_unusable_value_is_one_problem_naming_its_variable(env: dict[str, str], variable: str) -> None:
    [problem] = resolve(env).problems
    assert problem.variable == variable
    assert str(problem).startswith(f"{variable}={env[variable]!r} ")
    assert "; using " in str(problem)


def test_a_variable_read_for_three_signals_is_one_problem() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1", "OTEL_EXPORTER_OTLP_TIMEOUT": "abc"}
    settings = resolve(env)
    assert sorted(p.variable for p in settings.problems) == [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    assert {e.url for e in settings.endpoints.values()} == {
        "http://localhost:4318/v1/traces",
        "http://localhost:4318/v1/logs",
        "http://localhost:4318/v1/metrics",
    }


def test_a_sink_stream_is_kept_and_a_sink_is_checked_only_when_used() -> None:
    stream = io.StringIO()
    assert resolve({}, sink=stream).sink is stream
    env = {"MULTI_LLM_OTEL_SINK": "/no/such/folder/x.jsonl"}
    assert resolve(env).problems[0].variable == "MULTI_LLM_OTEL_SINK"
    unused = {**env, "OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
    assert resolve(unused).problems == ()


def test_a_valid_per_signal_timeout_wins_over_an_invalid_base() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "abc",
        "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "3",
    }
    settings = resolve(env)
    assert [p.variable for p in settings.problems] == ["OTEL_EXPORTER_OTLP_TIMEOUT"]
    assert settings.endpoints["logs"].timeout == 3.0
    assert settings.endpoints["traces"].timeout == 10.0


def test_span_events_come_from_the_argument_else_the_variable() -> None:
    assert resolve({}).span_events is True
    assert resolve({"MULTI_LLM_OTEL_SPAN_EVENTS": "false"}).span_events is False
    assert resolve({"MULTI_LLM_OTEL_SPAN_EVENTS": "false"}, span_events=True).span_events is True
    assert resolve({"MULTI_LLM_OTEL_SPAN_EVENTS": "maybe"}).span_events is True
