"""@llm_call end to end on the native SDKs (Ollama, LM Studio), on OpenAI SDKs pointed at local servers,
and on the raw JSON users hold when they call the HTTP APIs themselves.

No Ollama or LM Studio can run here. The real ``ollama.Client`` / ``AsyncClient`` run on an
``httpx.MockTransport`` and the real ``openai.OpenAI`` on an ``httpx2.MockTransport``, serving the recorded
fixtures of ``tests/providers/_recorded.py`` (written from the documented formats); the real ``lmstudio``
prediction stream classes consume recorded channel messages in place of the app's websocket.
"""

from __future__ import annotations

import contextlib
import json
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import httpx2
import lmstudio
import ollama
import openai
import pytest
from lmstudio.async_api import AsyncPredictionStream
from lmstudio.json_api import ChatResponseEndpoint
from lmstudio.sync_api import PredictionStream
from openai.types.chat import ChatCompletion
from opentelemetry.trace import SpanKind, StatusCode
from tests.providers import _recorded as rec

import multi_llm_otel
from multi_llm_otel import llm_call
from multi_llm_otel.testing import Captured, capture

JSON = dict[str, Any]
OLLAMA_HOST = "http://127.0.0.1:11434"
OLLAMA_ERROR_LINE = "an error was encountered while running the model: unexpected EOF"


@pytest.fixture(autouse=True)
def _no_quiet_instrumentation_failure() -> Iterator[None]:
    yield
    quiet = {"instrumentation_failed", "request_unreadable", "stream_chunk_unreadable", "stream_result_unreadable"}
    failures = {kind: count for kind, count in multi_llm_otel.stats().items() if kind in quiet and count}
    assert not failures, f"the instrumentation failed quietly: {failures}"


# --- reading what was emitted -------------------------------------------------------------------


def meta(telemetry: Captured, event_name: str) -> JSON:
    """The metadata of the one ``event_name`` event (the log record's body), timings checked and removed."""
    (record,) = telemetry.logs(event_name)
    assert isinstance(record.body, dict)
    found = dict(record.body)
    if event_name == "llm_response":
        duration = found.pop("duration_ms")
        assert isinstance(duration, float)
        assert duration >= 0
        first = found.pop("time_to_first_chunk_ms", None)
        if found.get("chunk_count"):
            assert isinstance(first, float)
            assert 0 <= first <= duration
        else:
            assert first is None
    return found


def only_span(telemetry: Captured) -> tuple[str, JSON, StatusCode]:
    (span,) = telemetry.spans()
    assert span.kind is SpanKind.CLIENT
    return span.name, dict(span.attributes or {}), span.status.status_code


def tokens(telemetry: Captured) -> dict[str, int]:
    """``gen_ai.client.token.usage`` by token type."""
    return {
        str(point.attributes["gen_ai.token.type"]): point.sum
        for point in telemetry.metrics().get("gen_ai.client.token.usage", [])
    }


# --- Ollama native, the real ollama client ------------------------------------------------------


class OllamaServer:
    """Answers ``/api/chat`` as Ollama does (one JSON object, or NDJSON when the body asks to stream),
    or an HTTP error with Ollama's ``{"error": "<text>"}`` body; remembers what it was sent."""

    def __init__(self, lines: list[JSON] | None = None, status: int = 200) -> None:
        self.lines = lines if lines is not None else rec.ollama_lines()
        self.status = status
        self.requests: list[JSON] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/chat"
        body = json.loads(request.content)
        self.requests.append(body)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "model 'llama9' not found"})
        if body.get("stream"):
            return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=rec.ndjson(self.lines))
        return httpx.Response(200, json=rec.OLLAMA_CHAT)

    def client(self, host: str = OLLAMA_HOST) -> ollama.Client:
        return ollama.Client(host=host, transport=httpx.MockTransport(self))

    def async_client(self) -> ollama.AsyncClient:
        return ollama.AsyncClient(host=OLLAMA_HOST, transport=httpx.MockTransport(self))


@llm_call
def ask_ollama(client: ollama.Client, **kwargs: Any) -> Any:
    return client.chat(**kwargs)


@llm_call
async def ask_ollama_async(client: ollama.AsyncClient, **kwargs: Any) -> Any:
    return await client.chat(**kwargs)


HI = [{"role": "user", "content": "hi"}]


def unrequested(reply: dict[str, Any]) -> dict[str, Any]:
    """What the events say when the request named no model: the response's model is
    ``response_model`` only, never the requested ``model``."""
    return {k: v for k, v in reply.items() if k != "model"}


OLLAMA_REPLY = {
    "provider": "ollama",
    "model": "llama3.2",
    "response_model": "llama3.2",
    "input_tokens": 26,
    "output_tokens": 298,
    "finish_reasons": ["stop"],
}
OLLAMA_STREAMED = {**OLLAMA_REPLY, "stream": True, "chunk_count": 3, "completed": True}


def test_ollama_chat(telemetry: Captured) -> None:
    server = OllamaServer()
    returned: list[object] = []

    @llm_call
    def ask(client: ollama.Client, **kwargs: Any) -> Any:
        returned.append(client.chat(**kwargs))
        return returned[-1]

    response = ask(server.client(), model="llama3.2", messages=HI, options={"num_predict": 64, "temperature": 0.2})

    assert type(response) is ollama.ChatResponse
    assert response is returned[0]
    assert response.message.content == "Hello! How are you today?"
    assert server.requests[0]["options"] == {"num_predict": 64, "temperature": 0.2}
    assert telemetry.event_names() == ["llm_request", "llm_response"], "Ollama reports no caching: no cache event"
    assert meta(telemetry, "llm_request") == {
        "provider": "ollama",
        "model": "llama3.2",
        "operation": "chat",
        "stream": False,
        "max_tokens": 64,
        "temperature": 0.2,
    }
    assert meta(telemetry, "llm_response") == OLLAMA_REPLY
    name, attrs, status = only_span(telemetry)
    assert (name, status) == ("chat llama3.2", StatusCode.UNSET)
    assert attrs["gen_ai.provider.name"] == "ollama"
    assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", 11434)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (26, 298)
    assert not any(key.startswith("gen_ai.usage.cache") for key in attrs)
    assert tokens(telemetry) == {"input": 26, "output": 298}


def test_ollama_server_is_the_clients_host_and_the_sdk_method_can_be_decorated(telemetry: Captured) -> None:
    client = OllamaServer().client(host="http://gpu-box.lan:11434")
    response = llm_call(client.chat)(model="llama3.2", messages=HI)
    assert type(response) is ollama.ChatResponse
    _, attrs, _ = only_span(telemetry)
    assert (attrs["gen_ai.provider.name"], attrs["server.address"], attrs["server.port"]) == (
        "ollama",
        "gpu-box.lan",
        11434,
    )
    assert meta(telemetry, "llm_response") == OLLAMA_REPLY


def test_ollama_stream(telemetry: Captured) -> None:
    server = OllamaServer()
    plain = list(server.client().chat(model="llama3.2", messages=HI, stream=True))

    stream = ask_ollama(server.client(), model="llama3.2", messages=HI, stream=True)
    assert telemetry.event_names() == ["llm_request"], "the call lasts until the stream ends"
    chunks = list(stream)

    assert [type(chunk) for chunk in chunks] == [ollama.ChatResponse] * 3
    assert chunks == plain
    assert "".join(chunk.message.content or "" for chunk in chunks) == "Hello! How are you today?"
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert meta(telemetry, "llm_request")["stream"] is True
    assert meta(telemetry, "llm_response") == OLLAMA_STREAMED
    _, attrs, _ = only_span(telemetry)
    assert (attrs["multi_llm.stream.chunks"], attrs["multi_llm.stream.completed"]) == (3, True)
    assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", 11434)
    assert tokens(telemetry) == {"input": 26, "output": 298}


async def test_ollama_async_chat_and_stream(telemetry: Captured) -> None:
    server = OllamaServer()
    client = server.async_client()
    response = await ask_ollama_async(client, model="llama3.2", messages=HI)
    assert type(response) is ollama.ChatResponse
    assert meta(telemetry, "llm_response") == OLLAMA_REPLY
    telemetry.clear()

    stream = await ask_ollama_async(client, model="llama3.2", messages=HI, stream=True)
    chunks = [chunk async for chunk in stream]

    assert [chunk.message.content for chunk in chunks] == ["Hello", "! How are you today?", ""]
    assert chunks[-1].done is True
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert meta(telemetry, "llm_response") == OLLAMA_STREAMED
    _, attrs, _ = only_span(telemetry)
    assert (attrs["gen_ai.provider.name"], attrs["server.port"]) == ("ollama", 11434)


def test_ollama_stream_left_early(telemetry: Captured) -> None:
    for chunk in ask_ollama(OllamaServer().client(), model="llama3.2", messages=HI, stream=True):
        assert chunk.message.content == "Hello"
        break

    assert telemetry.event_names() == ["llm_request", "llm_response"]
    # What was seen: one chunk, no counts (they come with the ``done`` chunk), no finish reason.
    assert meta(telemetry, "llm_response") == {
        "provider": "ollama",
        "model": "llama3.2",
        "response_model": "llama3.2",
        "stream": True,
        "chunk_count": 1,
        "completed": False,
    }
    _, attrs, status = only_span(telemetry)
    assert attrs["multi_llm.stream.completed"] is False
    assert status is StatusCode.UNSET
    assert tokens(telemetry) == {}


async def test_ollama_async_stream_closed_early(telemetry: Captured) -> None:
    stream = await ask_ollama_async(OllamaServer().async_client(), model="llama3.2", messages=HI, stream=True)
    async for _ in stream:
        break
    await stream.aclose()
    response = meta(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"]) == (1, False)
    assert "output_tokens" not in response


def test_ollama_error_line_in_a_200_stream(telemetry: Captured) -> None:
    server = OllamaServer(rec.ollama_lines(error=True))
    received: list[Any] = []
    stream = ask_ollama(server.client(), model="llama3.2", messages=HI, stream=True)
    with pytest.raises(ollama.ResponseError) as caught:
        received.extend(chunk.message.content for chunk in stream)

    # The consumer sees what it sees without the decorator: the chunk before, then the SDK's own error.
    assert received == ["Hello"]
    assert (caught.value.error, caught.value.status_code) == (OLLAMA_ERROR_LINE, -1)
    raised_at = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert raised_at.filename.endswith("ollama/_client.py")
    assert raised_at.name == "inner"
    assert telemetry.event_names() == ["llm_request", "llm_error", "llm_response"]
    # ``status_code`` -1 means "no HTTP status" in the SDK: it is left out, not reported as -1.
    assert meta(telemetry, "llm_error") == {
        "provider": "ollama",
        "model": "llama3.2",
        "error_type": "ResponseError",
        "message": OLLAMA_ERROR_LINE,
    }
    response = meta(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"]) == (1, False)
    _, attrs, status = only_span(telemetry)
    assert (attrs["error.type"], status) == ("ResponseError", StatusCode.ERROR)


def test_ollama_http_error(telemetry: Captured) -> None:
    raised: list[BaseException] = []

    @llm_call
    def ask(client: ollama.Client, **kwargs: Any) -> Any:
        try:
            return client.chat(**kwargs)
        except ollama.ResponseError as exc:
            raised.append(exc)
            raise

    with pytest.raises(ollama.ResponseError) as caught:
        ask(OllamaServer(status=404).client(), model="llama9", messages=HI)

    assert caught.value is raised[0]
    assert caught.value.status_code == 404
    assert telemetry.event_names() == ["llm_request", "llm_error"], "no response came back"
    assert meta(telemetry, "llm_error") == {
        "provider": "ollama",
        "model": "llama9",
        "error_type": "ResponseError",
        "status_code": 404,
        "message": "model 'llama9' not found",
    }
    (record,) = telemetry.logs("llm_error")
    assert dict(record.attributes or {})["http.response.status_code"] == 404
    _, attrs, status = only_span(telemetry)
    assert (attrs["error.type"], status, attrs["server.port"]) == ("ResponseError", StatusCode.ERROR, 11434)


def test_ollama_http_error_on_a_stream(telemetry: Captured) -> None:
    # The SDK sends a streamed request when the stream is first read: that is where the 404 surfaces.
    stream = ask_ollama(OllamaServer(status=404).client(), model="llama9", messages=HI, stream=True)
    assert telemetry.event_names() == ["llm_request"]
    with pytest.raises(ollama.ResponseError) as caught:
        next(iter(stream))
    assert caught.value.status_code == 404
    assert telemetry.event_names() == ["llm_request", "llm_error", "llm_response"]
    assert meta(telemetry, "llm_error")["status_code"] == 404
    response = meta(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"]) == (0, False)


# --- the OpenAI SDK pointed at Ollama's and LM Studio's OpenAI-compatible routes --------------------


def openai_client(handler: Callable[[httpx2.Request], httpx2.Response], base_url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url,
        api_key="not-needed-locally",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


@llm_call
def ask_openai(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(**kwargs)


def local_completion(model: str) -> JSON:
    """A Chat Completion as Ollama's and LM Studio's shims answer: usage without cache details."""
    return {
        "id": "chatcmpl-421",
        "object": "chat.completion",
        "created": 1763000000,
        "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 26, "completion_tokens": 3, "total_tokens": 29},
    }


@pytest.mark.parametrize(
    ("base_url", "provider", "address", "port"),
    [
        ("http://127.0.0.1:11434/v1", "ollama", "127.0.0.1", 11434),
        ("http://localhost:1234/v1", "lmstudio", "localhost", 1234),
        ("http://10.0.0.7:9000/v1", "openai_compatible", "10.0.0.7", 9000),
        ("https://api.openai.com/v1", "openai", "api.openai.com", 443),
    ],
)
def test_openai_sdk_is_named_by_its_base_url(
    telemetry: Captured, base_url: str, provider: str, address: str, port: int
) -> None:
    paths: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        paths.append(str(request.url))
        return httpx2.Response(200, json=local_completion("llama3.2"))

    response = ask_openai(openai_client(handler, base_url), model="llama3.2", messages=HI)

    assert type(response) is ChatCompletion
    assert paths == [base_url.rstrip("/") + "/chat/completions"]
    assert telemetry.event_names() == ["llm_request", "llm_response"], "no cache details: no cache event"
    # A URL that names no server leaves the request unnamed; the answer may still name it (llama.cpp).
    assert meta(telemetry, "llm_request").get("provider") == (None if provider == "openai_compatible" else provider)
    assert meta(telemetry, "llm_response") == {
        "provider": provider,
        "model": "llama3.2",
        "response_model": "llama3.2",
        "response_id": "chatcmpl-421",
        "input_tokens": 26,
        "output_tokens": 3,
        "finish_reasons": ["stop"],
    }
    _, attrs, _ = only_span(telemetry)
    assert (attrs["gen_ai.provider.name"], attrs["server.address"], attrs["server.port"]) == (provider, address, port)


def test_openai_sdk_method_decorated_itself_at_ollama(telemetry: Captured) -> None:
    client = openai_client(lambda request: httpx2.Response(200, json=local_completion("llama3.2")), OLLAMA_HOST + "/v1")
    create = llm_call(client.chat.completions.create)
    assert type(create(model="llama3.2", messages=HI)) is ChatCompletion
    assert meta(telemetry, "llm_response")["provider"] == "ollama"


def lm_studio_chunks() -> list[JSON]:
    chunks = rec.openai_chunks(include_usage=True)
    for chunk in chunks:
        chunk["model"] = "qwen2.5-7b-instruct"
    usage = chunks[-1]["usage"]
    del usage["prompt_tokens_details"], usage["completion_tokens_details"]
    return chunks


def test_openai_sdk_stream_at_lm_studio(telemetry: Captured) -> None:
    body = rec.sse(lm_studio_chunks(), named=False, done=True)
    client = openai_client(
        lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body),
        "http://localhost:1234/v1",
    )
    stream = ask_openai(
        client, model="qwen2.5-7b-instruct", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)

    assert [chunk.choices[0].delta.content for chunk in chunks[1:3]] == ["Hello", " world"]
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert meta(telemetry, "llm_response") == {
        "provider": "lmstudio",
        "model": "qwen2.5-7b-instruct",
        "response_model": "qwen2.5-7b-instruct",
        "response_id": "chatcmpl-stream1",
        "input_tokens": 19,
        "output_tokens": 3,
        "finish_reasons": ["stop"],
        "stream": True,
        "chunk_count": 5,
        "completed": True,
    }


def test_a_chunk_the_accumulator_cannot_read_leaves_the_stream_whole(
    telemetry: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multi_llm_otel.providers.openai import OpenAIStreamAccumulator

    read = OpenAIStreamAccumulator.add
    seen: list[object] = []

    def fails_on_the_second(self: OpenAIStreamAccumulator, chunk: object) -> None:
        seen.append(chunk)
        if len(seen) == 2:
            raise ValueError("a chunk from a newer SDK")
        read(self, chunk)

    monkeypatch.setattr(OpenAIStreamAccumulator, "add", fails_on_the_second)
    body = rec.sse(lm_studio_chunks(), named=False, done=True)
    client = openai_client(
        lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body),
        "http://localhost:1234/v1",
    )
    chunks = list(ask_openai(client, model="qwen2.5-7b-instruct", messages=HI, stream=True))

    assert len(chunks) == 5, "the consumer gets every chunk"
    assert len(seen) == 2, "the accumulator is not asked again"
    response = meta(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"]) == (5, True)
    assert "finish_reasons" not in response, "what came after the failure was not read"
    assert multi_llm_otel.stats() == {"stream_chunk_unreadable": 1}
    multi_llm_otel.reset_stats()  # expected here, unlike in the other tests


def test_lm_studio_error_in_a_200_body_through_the_openai_sdk(telemetry: Captured) -> None:
    # LM Studio answers some failures (an unknown path) with HTTP 200 and a string error.
    client = openai_client(
        lambda request: httpx2.Response(200, json=rec.LM_STUDIO_ERROR_BODY), "http://localhost:1234/v1"
    )
    returned: list[object] = []

    @llm_call
    def ask(client: openai.OpenAI, **kwargs: Any) -> Any:
        returned.append(client.chat.completions.create(**kwargs))
        return returned[-1]

    assert ask(client, model="qwen2.5-7b-instruct", messages=HI) is returned[0]
    assert telemetry.event_names() == ["llm_request", "llm_error"]
    assert meta(telemetry, "llm_error") == {
        "provider": "lmstudio",
        "model": "qwen2.5-7b-instruct",
        "error_type": "error",
        "message": rec.LM_STUDIO_ERROR_BODY["error"],
    }
    _, _, status = only_span(telemetry)
    assert status is StatusCode.ERROR


# --- the lmstudio SDK ---------------------------------------------------------------------------


class _Channel:
    """Stands in for the SDK's websocket channel: hands the prediction endpoint recorded messages."""

    def __init__(self, messages: list[JSON]) -> None:
        self._messages = messages

    def rx_stream(self) -> Iterator[JSON]:
        yield from self._messages

    def cancel(self) -> None:
        """Nothing to cancel: the messages are recorded."""


class _AsyncChannel(_Channel):
    async def rx_stream(self) -> AsyncIterator[JSON]:  # type: ignore[override]
        for message in self._messages:
            yield message


def _endpoint() -> ChatResponseEndpoint:
    return ChatResponseEndpoint("qwen2.5-7b-instruct", lmstudio.Chat("You are terse."))


def prediction_stream(messages: list[JSON] = rec.LM_STUDIO_SDK_MESSAGES) -> PredictionStream:
    """What ``model.respond_stream(history)`` returns, its channel fed recorded messages."""
    return PredictionStream(contextlib.nullcontext(_Channel(messages)), _endpoint())


@pytest.fixture
def lms_model() -> Iterator[lmstudio.LLM]:
    """A model handle of a client for ``localhost:1234`` (making one needs no running app)."""
    client = lmstudio.Client("localhost:1234")
    try:
        yield lmstudio.LLM("qwen2.5-7b-instruct", client.llm)
    finally:
        client.close()


LMS_REPLY = {
    "provider": "lmstudio",
    "model": "qwen2.5-7b-instruct",
    "response_model": "qwen2.5-7b-instruct",
    "input_tokens": 24,
    "output_tokens": 3,
    "finish_reasons": ["eosFound"],
}


def test_lm_studio_prediction_stream(telemetry: Captured, lms_model: lmstudio.LLM) -> None:
    @llm_call
    def respond(model: lmstudio.LLM, history: lmstudio.Chat) -> PredictionStream:
        return prediction_stream()

    stream = respond(lms_model, lmstudio.Chat("You are terse."))
    assert isinstance(stream, PredictionStream)
    fragments = [fragment.content for fragment in stream]

    assert fragments == ["Hel", "lo!"]
    assert stream.stats is not None
    assert stream.stats.predicted_tokens_count == 3, "the SDK's own attributes still answer"
    assert telemetry.event_names() == ["llm_request", "llm_response"], "LM Studio reports no caching"
    assert meta(telemetry, "llm_request") == {"provider": "lmstudio", "operation": "chat", "stream": False}
    assert meta(telemetry, "llm_response") == {
        **unrequested(LMS_REPLY),
        "stream": True,
        "chunk_count": 2,
        "completed": True,
    }
    name, attrs, _ = only_span(telemetry)
    assert name == "chat", "the model is only known from the response"
    assert (attrs["gen_ai.provider.name"], attrs["server.address"], attrs["server.port"]) == (
        "lmstudio",
        "localhost",
        1234,
    )
    assert attrs["gen_ai.response.model"] == "qwen2.5-7b-instruct"
    assert tokens(telemetry) == {"input": 24, "output": 3}


def test_lm_studio_prediction_stream_left_early(telemetry: Captured) -> None:
    # No client among the arguments: the stream's own type names the provider.
    @llm_call
    def respond() -> PredictionStream:
        return prediction_stream()

    with respond() as stream:
        for fragment in stream:
            assert fragment.content == "Hel"
            break

    assert meta(telemetry, "llm_response") == {
        "provider": "lmstudio",
        "stream": True,
        "chunk_count": 1,
        "completed": False,
    }
    _, attrs, _ = only_span(telemetry)
    assert "server.address" not in attrs


async def test_lm_studio_async_prediction_stream(telemetry: Captured, lms_model: lmstudio.LLM) -> None:
    @llm_call
    async def respond(model: lmstudio.LLM) -> AsyncPredictionStream:
        return AsyncPredictionStream(contextlib.nullcontext(_AsyncChannel(rec.LM_STUDIO_SDK_MESSAGES)), _endpoint())

    stream = await respond(lms_model)
    assert isinstance(stream, AsyncPredictionStream)
    assert [fragment.content async for fragment in stream] == ["Hel", "lo!"]
    assert meta(telemetry, "llm_response") == {
        **unrequested(LMS_REPLY),
        "stream": True,
        "chunk_count": 2,
        "completed": True,
    }


def test_lm_studio_prediction_result(telemetry: Captured, lms_model: lmstudio.LLM) -> None:
    returned: list[object] = []

    @llm_call
    def respond(model: lmstudio.LLM) -> lmstudio.PredictionResult:
        returned.append(prediction_stream().wait_for_result())
        return returned[-1]

    result = respond(lms_model)
    assert type(result) is lmstudio.PredictionResult
    assert result is returned[0]
    assert result.content == "Hello!"
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert meta(telemetry, "llm_response") == unrequested(LMS_REPLY)
    _, attrs, _ = only_span(telemetry)
    assert (attrs["server.address"], attrs["server.port"]) == ("localhost", 1234)


def test_lm_studio_prediction_error(telemetry: Captured, lms_model: lmstudio.LLM) -> None:
    crash = {
        "type": "error",
        "error": {"title": "Model crashed", "cause": "out of memory", "displayData": {"code": "generic.modelCrashed"}},
    }

    @llm_call
    def respond(model: lmstudio.LLM) -> PredictionStream:
        return prediction_stream([rec.LM_STUDIO_SDK_MESSAGES[1], crash])

    received: list[str] = []
    with pytest.raises(lmstudio.LMStudioPredictionError):
        received.extend(fragment.content for fragment in respond(lms_model))

    assert received == ["Hel"]
    assert telemetry.event_names() == ["llm_request", "llm_error", "llm_response"]
    assert meta(telemetry, "llm_error") == {
        "provider": "lmstudio",
        "error_type": "LMStudioPredictionError",
        "error_code": "generic.modelCrashed",
        "message": "Model crashed",
    }
    response = meta(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"]) == (1, False)


# --- raw JSON through a decorated function ------------------------------------------------------


def returning(payload: object, **options: Any) -> Callable[[], Any]:
    @llm_call(**options)
    def call() -> Any:
        return payload

    return call


def yielding(items: list[Any], **options: Any) -> Callable[[], Iterator[Any]]:
    @llm_call(**options)
    def stream() -> Iterator[Any]:
        yield from items

    return stream


def assert_passed_through(received: list[Any], sent: list[Any]) -> None:
    assert len(received) == len(sent)
    assert all(got is item for got, item in zip(received, sent, strict=True)), "every item is the very object yielded"


ANTHROPIC_BASE = {
    "provider": "anthropic",
    "model": "claude-sonnet-4-5-20250929",
    "response_model": "claude-sonnet-4-5-20250929",
    "response_id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "output_tokens": 393,
    "finish_reasons": ["end_turn"],
}


@pytest.mark.parametrize(
    ("usage", "response", "cache_event"),
    [
        pytest.param(
            {
                "input_tokens": 21,
                "cache_read_input_tokens": 2048,
                "cache_creation_input_tokens": 0,
                "output_tokens": 393,
            },
            {"input_tokens": 2069, "cache_read_tokens": 2048, "cache_creation_tokens": 0},
            ("cache_hit", {"cache_read_tokens": 2048, "cache_creation_tokens": 0, "input_tokens": 2069}),
            id="cache-read",
        ),
        pytest.param(
            {"input_tokens": 21, "cache_creation_input_tokens": 188086, "output_tokens": 393},
            {"input_tokens": 188107, "cache_creation_tokens": 188086},
            ("cache_miss", {"cache_read_tokens": 0, "cache_creation_tokens": 188086, "input_tokens": 188107}),
            id="cache-creation-only",
        ),
        pytest.param(
            {
                "input_tokens": 21,
                "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 50},
                "output_tokens": 393,
            },
            {"input_tokens": 171, "cache_creation_tokens": 150},
            ("cache_miss", {"cache_read_tokens": 0, "cache_creation_tokens": 150, "input_tokens": 171}),
            id="ttl-split-only",
        ),
        pytest.param({"input_tokens": 21, "output_tokens": 393}, {"input_tokens": 21}, None, id="no-cache-fields"),
    ],
)
def test_anthropic_message_json(
    telemetry: Captured, usage: JSON, response: JSON, cache_event: tuple[str, JSON] | None
) -> None:
    body = rec.anthropic_message(usage)
    assert returning(body)() is body
    expected_names = ["llm_request", "llm_response"] + ([cache_event[0]] if cache_event else [])
    assert telemetry.event_names() == expected_names
    assert meta(telemetry, "llm_request") == {"operation": "chat", "stream": False}
    assert meta(telemetry, "llm_response") == {**unrequested(ANTHROPIC_BASE), **response}
    if cache_event is not None:
        name, values = cache_event
        assert meta(telemetry, name) == {
            "provider": "anthropic",
            "cache": "provider",
            **values,
        }


def test_anthropic_sse_events_from_a_generator(telemetry: Captured) -> None:
    events = rec.anthropic_events()
    received = list(yielding(events)())

    assert_passed_through(received, events)
    assert telemetry.event_names() == ["llm_request", "llm_response", "cache_hit"]
    assert meta(telemetry, "llm_request") == {"operation": "chat", "stream": True}
    assert meta(telemetry, "llm_response") == {
        "provider": "anthropic",
        "response_model": "claude-opus-4-6",
        "response_id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        "input_tokens": 25 + 2048,
        "output_tokens": 15,  # message_delta totals are running totals (7, then 15), not increments
        "cache_read_tokens": 2048,
        "cache_creation_tokens": 0,
        "finish_reasons": ["tool_use"],
        "stream": True,
        "chunk_count": len(events),
        "completed": True,
    }
    assert meta(telemetry, "cache_hit")["cache_read_tokens"] == 2048


def test_anthropic_sse_events_cut_after_message_start(telemetry: Captured) -> None:
    events = rec.anthropic_events()
    for _ in yielding(events)():
        break
    response = meta(telemetry, "llm_response")
    # The input counts are final in message_start; no stop reason came, so not completed.
    assert (response["input_tokens"], response["chunk_count"], response["completed"]) == (2073, 1, False)
    assert "finish_reasons" not in response


def test_ollama_ndjson_from_a_generator(telemetry: Captured) -> None:
    lines = rec.ollama_lines()
    received = list(yielding(lines)())

    assert_passed_through(received, lines)
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert meta(telemetry, "llm_response") == unrequested(OLLAMA_STREAMED)


async def test_ollama_ndjson_from_an_async_generator(telemetry: Captured) -> None:
    lines = rec.ollama_lines()

    @llm_call
    async def stream() -> AsyncIterator[JSON]:
        for line in lines:
            yield line

    received = [line async for line in stream()]
    assert_passed_through(received, lines)
    assert meta(telemetry, "llm_response") == unrequested(OLLAMA_STREAMED)


def test_ollama_ndjson_error_line_from_a_generator(telemetry: Captured) -> None:
    # The raw-HTTP path sees the same failure as the SDK path, where the SDK raises instead.
    lines = rec.ollama_lines(error=True)
    received = list(yielding(lines)())

    assert_passed_through(received, lines)
    assert telemetry.event_names() == ["llm_request", "llm_error", "llm_response"]
    assert meta(telemetry, "llm_error") == {
        "provider": "ollama",
        "error_type": "error",
        "message": OLLAMA_ERROR_LINE,
    }
    response = meta(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"]) == (2, False), "an errored stream did not complete"
    _, attrs, status = only_span(telemetry)
    assert (attrs["multi_llm.stream.completed"], status) == (False, StatusCode.ERROR)


def test_ollama_chat_json(telemetry: Captured) -> None:
    body = dict(rec.OLLAMA_CHAT)
    assert returning(body)() is body
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert meta(telemetry, "llm_response") == unrequested(OLLAMA_REPLY)


LMS_V1_REPLY = {
    "provider": "lmstudio",
    "model": "openai/gpt-oss-20b",
    "response_model": "openai/gpt-oss-20b",
    "response_id": "resp_02b2017dbc06c12bfc353a2ed6c2b802f8cc682884bb5716",
    "input_tokens": 359,
    "output_tokens": 218,
    "reasoning_tokens": 24,
}


def test_lm_studio_v1_chat_result_json(telemetry: Captured) -> None:
    body = rec.LM_STUDIO_V1_CHAT
    assert returning(body)() is body
    assert telemetry.event_names() == ["llm_request", "llm_response"], "LM Studio reports no caching"
    # /api/v1/chat gives no finish reason: none is made up.
    assert meta(telemetry, "llm_response") == unrequested(LMS_V1_REPLY)
    _, attrs, _ = only_span(telemetry)
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 24


def test_lm_studio_v1_sse_events_from_a_generator(telemetry: Captured) -> None:
    events = rec.LM_STUDIO_V1_EVENTS
    received = list(yielding(events)())
    assert_passed_through(received, events)
    assert meta(telemetry, "llm_response") == {
        **unrequested(LMS_V1_REPLY),
        "stream": True,
        "chunk_count": len(events),
        "completed": True,
    }


OPENAI_RESPONSE_REPLY = {
    "provider": "openai",
    "model": "gpt-4.1-2025-04-14",
    "response_model": "gpt-4.1-2025-04-14",
    "response_id": rec.RESPONSE_ID,
    "input_tokens": 36,
    "output_tokens": 87,
    "cache_read_tokens": 0,
    "cache_creation_tokens": 0,
    "reasoning_tokens": 0,
    "finish_reasons": ["completed"],
}


def test_openai_responses_json(telemetry: Captured) -> None:
    body = rec.openai_response()
    assert returning(body)() is body
    # cached_tokens is reported (as 0): a miss, not silence.
    assert telemetry.event_names() == ["llm_request", "llm_response", "cache_miss"]
    assert meta(telemetry, "llm_response") == unrequested(OPENAI_RESPONSE_REPLY)
    assert meta(telemetry, "cache_miss")["cache_read_tokens"] == 0


def test_openai_responses_events_from_a_generator(telemetry: Captured) -> None:
    events = rec.openai_response_events()
    received = list(yielding(events)())
    assert_passed_through(received, events)
    assert telemetry.event_names() == ["llm_request", "llm_response", "cache_miss"]
    assert meta(telemetry, "llm_response") == {
        **unrequested(OPENAI_RESPONSE_REPLY),
        "stream": True,
        "chunk_count": len(events),
        "completed": True,
    }


def test_provider_option_names_raw_json_from_a_compatible_server(telemetry: Captured) -> None:
    # A dict from Ollama's /v1 route is OpenAI-shaped, and a dict carries no URL: ``provider=`` names it.
    body = local_completion("llama3.2")
    assert returning(body, provider="ollama")() is body
    assert meta(telemetry, "llm_request")["provider"] == "ollama"
    assert meta(telemetry, "llm_response")["provider"] == "ollama"


def test_unknown_generator_of_strings(telemetry: Captured) -> None:
    words = ["Hello", ", ", "world"]
    received = list(yielding(words, provider="in-house", model="m1")())

    assert received == words
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert meta(telemetry, "llm_request") == {
        "provider": "in-house",
        "model": "m1",
        "operation": "chat",
        "stream": True,
    }
    assert meta(telemetry, "llm_response") == {
        "provider": "in-house",
        "model": "m1",
        "stream": True,
        "chunk_count": 3,
        "completed": True,
    }
    assert tokens(telemetry) == {}


def test_a_module_level_client_is_found_without_being_an_argument() -> None:
    """The usual shape: ``client = OpenAI(...)`` at module level, used inside the function."""
    global _module_client
    _module_client = openai.OpenAI(
        base_url="http://127.0.0.1:11434/v1",
        api_key="unused",
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=_ollama_v1_json()))
        ),
    )

    @llm_call
    def ask(prompt: str) -> Any:
        return _module_client.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": prompt}])

    closure_client = _module_client

    @llm_call
    def ask_closure(prompt: str) -> Any:
        return closure_client.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": prompt}])

    with capture() as telemetry:
        ask("hi")
        ask_closure("hi")
    assert [dict(s.attributes or {})["gen_ai.provider.name"] for s in telemetry.spans()] == ["ollama", "ollama"]
    assert [dict(r.attributes or {}).get("provider") for r in telemetry.logs("llm_request")] == ["ollama", "ollama"]


_module_client: Any = None


def _ollama_v1_json() -> dict[str, Any]:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "llama3.2",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
