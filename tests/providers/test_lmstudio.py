"""The LM Studio extractor: the ``lmstudio`` SDK's prediction objects and the native REST JSON.

No LM Studio app can run here, and the SDK only talks to it over a websocket (after an HTTP
probe), so the SDK is driven one layer down: its real ``PredictionStream`` /
``AsyncPredictionStream`` and real ``ChatResponseEndpoint`` consume recorded ``predict`` channel
messages (``_recorded.LM_STUDIO_SDK_MESSAGES``, in the shape the SDK 1.5.0 source parses) from a
stand-in channel, in place of the websocket. The REST shapes are recorded fixtures written from
LM Studio's documentation of ``/api/v1/chat`` (and its SSE events) and ``/api/v0/chat/completions``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import lmstudio
import pytest
from lmstudio.async_api import AsyncPredictionStream
from lmstudio.json_api import ChatResponseEndpoint, LMStudioServerError
from lmstudio.sync_api import PredictionStream
from tests.providers import _recorded as rec

from multi_llm_otel.providers import for_client, for_error, for_response, for_stream, provider_from_base_url
from multi_llm_otel.providers._base import ResponseInfo
from multi_llm_otel.providers.lmstudio import EXTRACTOR

SDK_INFO = ResponseInfo(
    response_model="qwen2.5-7b-instruct",
    input_tokens=24,
    output_tokens=3,
    finish_reasons=["eosFound"],
    output_text="Hello!",
)
V1_INFO = ResponseInfo(
    response_model="openai/gpt-oss-20b",
    response_id="resp_02b2017dbc06c12bfc353a2ed6c2b802f8cc682884bb5716",
    input_tokens=359,
    output_tokens=218,
    reasoning_tokens=24,
    output_text="Here is the page for the current top-trending model.",
)


class _Channel:
    """Stands in for the SDK's websocket channel: hands the endpoint recorded messages."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._messages = messages

    def rx_stream(self) -> Iterator[dict[str, Any]]:
        yield from self._messages

    def cancel(self) -> None:
        """Nothing to cancel: the messages are already recorded."""


class _AsyncChannel(_Channel):
    async def rx_stream(self) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        for message in self._messages:
            yield message


def _endpoint() -> ChatResponseEndpoint:
    return ChatResponseEndpoint("qwen2.5-7b-instruct", lmstudio.Chat("You are terse."))


def _stream(messages: list[dict[str, Any]]) -> PredictionStream:
    return PredictionStream(contextlib.nullcontext(_Channel(messages)), _endpoint())


def test_prediction_stream() -> None:
    stream = _stream(rec.LM_STUDIO_SDK_MESSAGES)
    assert for_stream(stream) is EXTRACTOR
    accumulator = EXTRACTOR.accumulator(stream)
    assert accumulator.result() == ResponseInfo()
    for fragment in stream:
        assert type(fragment).__name__ == "LlmPredictionFragment"
        accumulator.add(fragment)
    assert accumulator.result() == SDK_INFO


def test_prediction_stream_read_with_wait_for_result() -> None:
    stream = _stream(rec.LM_STUDIO_SDK_MESSAGES)
    accumulator = EXTRACTOR.accumulator(stream)
    stream.wait_for_result()
    info = accumulator.result()
    assert (info.input_tokens, info.output_tokens, info.response_model) == (24, 3, "qwen2.5-7b-instruct")


def test_prediction_stream_cut() -> None:
    stream = _stream(rec.LM_STUDIO_SDK_MESSAGES)
    accumulator = EXTRACTOR.accumulator(stream)
    with stream:
        accumulator.add(next(iter(stream)))
    info = accumulator.result()
    assert (info.output_text, info.input_tokens, info.finish_reasons) == ("Hel", None, [])


async def test_async_prediction_stream() -> None:
    channel = contextlib.nullcontext(_AsyncChannel(rec.LM_STUDIO_SDK_MESSAGES))
    stream = AsyncPredictionStream(channel, _endpoint())
    assert for_stream(stream) is EXTRACTOR
    accumulator = EXTRACTOR.accumulator(stream)
    async for fragment in stream:
        accumulator.add(fragment)
    assert accumulator.result() == SDK_INFO


def test_prediction_result() -> None:
    stream = _stream(rec.LM_STUDIO_SDK_MESSAGES)
    result = stream.wait_for_result()
    assert type(result) is lmstudio.PredictionResult
    assert for_response(result) is EXTRACTOR
    assert EXTRACTOR.response(result) == SDK_INFO


def test_prediction_error() -> None:
    error_message = {
        "type": "error",
        "error": {"title": "Model crashed", "cause": "out of memory", "displayData": {"code": "generic.modelCrashed"}},
    }
    stream = _stream([rec.LM_STUDIO_SDK_MESSAGES[1], error_message])
    accumulator = EXTRACTOR.accumulator(stream)
    with pytest.raises(lmstudio.LMStudioPredictionError) as caught:
        rec.drain(stream, accumulator)
    assert accumulator.result().output_text == "Hel"
    assert for_error(caught.value) is EXTRACTOR
    error = EXTRACTOR.error(caught.value)
    assert (error.error_type, error.status_code, error.error_code, error.message) == (
        "LMStudioPredictionError",
        None,
        "generic.modelCrashed",
        "Model crashed",
    )


def test_model_not_found_error() -> None:
    exc = LMStudioServerError.from_details(
        "Model get/load error", {"title": "No model found", "displayData": {"code": "generic.noModelMatchingQuery"}}
    )
    assert type(exc).__name__ == "LMStudioModelNotFoundError"
    error = EXTRACTOR.error(exc)
    assert (error.error_code, error.message) == ("generic.noModelMatchingQuery", "No model found")
    assert EXTRACTOR.error(lmstudio.LMStudioClientError("LM Studio is not reachable")).error_code is None


# --- REST JSON --------------------------------------------------------------------------------


def test_v1_chat_result() -> None:
    assert for_response(rec.LM_STUDIO_V1_CHAT) is EXTRACTOR
    assert EXTRACTOR.response(rec.LM_STUDIO_V1_CHAT) == V1_INFO


def test_v1_stream_events() -> None:
    events = rec.LM_STUDIO_V1_EVENTS
    assert for_response(events) is EXTRACTOR
    assert EXTRACTOR.response(events) == V1_INFO
    assert for_response(events[-1]) is EXTRACTOR
    assert EXTRACTOR.response(events[-1]) == V1_INFO


def test_v1_stream_cut_and_error_event() -> None:
    error = {"type": "error", "error": {"type": "model_not_found", "message": "No model", "code": "model_not_found"}}
    info = EXTRACTOR.response([*rec.LM_STUDIO_V1_EVENTS[:9], error])
    assert (info.response_model, info.output_text, info.input_tokens) == (
        "openai/gpt-oss-20b",
        "Here is the page",
        None,
    )
    assert info.error is not None
    assert (info.error.error_type, info.error.error_code) == ("model_not_found", "model_not_found")


def test_v0_chat_completion() -> None:
    assert for_response(rec.LM_STUDIO_V0_CHAT) is EXTRACTOR
    info = EXTRACTOR.response(rec.LM_STUDIO_V0_CHAT)
    assert (info.response_model, info.input_tokens, info.output_tokens, info.finish_reasons) == (
        "granite-3.0-2b-instruct",
        24,
        53,
        ["stop"],
    )
    assert (info.caching_reported, info.output_text) == (False, "Greetings, I'm a helpful AI, here to assist.")


# --- Requests, clients ------------------------------------------------------------------------


def test_request_of_the_sdk() -> None:
    history = lmstudio.Chat("You are terse.")
    info = EXTRACTOR.request(
        {
            "history": history,
            "config": {"maxTokens": 64, "temperature": 0.3, "topPSampling": 0.9},
            "response_format": {"type": "object"},
        }
    )
    assert (info.max_tokens, info.temperature, info.top_p, info.response_format, info.messages) == (
        64,
        0.3,
        0.9,
        "json_schema",
        history,
    )
    struct = lmstudio.LlmPredictionConfig(max_tokens=32, temperature=0.7)
    assert (
        EXTRACTOR.request({"config": struct}).max_tokens,
        EXTRACTOR.request({"config": {"maxTokens": False}}).max_tokens,
    ) == (32, None)


def test_request_of_the_rest_api() -> None:
    info = EXTRACTOR.request(
        {
            "model": "openai/gpt-oss-20b",
            "input": "hi",
            "system_prompt": "Be brief",
            "max_output_tokens": 100,
            "stream": True,
        }
    )
    assert (info.model, info.messages, info.system_instructions, info.max_tokens, info.stream) == (
        "openai/gpt-oss-20b",
        "hi",
        "Be brief",
        100,
        True,
    )
    assert (
        EXTRACTOR.request({"response_format": {"type": "json_schema", "json_schema": {}}}).response_format
        == "json_schema"
    )


def test_client_and_model_handle() -> None:
    client = lmstudio.Client("localhost:1234")
    try:
        assert for_client(client) is EXTRACTOR
        assert EXTRACTOR.base_url(client) == "ws://localhost:1234"
        assert provider_from_base_url(EXTRACTOR.base_url(client), EXTRACTOR.name) == ("lmstudio", "localhost", 1234)
        # A model handle (``client.llm.model(...)`` needs the app; the handle itself does not).
        model = lmstudio.LLM("qwen2.5-7b-instruct", client.llm)
        for obj in (model, model.respond_stream):
            assert for_client(obj) is EXTRACTOR
            assert EXTRACTOR.base_url(obj) == "ws://localhost:1234"
    finally:
        client.close()
