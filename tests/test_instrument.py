"""``instrument()`` / ``uninstrument()`` and the ``opentelemetry_instrumentor`` entry point, on the
real SDK clients over mock transports (the live checks are in tests/llm/test_zero_code.py)."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import lmstudio
import ollama
import openai
import pytest
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.trace import SpanKind
from tests.test_decorator_native import prediction_stream

import multi_llm_otel
from multi_llm_otel import EventScope, bind_scope, instrument, llm_call, uninstrument
from multi_llm_otel._instrument import TARGETS
from multi_llm_otel.testing import Captured

JSON = dict[str, Any]
HI = [{"role": "user", "content": "hi"}]
MODEL = "gemma-3-270m"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    uninstrument()
    assert not multi_llm_otel.stats().get("instrumentation_failed"), multi_llm_otel.stats()


def completion() -> JSON:
    return {
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "created": 1763000000,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


def completion_stream() -> bytes:
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}},
    ]
    base = {"id": "chatcmpl-8", "object": "chat.completion.chunk", "created": 1763000000, "model": MODEL}
    return b"".join(f"data: {json.dumps({**base, **c})}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def openai_handler(request: httpx2.Request) -> httpx2.Response:
    if json.loads(request.content).get("stream"):
        return httpx2.Response(200, content=completion_stream(), headers={"content-type": "text/event-stream"})
    return httpx2.Response(200, json=completion())


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://10.0.0.7:9000/v1",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(openai_handler)),
    )


def async_openai_client() -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://10.0.0.7:9000/v1",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openai_handler)),
    )


def message() -> JSON:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "Hi!"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 9, "output_tokens": 3, "cache_read_input_tokens": 0},
    }


def message_stream() -> bytes:
    events = [
        ("message_start", {"type": "message_start", "message": {**message(), "content": [], "stop_reason": None}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi!"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def anthropic_handler(request: httpx2.Request) -> httpx2.Response:
    if request.url.path.endswith("/count_tokens"):
        return httpx2.Response(200, json={"input_tokens": 9})
    if json.loads(request.content).get("stream"):
        headers = {"content-type": "text/event-stream", "request-id": "req_stream"}
        return httpx2.Response(200, content=message_stream(), headers=headers)
    return httpx2.Response(200, json=message(), headers={"request-id": "req_plain"})


def anthropic_client(handler: Any = anthropic_handler, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url="http://10.0.0.7:9000",
        api_key="sk-ant-test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        **options,
    )


def body(telemetry: Captured, event_name: str) -> JSON:
    (record,) = telemetry.logs(event_name)
    assert isinstance(record.body, dict)
    return dict(record.body)


def client_spans(telemetry: Captured) -> list[Any]:
    return [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]


def tokens(telemetry: Captured) -> dict[str, int]:
    return {
        str(p.attributes["gen_ai.token.type"]): p.sum for p in telemetry.metrics().get("gen_ai.client.token.usage", [])
    }


# --- wrapping and unwrapping ---------------------------------------------------------------------


def _holder(target: Any) -> Any:
    module = importlib.import_module(target.module)
    return getattr(module, target.owner) if target.owner else module


def test_instrument_wraps_every_sdk_method_and_uninstrument_restores_the_originals_exactly() -> None:
    before = {t: vars(_holder(t)).get(t.name) for t in TARGETS}
    assert all(v is not None for v in before.values()), [t for t, v in before.items() if v is None]

    wrapped = instrument()

    assert len(wrapped) == len(TARGETS)
    assert {"openai", "anthropic", "ollama", "lmstudio"} == {name.split(".")[0] for name in wrapped}
    for target, original in before.items():
        assert vars(_holder(target))[target.name] is not original, target
    assert instrument() == [], "a second instrument() changes nothing"

    uninstrument()

    for target, original in before.items():
        assert vars(_holder(target))[target.name] is original, target


def test_a_method_an_sdk_version_lacks_is_reported_and_the_rest_instrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    from multi_llm_otel import _instrument

    missing = _instrument.Target("openai.resources.chat.completions", "Completions", "no_such_method")
    absent_sdk = _instrument.Target("no_such_sdk.resources", "Client", "chat")
    monkeypatch.setattr(_instrument, "TARGETS", (missing, absent_sdk, *TARGETS))

    assert len(instrument()) == len(TARGETS)
    assert multi_llm_otel.stats().get("instrumentation_failed") == 1
    multi_llm_otel.reset_stats()


def test_the_module_level_ollama_functions_stay_bound_to_the_default_client() -> None:
    default_client = ollama.chat.__self__
    instrument()
    assert ollama.chat.__self__ is default_client
    assert ollama.generate.__self__ is default_client


def test_import_stays_free_of_opentelemetry_and_instrument_is_lazy() -> None:
    import subprocess
    import sys

    code = "import sys, multi_llm_otel; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert multi_llm_otel.instrument is instrument
    # instrument() itself needs no opentelemetry-instrumentation: only the launcher's class does.
    code = (
        "import sys, multi_llm_otel; multi_llm_otel.instrument(); print('opentelemetry.instrumentation' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- what an instrumented method reports ---------------------------------------------------------


def test_openai_chat_completion(telemetry: Captured) -> None:
    instrument()
    response = openai_client().chat.completions.create(model=MODEL, messages=HI, max_tokens=5)

    assert type(response) is openai.types.chat.ChatCompletion
    (span,) = client_spans(telemetry)
    assert span.name == f"chat {MODEL}"
    attrs = dict(span.attributes or {})
    assert (attrs["server.address"], attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.request.max_tokens"]) == (
        "10.0.0.7",
        11,
        5,
    )
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert tokens(telemetry) == {"input": 11, "output": 3}


def test_openai_stream_is_watched_to_its_end(telemetry: Captured) -> None:
    instrument()
    stream = openai_client().chat.completions.create(
        model=MODEL, messages=HI, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.Stream)
    assert telemetry.spans() == [], "the call lasts as long as its stream"
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert text == "Hi!"
    response = body(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"], response["output_tokens"]) == (3, True, 2)
    assert len(client_spans(telemetry)) == 1


async def test_openai_async_create(telemetry: Captured) -> None:
    instrument()
    response = await async_openai_client().chat.completions.create(model=MODEL, messages=HI)

    assert response.id == "chatcmpl-7"
    assert body(telemetry, "llm_response")["input_tokens"] == 11


def test_anthropic_messages_create_and_stream(telemetry: Captured) -> None:
    instrument()
    client = anthropic_client(open_telemetry=False)
    client.messages.create(model=MODEL, max_tokens=8, messages=HI)
    with client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream:
        text = stream.get_final_text()

    assert text == "Hi!"
    responses = [r.body for r in telemetry.logs("llm_response")]
    assert [(r["input_tokens"], r["output_tokens"]) for r in responses] == [(9, 3), (9, 4)]  # type: ignore[index]
    assert len(client_spans(telemetry)) == 2


async def test_anthropic_async_create_and_stream(telemetry: Captured) -> None:
    instrument()
    client = anthropic.AsyncAnthropic(
        base_url="http://10.0.0.7:9000",
        api_key="sk-ant-test",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(anthropic_handler)),
        open_telemetry={"tracer_provider": telemetry.tracer_provider},
    )
    await client.messages.create(model=MODEL, max_tokens=8, messages=HI)
    async with client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream:
        text = await stream.get_final_text()

    assert text == "Hi!"
    assert [s.name for s in client_spans(telemetry)] == [f"chat {MODEL}"] * 2, "and none of the SDK's"
    assert tokens(telemetry) == {"input": 18, "output": 7}


def test_ollama_client_chat(telemetry: Captured) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "model": "llama3.2",
                "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": "Hi!"},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 12,
                "eval_count": 3,
            },
        )

    instrument()
    client = ollama.Client(host="http://127.0.0.1:11434", transport=httpx.MockTransport(handler))
    client.chat(model="llama3.2", messages=HI)

    (span,) = client_spans(telemetry)
    assert span.attributes is not None
    assert (span.attributes["gen_ai.provider.name"], span.attributes["gen_ai.usage.input_tokens"]) == ("ollama", 12)


def test_lm_studio_respond_and_respond_stream(telemetry: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's prediction channel fed recorded messages (no LM Studio app runs here)."""
    instrument()
    client = lmstudio.Client("localhost:1234")
    try:
        model = lmstudio.LLM("qwen2.5-7b-instruct", client.llm)
        monkeypatch.setattr(client.llm, "_respond_stream", lambda *args, **kwargs: prediction_stream())
        result = model.respond(lmstudio.Chat("You are terse."))
        stream = model.respond_stream(lmstudio.Chat("You are terse."))
        fragments = [fragment.content for fragment in stream]
    finally:
        client.close()

    assert result.content == "Hello!"
    assert fragments == ["Hel", "lo!"]
    spans = client_spans(telemetry)
    assert [s.attributes["gen_ai.provider.name"] for s in spans] == ["lmstudio", "lmstudio"]  # type: ignore[index]
    assert tokens(telemetry) == {"input": 48, "output": 6}


async def test_ollama_async_generate_stream(telemetry: Captured) -> None:
    lines = [
        {"model": "llama3.2", "created_at": "2026-01-01T00:00:00Z", "response": "Hi", "done": False},
        {
            "model": "llama3.2",
            "created_at": "2026-01-01T00:00:01Z",
            "response": "!",
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 7,
            "eval_count": 2,
        },
    ]
    ndjson = "".join(json.dumps(line) + "\n" for line in lines)

    instrument()
    client = ollama.AsyncClient(
        host="http://127.0.0.1:11434", transport=httpx.MockTransport(lambda request: httpx.Response(200, text=ndjson))
    )
    stream = await client.generate(model="llama3.2", prompt="hi", stream=True)
    text = "".join([part.response async for part in stream])

    assert text == "Hi!"
    response = body(telemetry, "llm_response")
    assert (response["chunk_count"], response["completed"], response["input_tokens"]) == (2, True, 7)
    assert tokens(telemetry) == {"input": 7, "output": 2}


def test_an_instrumented_method_inside_a_decorated_function_is_one_call(telemetry: Captured) -> None:
    instrument()

    @llm_call
    def answer(question: str) -> str:
        response = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}])
        return str(response.choices[0].message.content)

    client = openai_client()
    assert answer("hi") == "Hi!"

    (span,) = client_spans(telemetry)
    assert span.name == f"chat {MODEL}", "the model comes from the inner SDK call"
    assert span.attributes is not None
    assert span.attributes["gen_ai.usage.output_tokens"] == 3
    assert telemetry.event_names() == ["llm_request", "llm_response"]
    assert body(telemetry, "llm_response")["response_id"] == "chatcmpl-7"
    assert tokens(telemetry) == {"input": 11, "output": 3}


def test_errors_propagate_unchanged_and_are_reported_once(telemetry: Captured) -> None:
    instrument()
    client = openai.OpenAI(
        base_url="http://10.0.0.7:9000/v1",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(lambda request: httpx2.Response(503, json={"error": {"message": "busy"}}))
        ),
    )

    @llm_call
    def answer() -> str:
        return str(client.chat.completions.create(model=MODEL, messages=HI).choices[0].message.content)

    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=HI)
    with pytest.raises(openai.InternalServerError):
        answer()

    assert [s.status.status_code.name for s in client_spans(telemetry)] == ["ERROR", "ERROR"]
    assert [r.body["status_code"] for r in telemetry.logs("llm_error")] == [503, 503]  # type: ignore[index]


def test_the_clients_api_key_echoed_in_an_error_is_masked(telemetry: Captured) -> None:
    key = "team-key-4f9a2c7e1b"  # no known key prefix: masked because it is this client's key
    echo = {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}}
    client = openai.OpenAI(
        base_url="http://10.0.0.7:9000/v1",
        api_key=key,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(401, json=echo))),
    )
    instrument()
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=MODEL, messages=HI)

    exported = json.dumps([r.body for r in telemetry.logs()], default=str) + json.dumps(
        [dict(s.attributes or {}) for s in telemetry.spans()] + [s.status.description for s in telemetry.spans()]
    )
    assert "Incorrect API key provided" in exported
    assert key not in exported


def test_a_scope_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError):
        instrument(scope="user-1")  # type: ignore[arg-type]
    assert not multi_llm_otel._instrument.instrumented()


async def test_an_async_instrumented_method_inside_an_async_decorated_function(telemetry: Captured) -> None:
    instrument()
    client = async_openai_client()

    @llm_call
    async def answer() -> str:
        response = await client.chat.completions.create(model=MODEL, messages=HI)
        return str(response.choices[0].message.content)

    assert await answer() == "Hi!"
    (span,) = client_spans(telemetry)
    assert span.name == f"chat {MODEL}"
    assert tokens(telemetry) == {"input": 11, "output": 3}


def test_scope_from_bind_scope_or_a_callable_given_to_instrument(telemetry: Captured) -> None:
    instrument()
    client = openai_client()
    with bind_scope(EventScope.user("u-1")):
        client.chat.completions.create(model=MODEL, messages=HI)
    uninstrument()
    instrument(scope=lambda: EventScope.user("u-2"))
    client.chat.completions.create(model=MODEL, messages=HI)

    assert [r.attributes["user.id"] for r in telemetry.logs("llm_request")] == ["u-1", "u-2"]  # type: ignore[index]


# --- the Anthropic SDK's own spans -----------------------------------------------------------------


def test_the_anthropic_sdk_traces_itself_when_left_alone(telemetry: Captured) -> None:
    """The control for the tests below: the SDK's tracing is really on in them."""
    client = anthropic_client(open_telemetry={"tracer_provider": telemetry.tracer_provider})
    client.messages.create(model=MODEL, max_tokens=8, messages=HI)
    assert [s.name for s in client_spans(telemetry)] == ["anthropic.messages.create"]


@pytest.mark.parametrize("sdk_tracing", [True, False])
@pytest.mark.parametrize("how", ["decorator", "instrument"])
def test_one_client_span_per_request_whether_or_not_the_sdk_traces(
    telemetry: Captured, sdk_tracing: bool, how: str
) -> None:
    seen_traceparents: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if "traceparent" in request.headers:
            seen_traceparents.append(request.headers["traceparent"][3:-3])
        return anthropic_handler(request)

    client = anthropic_client(
        handler, open_telemetry={"tracer_provider": telemetry.tracer_provider, "traces": sdk_tracing}
    )
    if how == "instrument":
        instrument()
        create = client.messages.create
    else:
        create = llm_call(client.messages.create)
    create(model=MODEL, max_tokens=8, messages=HI)
    with (llm_call(client.messages.stream) if how == "decorator" else client.messages.stream)(
        model=MODEL, max_tokens=8, messages=HI
    ) as stream:
        stream.until_done()

    spans = client_spans(telemetry)
    assert [s.name for s in spans] == [f"chat {MODEL}", f"chat {MODEL}"]
    assert telemetry.event_names().count("llm_response") == 2
    assert tokens(telemetry) == {"input": 18, "output": 7}, "each request's tokens counted once"
    # With its tracing on, the SDK records onto our span and propagates its context.
    sdk_attributes = [(s.attributes or {}).get("anthropic.request.id") for s in spans]
    assert sdk_attributes == (["req_plain", "req_stream"] if sdk_tracing else [None, None])
    if sdk_tracing:
        assert all((s.attributes or {})["url.full"] == "http://10.0.0.7:9000/v1/messages" for s in spans)
        assert seen_traceparents == [f"{s.context.trace_id:032x}-{s.context.span_id:016x}" for s in spans]


def test_one_client_span_when_the_function_makes_its_own_client(telemetry: Captured) -> None:
    @llm_call
    def ask() -> Any:
        client = anthropic_client(open_telemetry={"tracer_provider": telemetry.tracer_provider})
        return client.messages.create(model=MODEL, max_tokens=8, messages=HI)

    ask()
    (span,) = client_spans(telemetry)
    assert span.name == "chat", "no model among the arguments, none of the SDK's spans either"
    assert (span.attributes or {})["gen_ai.response.model"] == MODEL


def test_the_sdk_keeps_its_spans_for_other_requests_and_after_uninstrument(telemetry: Captured) -> None:
    instrument()
    client = anthropic_client(open_telemetry={"tracer_provider": telemetry.tracer_provider})

    @llm_call
    def count_then_ask() -> Any:
        client.messages.count_tokens(model=MODEL, messages=HI)
        return client.messages.create(model=MODEL, max_tokens=8, messages=HI)

    count_then_ask()
    uninstrument()
    client.messages.create(model=MODEL, max_tokens=8, messages=HI)

    assert [s.name for s in client_spans(telemetry)] == [
        "anthropic.messages.count_tokens",
        f"chat {MODEL}",
        "anthropic.messages.create",
    ]


# --- the opentelemetry-instrument entry point ------------------------------------------------------


def test_the_entry_point_names_a_base_instrumentor() -> None:
    (entry,) = [
        e for e in importlib.metadata.entry_points(group="opentelemetry_instrumentor") if e.name == "multi_llm_otel"
    ]
    cls = entry.load()
    assert issubclass(cls, BaseInstrumentor)
    original = vars(openai.resources.chat.completions.Completions)["create"]
    instrumentor = cls()
    instrumentor.instrument(configure=False)
    assert vars(openai.resources.chat.completions.Completions)["create"] is not original
    instrumentor.uninstrument()
    assert vars(openai.resources.chat.completions.Completions)["create"] is original


def test_the_instrumentor_takes_providers_as_other_instrumentors_do() -> None:
    from multi_llm_otel.instrumentor import MultiLlmOtelInstrumentor

    captured = Captured()
    instrumentor = MultiLlmOtelInstrumentor()
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        logger_provider=captured.logger_provider,
        meter_provider=captured.meter_provider,
    )
    try:
        openai_client().chat.completions.create(model=MODEL, messages=HI)
    finally:
        instrumentor.uninstrument()
    openai_client().chat.completions.create(model=MODEL, messages=HI)

    assert [s.name for s in captured.spans()] == [f"chat {MODEL}"], "the second call was not instrumented"
    assert captured.event_names() == ["llm_request", "llm_response"]
    assert tokens(captured) == {"input": 11, "output": 3}


@pytest.mark.parametrize(("disabled", "expected"), [("", "True"), ("multi_llm_otel", "False")])
def test_the_launcher_loads_the_instrumentor_unless_disabled(tmp_path: Any, disabled: str, expected: str) -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    launcher = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert launcher is not None
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        "MULTI_LLM_OTEL_SINK": str(tmp_path / "sink.jsonl"),
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": disabled,
    }
    code = "import multi_llm_otel._instrument as i; print(i.instrumented())"
    result = subprocess.run(
        [launcher, sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == expected
