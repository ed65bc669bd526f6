"""The producer dialect table (multi_llm_otel._dialects) on events as the crate and the decorator write them."""

from __future__ import annotations

from typing import Any

import pytest

from multi_llm_otel import BusinessEvent
from multi_llm_otel._dialects import error_type, normalise


def event(event_type: str, **metadata: Any) -> BusinessEvent:
    created = BusinessEvent.new(event_type)
    for key, value in metadata.items():
        created.with_metadata(key, value)
    return created


def test_the_crates_anthropic_input_total_is_added_and_the_raw_value_kept() -> None:
    response = event(
        "llm_response",
        provider="anthropic",
        input_tokens=5,
        output_tokens=8,
        duration_ms=140,
        cache_read_tokens=30,
        cache_creation_tokens=2,
    )
    out = normalise(response)
    assert out[0] is response
    assert response.metadata["input_tokens"] == 5
    assert response.metadata["gen_ai.usage.input_tokens"] == 37


def test_a_cache_event_is_derived_by_the_decorators_rule() -> None:
    hit = event(
        "llm_response",
        provider="anthropic",
        model="m",
        input_tokens=5,
        duration_ms=1,
        cache_read_tokens=30,
        session_id="s",
    )
    miss = event(
        "llm_response", provider="anthropic", model="m", input_tokens=5, duration_ms=1, cache_creation_tokens=9
    )
    (_, derived_hit), (_, derived_miss) = normalise(hit), normalise(miss)
    assert derived_hit.event_type == "cache_hit"
    assert derived_hit.metadata == {
        "provider": "anthropic",
        "model": "m",
        "session_id": "s",
        "cache": "provider",
        "cache_read_tokens": 30,
        "input_tokens": 35,
        "derived": True,
        "derived_from": str(hit.id),
    }
    assert derived_hit.created_at == hit.created_at
    assert derived_hit.id != hit.id
    assert derived_miss.event_type == "cache_miss"
    assert derived_miss.metadata["cache_read_tokens"] == 0
    assert derived_miss.metadata["cache_creation_tokens"] == 9


@pytest.mark.parametrize(
    "metadata",
    [
        # The decorator writes fractional milliseconds and its own cache events, and counts the cache in.
        {"provider": "anthropic", "input_tokens": 35, "duration_ms": 140.25, "cache_read_tokens": 30},
        # A crate response without cache counts (its OpenAI-style providers).
        {"provider": "openai", "input_tokens": 35, "duration_ms": 140},
    ],
)
def test_other_responses_are_left_alone(metadata: dict[str, Any]) -> None:
    response = event("llm_response", **metadata)
    assert normalise(response) == [response]
    assert response.metadata == metadata


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Request failed: connection refused", "RequestFailed"),
        ("Request timed out after 30s", "Timeout"),
        ("Rate limit exceeded, retry after 20s", "RateLimitExceeded"),
        ("Authentication failed: bad key", "AuthenticationFailed"),
        ("Response parsing failed: eof", "ResponseParsingError"),
        ("disk full", "_OTHER"),
    ],
)
def test_the_crates_error_text_gives_message_and_type(text: str, kind: str) -> None:
    assert error_type(text) == kind
    failed = event("llm_error", provider="openai", error=text)
    normalise(failed)
    assert failed.metadata == {"provider": "openai", "error": text, "message": text, "error_type": kind}


def test_an_error_type_already_given_is_kept() -> None:
    failed = event("llm_error", error="Request failed: x", error_type="Mine", message="mine")
    normalise(failed)
    assert (failed.metadata["error_type"], failed.metadata["message"]) == ("Mine", "mine")
