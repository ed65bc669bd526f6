"""Every exported error text goes through one masking and bounding rule (#11 item 1)."""

from __future__ import annotations

import openai
import pytest

from multi_llm_otel import llm_call
from multi_llm_otel.providers._base import MESSAGE_LIMIT, error_message
from multi_llm_otel.testing import Captured


def exported_text(telemetry: Captured) -> str:
    """Everything the call exported that could carry text: spans (name, status, attributes,
    events) and log records (body, attributes)."""
    parts: list[str] = []
    for span in telemetry.spans():
        parts += [span.name, str(span.status.description), repr(dict(span.attributes or {}))]
        parts += [f"{e.name} {dict(e.attributes or {})!r}" for e in span.events]
    for record in telemetry.logs():
        parts += [repr(record.body), repr(dict(record.attributes or {}))]
    return "\n".join(parts)


def test_the_minimal_case_from_the_issue_exports_no_key(telemetry: Captured) -> None:
    key = "sk-test-SECRETKEY0123456789abcdef"

    @llm_call
    def ask() -> None:
        raise RuntimeError(f"proxy said 401: invalid api key {key}")

    with pytest.raises(RuntimeError):
        ask()
    text = exported_text(telemetry)
    assert "SECRETKEY" not in text
    [record] = telemetry.logs("llm_error")
    attributes = dict(record.attributes or {})
    assert attributes["exception.type"] == "RuntimeError"
    assert attributes["exception.message"] == "proxy said 401: invalid api key [REDACTED]"
    assert attributes["message"] == "proxy said 401: invalid api key [REDACTED]"
    [span] = telemetry.spans()
    assert span.status.description == "proxy said 401: invalid api key [REDACTED]"
    assert [e.name for e in span.events] == ["llm_request", "llm_error"], "no unmasked exception event"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("groq said: invalid key gsk_AbCdEf0123456789xyz", "gsk_AbCdEf0123456789xyz"),
        ("invalid key sk-ab12cd34", "sk-ab12cd34"),
        ("sent headers x-api-key: hunter2-very-secret", "hunter2-very-secret"),
        ("GET https://proxy/v1/chat?api_key=q1w2e3r4t5&model=m", "q1w2e3r4t5"),
        ("GET https://proxy/v1/chat?model=m&key=AAA111BBB222", "AAA111BBB222"),
        ("redirected to https://x/cb?token=tok-998877", "tok-998877"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ('body {"api_key": "plain-secret-value"}', "plain-secret-value"),
    ],
)
def test_each_credential_shape_is_masked(text: str, secret: str) -> None:
    masked = error_message(text)
    assert masked is not None
    assert secret not in masked
    assert "[REDACTED]" in masked


def test_ordinary_words_survive() -> None:
    text = "max_tokens=5 is too small: 120 tokens requested, key points: sk-learn"
    assert error_message(text) == text


def test_the_key_the_client_was_configured_with_is_masked_whatever_its_shape(telemetry: Captured) -> None:
    key = "local~proxy#key!42"
    client = openai.OpenAI(api_key=key, base_url="http://127.0.0.1:9/v1")

    @llm_call
    def ask(llm: openai.OpenAI) -> None:
        raise RuntimeError(f"the proxy rejected {llm.api_key} for this model")

    with pytest.raises(RuntimeError):
        ask(client)
    text = exported_text(telemetry)
    assert key not in text
    assert "the proxy rejected [REDACTED] for this model" in text


def test_a_huge_message_is_bounded_everywhere(telemetry: Captured) -> None:
    @llm_call
    def ask() -> None:
        raise ValueError("x" * 5_000_000)

    with pytest.raises(ValueError, match="x"):
        ask()
    [record] = telemetry.logs("llm_error")
    attributes = dict(record.attributes or {})
    assert len(str(attributes["message"])) == MESSAGE_LIMIT
    assert len(str(attributes["exception.message"])) == MESSAGE_LIMIT
    [span] = telemetry.spans()
    assert len(span.status.description or "") == MESSAGE_LIMIT
    assert len(exported_text(telemetry)) < 10 * MESSAGE_LIMIT
