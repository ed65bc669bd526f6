"""What the SDK call actually received and which server it went to, when the decorated
function's own arguments do not say (#11 item 9)."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

import multi_llm_otel
from multi_llm_otel import llm_call
from multi_llm_otel.testing import Captured, capture

COMPLETION = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "created": 1764000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop", "logprobs": None}
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


def make_client(base_url: str = "https://api.openai.com/v1", body: dict[str, Any] = COMPLETION) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test-not-a-real-key-000000",
        base_url=base_url,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=body))),
    )


def request_models(telemetry: Captured) -> set[object]:
    return {dict(p.attributes).get("gen_ai.request.model") for p in telemetry.metrics()["gen_ai.client.token.usage"]}


def test_the_readme_example_names_the_model_the_sdk_call_received(telemetry: Captured) -> None:
    client = make_client()

    @llm_call
    def answer(user_id: str, prompt: str) -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    answer("u-1", "hi")
    [span] = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-4o-mini"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert request_models(telemetry) == {"gpt-4o-mini"}, "the response model is no request model"
    [response] = telemetry.logs("llm_response")
    assert isinstance(response.body, dict)
    assert response.body["model"] == "gpt-4o-mini"
    [request] = telemetry.logs("llm_request")
    assert isinstance(request.body, dict)
    assert request.body["model"] == "gpt-4o-mini", "llm_request waits for the request it describes"
    assert telemetry.event_names() == ["llm_request", "llm_response"]


def test_outside_a_decorated_call_the_client_works_as_before(telemetry: Captured) -> None:
    client = make_client()

    @llm_call
    def answer(prompt: str) -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    answer("hi")
    undecorated = client.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])
    assert undecorated.id == "chatcmpl-9"
    assert [s.name for s in telemetry.spans()] == ["chat gpt-4o-mini"]


def test_without_any_request_model_the_response_model_stays_a_response_model(telemetry: Captured) -> None:
    @llm_call
    def answer() -> dict[str, Any]:
        return COMPLETION

    answer()
    [span] = telemetry.spans()
    assert span.name == "chat"
    assert "gen_ai.request.model" not in dict(span.attributes or {})
    assert request_models(telemetry) == {None}


def test_an_absurd_usage_count_drops_only_that_value(telemetry: Captured) -> None:
    body = {**COMPLETION, "usage": {"prompt_tokens": 10**400, "completion_tokens": 2, "total_tokens": 10**400}}

    @llm_call(model="gpt-4o-mini")
    def answer() -> dict[str, Any]:
        return body

    assert answer() is body
    [span] = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert "gen_ai.usage.input_tokens" not in attrs
    assert attrs["gen_ai.usage.output_tokens"] == 2
    assert attrs["gen_ai.response.id"] == "chatcmpl-9"
    points = telemetry.metrics()["gen_ai.client.token.usage"]
    assert [(dict(p.attributes)["gen_ai.token.type"], p.sum) for p in points] == [("output", 2)]
    assert "gen_ai.client.operation.duration" in telemetry.metrics()
    assert multi_llm_otel.stats() == {}


@pytest.mark.parametrize(("options", "limit"), [({}, 256), ({"max_value_length": 100}, 100)])
def test_strings_a_server_chose_are_bounded_everywhere(options: dict[str, Any], limit: int) -> None:
    huge = "m" * 1_000_000
    body = {**COMPLETION, "model": huge, "id": "i" * 1_000_000}
    client = make_client(body=body)

    @llm_call
    def answer() -> Any:
        return client.chat.completions.create(model=huge, messages=[{"role": "user", "content": "hi"}])

    with capture(**options) as telemetry:
        answer()
        [span] = telemetry.spans()
        attrs = dict(span.attributes or {})
        assert span.name == "chat " + "m" * limit
        assert len(str(attrs["gen_ai.response.model"])) == limit
        assert len(str(attrs["gen_ai.response.id"])) == limit
        for points in telemetry.metrics().values():
            for point in points:
                assert all(len(str(v)) <= limit for v in dict(point.attributes).values())
        for record in telemetry.logs():
            assert isinstance(record.body, dict)
            assert all(len(str(v)) <= limit for v in record.body.values())


@pytest.mark.parametrize("temperature", [float("nan"), float("inf"), 10**400])
def test_a_non_finite_sampling_parameter_is_left_out(telemetry: Captured, temperature: Any) -> None:
    @llm_call(model="m")
    def answer(**kwargs: Any) -> dict[str, Any]:
        return COMPLETION

    answer(temperature=temperature, top_p=0.5)
    [span] = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert "gen_ai.request.temperature" not in attrs
    assert attrs["gen_ai.request.top_p"] == 0.5
    [request] = telemetry.logs("llm_request")
    assert isinstance(request.body, dict)
    assert "temperature" not in request.body


async def test_an_async_client_s_request_model_is_observed_too(telemetry: Captured) -> None:
    async def reply(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=COMPLETION)

    client = openai.AsyncOpenAI(
        api_key="sk-test-not-a-real-key-000000",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(reply)),
    )

    @llm_call
    async def answer(prompt: str) -> Any:
        return await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    await answer("hi")
    [span] = telemetry.spans()
    assert span.name == "chat gpt-4o-mini"
    assert request_models(telemetry) == {"gpt-4o-mini"}
