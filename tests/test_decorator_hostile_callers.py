"""Callers the decorator must survive (#11 items 9 and 10): clients held as attributes, objects
whose attribute reads raise any BaseException, class and static methods, the recursion limit."""

from __future__ import annotations

import sys
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry.sdk.trace import SpanProcessor

from multi_llm_otel import llm_call
from multi_llm_otel.testing import Captured

COMPLETION = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "created": 1764000000,
    "model": "llama3.2",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop", "logprobs": None}
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


class Hostile(BaseException):
    """Not an Exception: what a broken property of an application object might raise."""


class Touchy:
    """Raises on any attribute read that reaches its code."""

    touched = 0

    def __getattr__(self, name: str) -> Any:
        Touchy.touched += 1
        raise Hostile(name)

    @property
    def __class__(self) -> type:  # type: ignore[override]
        Touchy.touched += 1
        raise Hostile("__class__")


def test_a_client_held_as_self_llm_is_named_by_its_base_url(telemetry: Captured) -> None:
    class Bot:
        def __init__(self) -> None:
            self.name = "bot"
            self.llm = openai.OpenAI(
                api_key="unused",
                base_url="http://127.0.0.1:11434/v1",
                http_client=httpx2.Client(
                    transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=COMPLETION))
                ),
            )

        @llm_call
        def ask(self, prompt: str) -> Any:
            return self.llm.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": prompt}])

    Bot().ask("hi")
    [span] = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.provider.name"] == "ollama"
    assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", 11434)


def test_base_exceptions_from_attribute_reads_never_escape(telemetry: Captured) -> None:
    Touchy.touched = 0

    @llm_call
    def ask(thing: Any, *, max_tokens: Any = None) -> dict[str, Any]:
        return COMPLETION

    assert ask(Touchy(), max_tokens=Touchy()) is COMPLETION
    assert telemetry.event_names() == ["llm_request", "llm_response"]


def test_client_discovery_runs_no_code_of_module_globals(telemetry: Captured) -> None:
    Touchy.touched = 0
    module: dict[str, Any] = {"touchy": Touchy(), "COMPLETION": COMPLETION}
    exec("def ask():\n    return COMPLETION if touchy is not None else {}", module)

    ask = llm_call(module["ask"])
    ask()
    assert Touchy.touched == 0
    assert telemetry.event_names() == ["llm_request", "llm_response"]


def test_above_classmethod_and_staticmethod(telemetry: Captured) -> None:
    class Service:
        @llm_call
        @classmethod
        def by_class(cls) -> dict[str, Any]:
            assert cls is Service
            return COMPLETION

        @llm_call(model="m")
        @staticmethod
        def static() -> dict[str, Any]:
            return COMPLETION

    assert Service.by_class() is COMPLETION
    assert Service().static() is COMPLETION
    assert [s.name for s in telemetry.spans()] == ["chat", "chat m"]


class Counting(SpanProcessor):
    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started += 1

    def on_end(self, span: Any) -> None:
        self.ended += 1


def test_no_span_is_left_open_at_the_recursion_limit(telemetry: Captured) -> None:
    counting = Counting()
    telemetry.tracer_provider.add_span_processor(counting)

    @llm_call(model="m")
    def deep(n: int) -> int:
        return deep(n + 1)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        with pytest.raises(RecursionError):
            deep(0)
    finally:
        sys.setrecursionlimit(limit)
    assert counting.started > 10
    assert counting.ended == counting.started
