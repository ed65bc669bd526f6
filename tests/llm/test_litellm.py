"""LiteLLM against the real llama-server, through its OpenAI-compatible route
(``model="openai/<name>"``, ``api_base=<llama-server>/v1``).

LiteLLM is an optional extra (``pip install -e '.[test,litellm]'``): it takes about two minutes
to install here and several seconds to import, too much for every engineer's test set-up. Without
it these tests are reported as skipped, never as passed.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import warnings
from typing import Any

import pytest
from tests.llm._assertions import MODEL, assert_error_span, event, event_names, only_span, token_sums

from multi_llm_otel import _pricing, llm_call, providers
from multi_llm_otel.testing import Captured, capture

# LiteLLM fetches its price map from the network on import unless told to use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm", reason="LiteLLM not installed: pip install -e '.[test,litellm]'")

pytestmark = [
    pytest.mark.llm,
    # LiteLLM's own import-time and run-time warnings (its TypedDicts, its deprecations).
    pytest.mark.filterwarnings("ignore::UserWarning:pydantic.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    # LiteLLM runs its logging callbacks on event loops of its own that it never closes; the
    # garbage collector finds them during whichever test runs next. The library makes none.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

API_KEY = "sk-test-NEVER-EXPORT-THIS-KEY-0123456789"


@pytest.fixture(scope="module", autouse=True)
def _litellm_cleanup() -> Any:
    """LiteLLM caches HTTP clients (sync and async) and an event loop of its own across calls;
    they are closed here rather than left to warn at interpreter exit, where no test owns them."""
    yield
    for client in list(getattr(litellm.in_memory_llm_clients_cache, "cache_dict", {}).values()):
        close = getattr(client, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            close()
    asyncio.run(litellm.close_litellm_async_clients())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def telemetry() -> Any:
    with capture() as captured:
        yield captured


@pytest.fixture
def route(llama_server: str) -> dict[str, Any]:
    return {"model": f"openai/{MODEL}", "api_base": f"{llama_server}/v1", "api_key": API_KEY}


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@llm_call
def complete(**kwargs: Any) -> Any:
    return litellm.completion(**kwargs)


def test_the_extractor_is_found_through_the_public_registry() -> None:
    assert providers.get("litellm") is not None
    names = [e.name for e in providers.registered()]
    # LiteLLM's classes derive from the OpenAI SDK's: it must be asked first.
    assert names.index("litellm") < names.index("openai")


def test_completion(route: dict[str, Any], telemetry: Captured) -> None:
    response = complete(**route, messages=messages("Say hi."), max_tokens=8, temperature=0.0)

    assert type(response) is litellm.ModelResponse
    span = only_span(telemetry)
    attrs = dict(span.attributes or {})
    assert span.name == f"chat openai/{MODEL}"
    # An ``openai/`` route to a local server is not OpenAI; llama.cpp names itself.
    assert attrs["gen_ai.provider.name"] in ("llama.cpp", "openai_compatible")
    assert attrs["gen_ai.provider.name"] != "openai"
    assert attrs["gen_ai.request.model"] == f"openai/{MODEL}"
    assert attrs["gen_ai.request.max_tokens"] == 8
    assert attrs["gen_ai.response.model"] == response.model
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.usage.input_tokens"] == response.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == response.usage.completion_tokens
    assert attrs["gen_ai.response.finish_reasons"] == (response.choices[0].finish_reason,)
    reply = event(span, "llm_response")
    assert reply["input_tokens"] == response.usage.prompt_tokens
    assert reply["response_id"] == response.id
    assert token_sums(telemetry) == {
        "input": response.usage.prompt_tokens,
        "output": response.usage.completion_tokens,
    }
    # The key LiteLLM was given never reaches the telemetry.
    assert API_KEY not in repr(span.to_json()) + repr([(r.attributes, r.body) for r in telemetry.logs()])


def test_stream_with_usage(route: dict[str, Any], telemetry: Captured) -> None:
    stream = complete(
        **route,
        messages=messages("Count to five."),
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert isinstance(stream, litellm.CustomStreamWrapper)
    chunks = list(stream)

    usage = next(c.usage for c in reversed(chunks) if getattr(c, "usage", None) is not None)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    span = only_span(telemetry)
    reply = event(span, "llm_response")
    assert reply["stream"] is True
    assert reply["completed"] is True
    assert reply["chunk_count"] == len(chunks)
    assert reply["input_tokens"] == usage.prompt_tokens
    assert reply["output_tokens"] == usage.completion_tokens
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert reply["finish_reasons"] == (finish[-1],)
    assert dict(span.attributes or {})["gen_ai.provider.name"] != "openai"
    assert text


def test_stream_content_capture(route: dict[str, Any], telemetry: Captured) -> None:
    @llm_call(capture_content=True)
    def ask(**kwargs: Any) -> Any:
        return litellm.completion(**kwargs)

    chunks = list(ask(**route, messages=messages("Capture me."), max_tokens=8, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    span = only_span(telemetry)
    assert "Capture me." in event(span, "llm_request")["messages"]
    assert event(span, "llm_response")["output_text"] == text


async def test_acompletion_and_async_stream(route: dict[str, Any], telemetry: Captured) -> None:
    @llm_call
    async def ask(**kwargs: Any) -> Any:
        return await litellm.acompletion(**kwargs)

    response = await ask(**route, messages=messages("Hi"), max_tokens=4)
    assert type(response) is litellm.ModelResponse
    stream = await ask(**route, messages=messages("Story"), max_tokens=30, stream=True)
    assert isinstance(stream, litellm.CustomStreamWrapper)
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 2:
            break
    del stream

    first, second = telemetry.spans()
    assert event(first, "llm_response")["response_id"] == response.id
    assert event(first, "llm_response")["output_tokens"] == response.usage.completion_tokens
    assert event(second, "llm_response")["stream"] is True
    assert event(second, "llm_response")["completed"] is False
    assert event(second, "llm_response")["chunk_count"] == 2


def test_error_propagates_unchanged(route: dict[str, Any], telemetry: Captured) -> None:
    too_long = "word " * 6000
    with pytest.raises(litellm.BadRequestError) as info:
        complete(**route, messages=messages(too_long), max_tokens=4, num_retries=0)

    span = only_span(telemetry)
    # LiteLLM raises the most specific class it maps the server's error to.
    assert type(info.value).__name__ == "ContextWindowExceededError"
    assert_error_span(span, "ContextWindowExceededError")
    error = event(span, "llm_error")
    assert error["status_code"] == info.value.status_code == 400
    assert len(error["message"]) <= 500
    assert "llm_response" not in event_names(span)


def test_cost_from_the_users_price_table(route: dict[str, Any], telemetry: Captured) -> None:
    """Made-up prices for the model as the call names it; the cost follows the real usage the
    server reported (llama-server answers with its model file's path, which no table names)."""
    _pricing.set_prices({"models": {route["model"]: {"input": 3.0, "output": 5.0}}})
    try:
        response = complete(**route, messages=messages("Say hi."), max_tokens=8)
    finally:
        _pricing.reset()
    usage = response.usage
    expected = (usage.prompt_tokens * 3.0 + usage.completion_tokens * 5.0) / 1e6
    reply = event(only_span(telemetry), "llm_response")
    assert reply["cost_usd"] == pytest.approx(expected)
    points = telemetry.metrics()["multi_llm.client.cost"]
    assert sum(p.value for p in points) == pytest.approx(expected)
    assert {(p.attributes or {})["multi_llm.cost.type"] for p in points} <= {"input", "cached_input", "output"}
