"""The LiteLLM extractor without LiteLLM installed: which backend answered, and its streams.

LiteLLM itself is exercised live in tests/llm/test_litellm.py (an optional extra). These objects
stand in for its classes by module and name, which is all the extractor looks at, so the naming
rules and the both-ways stream proxy are tested in every environment.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from multi_llm_otel import llm_call, providers
from multi_llm_otel.providers.litellm import EXTRACTOR
from multi_llm_otel.testing import Captured, capture


def _litellm_class(name: str, module: str, **body: Any) -> type:
    return type(name, (), {"__module__": module, **body})


def response(hidden: dict[str, Any] | None, **extra: Any) -> Any:
    cls = _litellm_class("ModelResponse", "litellm.types.utils")
    obj = cls()
    obj.__dict__.update(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "served-model",
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 10}},
            **extra,
        }
    )
    obj._hidden_params = hidden
    return obj


@pytest.mark.parametrize(
    ("hidden", "provider"),
    [
        ({"custom_llm_provider": "openai", "api_base": "https://api.openai.com/v1"}, "openai"),
        ({"custom_llm_provider": "openai", "api_base": "http://10.0.0.7:8000/v1"}, "openai_compatible"),
        ({"custom_llm_provider": "openai", "api_base": "http://127.0.0.1:11434/v1"}, "ollama"),
        ({"custom_llm_provider": "anthropic", "api_base": "https://api.anthropic.com/v1/messages"}, "anthropic"),
        ({"custom_llm_provider": "gemini"}, "gcp.gemini"),
        ({"custom_llm_provider": "bedrock"}, "aws.bedrock"),
        ({"custom_llm_provider": "some_new_route"}, "some_new_route"),
        (None, None),
    ],
)
def test_the_backend_names_the_provider(hidden: dict[str, Any] | None, provider: str | None) -> None:
    obj = response(hidden)
    assert providers.for_response(obj) is EXTRACTOR
    info = EXTRACTOR.response(obj)
    assert info.server_hint == provider
    assert (info.input_tokens, info.cache_read_tokens, info.output_tokens) == (30, 10, 4)


def test_llama_cpp_timings_win_over_the_route() -> None:
    obj = response({"custom_llm_provider": "openai", "api_base": "http://10.0.0.7:8000/v1"}, timings={"cache_n": 0})
    assert EXTRACTOR.response(obj).server_hint == "llama.cpp"


def test_the_module_and_its_functions_stand_for_a_client() -> None:
    def completion(**kwargs: Any) -> None:
        return None

    # A function's module is its globals' ``__name__``: one defined in ``litellm.main``.
    litellm_completion = types.FunctionType(completion.__code__, {"__name__": "litellm.main"}, "completion")
    assert EXTRACTOR.owns_client(types.ModuleType("litellm"))
    assert EXTRACTOR.owns_client(litellm_completion)
    assert not EXTRACTOR.owns_client(completion)
    assert not EXTRACTOR.owns_client(_litellm_class("Thing", "litellm"))
    assert not EXTRACTOR.owns_client(types.ModuleType("litellm_helpers"))


class _Chunks:
    """A stream that iterates both ways, as LiteLLM's CustomStreamWrapper does."""

    def __init__(self) -> None:
        self._hidden_params = {"custom_llm_provider": "anthropic"}
        self._items = [
            {"object": "chat.completion.chunk", "id": "c1", "model": "m", "choices": [{"delta": {"content": "Hel"}}]},
            {
                "object": "chat.completion.chunk",
                "id": "c1",
                "model": "m",
                "choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 2},
            },
        ]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __aiter__(self) -> AsyncIterator[Any]:
        async def gen() -> AsyncIterator[Any]:
            for item in self._items:
                yield item

        return gen()


Wrapper = type("CustomStreamWrapper", (_Chunks,), {"__module__": "litellm.litellm_core_utils.streaming_handler"})


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    with capture() as captured:
        yield captured


def _reply(telemetry: Captured, index: int = 0) -> dict[str, Any]:
    return dict(telemetry.logs("llm_response")[index].attributes or {})


def test_a_both_ways_stream_iterates_synchronously(telemetry: Captured) -> None:
    @llm_call
    def ask() -> Any:
        return Wrapper()

    stream = ask()
    assert isinstance(stream, Wrapper)
    assert [c["choices"][0]["delta"]["content"] for c in stream] == ["Hel", "lo"]
    reply = _reply(telemetry)
    assert (reply["completed"], reply["chunk_count"], reply["output_tokens"]) == (True, 2, 2)
    assert dict(telemetry.spans()[0].attributes or {})["gen_ai.provider.name"] == "anthropic"


async def test_a_both_ways_stream_iterates_asynchronously(telemetry: Captured) -> None:
    @llm_call
    async def ask() -> Any:
        return Wrapper()

    texts = [c["choices"][0]["delta"]["content"] async for c in await ask()]
    assert texts == ["Hel", "lo"]
    reply = _reply(telemetry)
    assert (reply["completed"], reply["chunk_count"], reply["input_tokens"]) == (True, 2, 7)
