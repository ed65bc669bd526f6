"""One CLIENT span per request when the anthropic SDK traces its own calls (its default in 2.x),
against llama-server's Anthropic Messages route, with @llm_call."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind
from tests.llm._assertions import MODEL, assert_logs_mirror_span_events, event_names, only_span, token_sums

from multi_llm_otel import llm_call
from multi_llm_otel.testing import Captured

pytestmark = pytest.mark.llm

HI = [{"role": "user", "content": "Say hi."}]


def client(llama_server: str, telemetry: Captured, traces: bool) -> anthropic.Anthropic:
    # The SDK's spans go to the same provider as ours, as they would with one global provider.
    tracing = {"tracer_provider": telemetry.tracer_provider, "traces": traces}
    return anthropic.Anthropic(base_url=llama_server, api_key="sk-ant-test", max_retries=2, open_telemetry=tracing)


def test_the_sdk_alone_makes_its_own_span(llama_server: str, telemetry: Captured) -> None:
    """The control: with tracing on, the SDK really does trace these requests."""
    client(llama_server, telemetry, True).messages.create(model=MODEL, messages=HI, max_tokens=8)
    assert [(s.name, s.kind) for s in telemetry.spans()] == [("anthropic.messages.create", SpanKind.CLIENT)]


@pytest.mark.parametrize("traces", [True, False], ids=["sdk-tracing-on", "sdk-tracing-off"])
def test_a_decorated_call_is_one_client_span(llama_server: str, telemetry: Captured, traces: bool) -> None:
    sdk = client(llama_server, telemetry, traces)

    @llm_call
    def ask(**kwargs: Any) -> anthropic.types.Message:
        return sdk.messages.create(**kwargs)

    message = ask(model=MODEL, messages=HI, max_tokens=8)

    span = only_span(telemetry)
    assert span.name == f"chat {MODEL}"
    assert event_names(span)[:2] == ["llm_request", "llm_response"]
    assert_logs_mirror_span_events(telemetry, span)
    usage = message.usage
    expected_input = (
        usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
    )
    assert token_sums(telemetry) == {"input": expected_input, "output": usage.output_tokens}
    # With its tracing on, the SDK records its own attributes onto our span.
    assert span.attributes is not None
    assert span.attributes.get("http.response.status_code") == (200 if traces else None)
    assert span.attributes.get("url.full") == (f"{llama_server}/v1/messages" if traces else None)


@pytest.mark.parametrize("traces", [True, False], ids=["sdk-tracing-on", "sdk-tracing-off"])
def test_a_decorated_stream_is_one_client_span(llama_server: str, telemetry: Captured, traces: bool) -> None:
    sdk = client(llama_server, telemetry, traces)
    with llm_call(sdk.messages.stream)(model=MODEL, messages=HI, max_tokens=8) as stream:
        message = stream.get_final_message()

    span = only_span(telemetry)
    assert span.attributes is not None
    assert span.attributes["multi_llm.stream.completed"] is True
    assert token_sums(telemetry)["output"] == message.usage.output_tokens
