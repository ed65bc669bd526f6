"""API keys and auth headers are never exported: the real openai and anthropic SDKs, with a
recognisable key, against the real llama-server, on every path (success, stream, stream
helper, error), content capture on; everything captured (spans, events, log records,
metrics, each with its Resource, as JSON and as OTLP bytes) is searched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from tests.collector._procs import free_port
from tests.failure._exported import exported_text
from tests.llm._assertions import MODEL

from multi_llm_otel import llm_call
from multi_llm_otel._content_capture import ENV
from multi_llm_otel.testing import Captured, capture

pytestmark = pytest.mark.llm

# Built at run time so the literal is not on a line a traceback could show.
SECRET = "-".join(["sk", "live", "SECRETKEY", "4f1d9c2b7a"])
FORBIDDEN = (SECRET, "SECRETKEY", "bearer", "x-api-key", "authorization")
TOO_LONG = "word " * 6000  # past the server's 4,096-token context: HTTP 400
# Clients retry (max_retries=2): llama-server sometimes drops a kept-alive connection while
# refusing an over-long prompt, and the retry still ends in the HTTP 400 under test.


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    monkeypatch.setenv(ENV, "true")
    with capture() as captured:
        yield captured


def assert_clean(telemetry: Captured, spans: int) -> None:
    assert len(telemetry.spans()) == spans
    text = exported_text(telemetry)
    assert "word word" in text, "content capture was on: the prompt is there"
    lowered = text.lower()
    for needle in FORBIDDEN:
        assert needle.lower() not in lowered, needle


def msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_openai_sdk_paths(llama_server: str, telemetry: Captured) -> None:
    with openai.OpenAI(base_url=f"{llama_server}/v1", api_key=SECRET, max_retries=2) as client:
        create = llm_call(client.chat.completions.create, capture_content=True)

        @llm_call(capture_content=True)
        def via_argument(c: openai.OpenAI, **kwargs: Any) -> Any:
            return c.chat.completions.create(**kwargs)

        create(model=MODEL, messages=msgs("word word hi"), max_tokens=4)
        via_argument(client, model=MODEL, messages=msgs("word word hi"), max_tokens=4)
        list(create(model=MODEL, messages=msgs("word word hi"), max_tokens=4, stream=True))
        with pytest.raises(openai.BadRequestError):
            create(model=MODEL, messages=msgs(TOO_LONG), max_tokens=4)
        with pytest.raises(openai.BadRequestError):
            list(via_argument(client, model=MODEL, messages=msgs(TOO_LONG), max_tokens=4, stream=True))
    assert_clean(telemetry, 5)


async def test_openai_async_paths(llama_server: str, telemetry: Captured) -> None:
    async with openai.AsyncOpenAI(base_url=f"{llama_server}/v1", api_key=SECRET, max_retries=2) as client:

        @llm_call(capture_content=True)
        async def ask(**kwargs: Any) -> Any:
            return await client.chat.completions.create(**kwargs)

        await ask(model=MODEL, messages=msgs("word word hi"), max_tokens=4)
        stream = await ask(model=MODEL, messages=msgs("word word hi"), max_tokens=4, stream=True)
        [chunk async for chunk in stream]
        with pytest.raises(openai.BadRequestError):
            await ask(model=MODEL, messages=msgs(TOO_LONG), max_tokens=4)
    assert_clean(telemetry, 3)


def test_anthropic_sdk_paths(llama_server: str, telemetry: Captured) -> None:
    with anthropic.Anthropic(base_url=llama_server, api_key=SECRET, max_retries=2) as client:
        create = llm_call(client.messages.create, capture_content=True)
        stream_helper = llm_call(client.messages.stream, capture_content=True)

        create(model=MODEL, messages=msgs("word word hi"), max_tokens=4)
        list(create(model=MODEL, messages=msgs("word word hi"), max_tokens=4, stream=True))
        with stream_helper(model=MODEL, messages=msgs("word word hi"), max_tokens=4) as stream:
            stream.get_final_message()
        with pytest.raises(anthropic.BadRequestError):
            create(model=MODEL, messages=msgs(TOO_LONG), max_tokens=4)
    assert_clean(telemetry, 4)


async def test_anthropic_async_paths(llama_server: str, telemetry: Captured) -> None:
    async with anthropic.AsyncAnthropic(base_url=llama_server, api_key=SECRET, max_retries=2) as client:

        @llm_call(capture_content=True)
        async def ask(**kwargs: Any) -> Any:
            return await client.messages.create(**kwargs)

        await ask(model=MODEL, messages=msgs("word word hi"), max_tokens=4)
        stream = await ask(model=MODEL, messages=msgs("word word hi"), max_tokens=4, stream=True)
        [event async for event in stream]
        with pytest.raises(anthropic.BadRequestError):
            await ask(model=MODEL, messages=msgs(TOO_LONG), max_tokens=4)
    assert_clean(telemetry, 3)


def test_credentials_in_the_base_url_are_not_exported(telemetry: Captured) -> None:
    """User info in the base URL (``http://user:secret@host``) never reaches ``server.address``
    or any other attribute; the call fails (nothing listens), the error path is exported."""
    url = f"http://svc:{SECRET}@127.0.0.1:{free_port()}/v1"
    with openai.OpenAI(base_url=url, api_key=SECRET, max_retries=0) as client:
        create = llm_call(client.chat.completions.create, capture_content=True)
        with pytest.raises(openai.APIConnectionError):
            create(model=MODEL, messages=msgs("word word hi"), max_tokens=4)
    assert dict(telemetry.spans()[0].attributes or {})["server.address"] == "127.0.0.1"
    assert_clean(telemetry, 1)
