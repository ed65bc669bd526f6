"""``llm_call(aclient.chat.completions.create)``: the real AsyncOpenAI method, a plain function
returning a coroutine, against a real llama-server; the call ends when the request did."""

from __future__ import annotations

import openai
import pytest
from tests.llm._assertions import MODEL, assert_logs_mirror_span_events, only_span

from multi_llm_otel import llm_call
from multi_llm_otel.testing import Captured

pytestmark = pytest.mark.llm


async def test_the_async_sdk_method_decorated_directly(llama_server: str, telemetry: Captured) -> None:
    async with openai.AsyncOpenAI(base_url=f"{llama_server}/v1", api_key="unused", max_retries=2) as client:
        create = llm_call(client.chat.completions.create)
        response = await create(model=MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8)
        with pytest.raises(openai.BadRequestError):
            await create(model=MODEL, messages=[{"role": "user", "content": "word " * 6000}], max_tokens=8)

    first, failed = telemetry.spans()
    attrs = dict(first.attributes or {})
    assert response.usage is not None
    assert attrs["gen_ai.usage.input_tokens"] == response.usage.prompt_tokens
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.request.model"] == MODEL
    # llama-server reports its prompt cache, so a cache event may follow.
    assert [e.name for e in first.events][:2] == ["llm_request", "llm_response"]
    assert [e.name for e in failed.events] == ["llm_request", "llm_error"]
    assert dict(failed.attributes or {})["error.type"] == "BadRequestError"
    assert [r.event_name for r in telemetry.logs("llm_error")] == ["llm_error"]


async def test_a_function_returning_the_coroutine(llama_server: str, telemetry: Captured) -> None:
    async with openai.AsyncOpenAI(base_url=f"{llama_server}/v1", api_key="unused", max_retries=2) as client:

        @llm_call
        def ask(text: str):  # type: ignore[no-untyped-def]
            return client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": text}], max_tokens=8
            )

        response = await ask("Say hi.")
    span = only_span(telemetry)
    assert dict(span.attributes or {})["gen_ai.usage.output_tokens"] == response.usage.completion_tokens  # type: ignore[union-attr]
    assert_logs_mirror_span_events(telemetry, span)
