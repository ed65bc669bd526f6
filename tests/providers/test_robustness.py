"""Every extractor on missing, null and wrongly typed fields, and the registry around them.

Servers send what they send: the SDKs build their objects without validation (``construct``),
so a wrong type in the JSON reaches the extractor inside a real SDK object as well as in a dict.
Nothing here may raise, and a count that is not a non-negative integer must come out ``None``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import anthropic._models
import lmstudio
import ollama
import openai._models
from anthropic.types import Message, RawMessageStreamEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter
from tests.providers import _recorded as rec

from multi_llm_otel.providers import for_response, for_stream, registered
from multi_llm_otel.providers._base import ResponseInfo, as_int
from multi_llm_otel.providers.anthropic import EXTRACTOR as ANTHROPIC
from multi_llm_otel.providers.lmstudio import EXTRACTOR as LM_STUDIO
from multi_llm_otel.providers.ollama import EXTRACTOR as OLLAMA
from multi_llm_otel.providers.openai import EXTRACTOR as OPENAI

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
# Absent, null, or any JSON value at all.
MAYBE = st.one_of(st.just(...), JSON_VALUES)


def _obj(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not ...}


def _assert_counts(info: ResponseInfo) -> None:
    for value in (
        info.input_tokens,
        info.output_tokens,
        info.cache_read_tokens,
        info.cache_write_tokens,
        info.reasoning_tokens,
    ):
        assert value is None or (type(value) is int and value >= 0)
    assert all(isinstance(reason, str) for reason in info.finish_reasons)
    assert info.output_text is None or isinstance(info.output_text, str)


@settings(max_examples=150, deadline=None)
@given(prompt=MAYBE, completion=MAYBE, details=MAYBE, cached=MAYBE, usage_is=MAYBE, choices=MAYBE)
def test_openai_chat_usage(
    prompt: Any, completion: Any, details: Any, cached: Any, usage_is: Any, choices: Any
) -> None:
    usage = _obj(prompt_tokens=prompt, completion_tokens=completion, prompt_tokens_details=details)
    if isinstance(details, dict):
        usage["prompt_tokens_details"] = _obj(**{**details, "cached_tokens": cached})
    body = _obj(
        object="chat.completion", id="x", model="m", choices=choices, usage=usage if usage_is is ... else usage_is
    )
    built = openai._models.construct_type(type_=ChatCompletion, value=body)
    for obj in (body, built):
        info = OPENAI.response(obj)
        _assert_counts(info)
        assert info.caching_reported == (info.cache_read_tokens is not None or info.cache_write_tokens is not None)
    # On the JSON itself (the SDK's ``construct`` may coerce a value first, e.g. ``False`` to 0):
    info = OPENAI.response(body)
    if usage_is is ...:
        assert (info.input_tokens, info.output_tokens) == (as_int(prompt), as_int(completion))
        if isinstance(details, dict):
            assert info.cache_read_tokens == as_int(cached)


@settings(max_examples=150, deadline=None)
@given(uncached=MAYBE, read=MAYBE, write=MAYBE, output=MAYBE, split=MAYBE, content=MAYBE)
def test_anthropic_usage(uncached: Any, read: Any, write: Any, output: Any, split: Any, content: Any) -> None:
    usage = _obj(
        input_tokens=uncached,
        cache_read_input_tokens=read,
        cache_creation_input_tokens=write,
        output_tokens=output,
        cache_creation=split,
    )
    body = _obj(type="message", id="msg", model="claude", usage=usage, content=content, stop_reason="end_turn")
    built = anthropic._models.construct_type(type_=Message, value=body)
    for obj in (body, built):
        info = ANTHROPIC.response(obj)
        _assert_counts(info)
        assert info.caching_reported == (info.cache_read_tokens is not None or info.cache_write_tokens is not None)
    # On the JSON itself (the SDK's ``construct`` may coerce a value first, e.g. ``False`` to 0):
    info = ANTHROPIC.response(body)
    base, cache_read, cache_write = as_int(uncached), as_int(read), as_int(write)
    assert info.cache_read_tokens == cache_read
    if base is not None and cache_write is not None:
        assert info.input_tokens == base + (cache_read or 0) + cache_write


@settings(max_examples=100, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["prompt_eval_count", "eval_count", "done_reason", "message", "response", "model", "error"]),
        JSON_VALUES,
    )
)
def test_ollama_fields(fields: dict[str, Any]) -> None:
    _assert_counts(OLLAMA.response({"done": True, "created_at": "t", **fields}))


@settings(max_examples=100, deadline=None)
@given(stats=JSON_VALUES, output=JSON_VALUES, choices=MAYBE)
def test_lm_studio_fields(stats: Any, output: Any, choices: Any) -> None:
    _assert_counts(LM_STUDIO.response(_obj(stats=stats, output=output, choices=choices)))


EVENT_KINDS = st.sampled_from(
    [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
        "response.created",
        "response.output_text.delta",
        "response.completed",
        "chunk",
        "chat.end",
        "message.delta",
        "something_new",
    ]
)
CHUNKS = st.lists(
    st.one_of(
        st.builds(
            lambda kind, rest: {**rest, "type": kind},
            EVENT_KINDS,
            st.dictionaries(
                st.sampled_from(["message", "delta", "usage", "index", "response", "error", "result", "content"]),
                JSON_VALUES,
            ),
        ),
        st.builds(
            lambda rest: {**rest, "object": "chat.completion.chunk"},
            st.dictionaries(st.sampled_from(["choices", "usage", "timings", "error", "id", "model"]), JSON_VALUES),
        ),
        st.builds(
            lambda rest: {**rest, "done": True},
            st.dictionaries(st.sampled_from(["message", "eval_count", "error"]), JSON_VALUES),
        ),
        JSON_VALUES,
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(chunks=CHUNKS)
def test_accumulators_take_anything(chunks: list[Any]) -> None:
    for extractor in registered():
        accumulator = extractor.accumulator(None)
        for chunk in chunks:
            accumulator.add(chunk)
        _assert_counts(accumulator.result())


@settings(max_examples=100, deadline=None)
@given(choices=JSON_VALUES, usage=JSON_VALUES)
def test_sdk_chunks_built_from_bad_json(choices: Any, usage: Any) -> None:
    chunk = openai._models.construct_type(
        type_=ChatCompletionChunk,
        value={"object": "chat.completion.chunk", "id": "c", "choices": choices, "usage": usage},
    )
    accumulator = OPENAI.accumulator(None)
    accumulator.add(chunk)
    _assert_counts(accumulator.result())


def test_registry_routes_each_json_shape() -> None:
    assert for_response(rec.OPENAI_CHAT) is OPENAI
    assert for_response(rec.openai_response()) is OPENAI
    assert for_response(rec.openai_chunks(include_usage=True)) is OPENAI
    assert for_response(rec.OPENAI_ERROR_BODY) is OPENAI
    assert for_response(rec.anthropic_message()) is ANTHROPIC
    assert for_response(rec.anthropic_events()) is ANTHROPIC
    assert for_response(rec.OLLAMA_CHAT) is OLLAMA
    assert for_response(rec.ollama_lines()) is OLLAMA
    assert for_response(rec.OLLAMA_GENERATE) is OLLAMA
    assert for_response(rec.LM_STUDIO_V1_CHAT) is LM_STUDIO
    assert for_response(rec.LM_STUDIO_V0_CHAT) is LM_STUDIO
    assert for_response(rec.LM_STUDIO_V1_EVENTS) is LM_STUDIO
    for foreign in ({}, [], ["text"], "text", 42, None, {"choices_not": 1}, object()):
        assert for_response(foreign) is None
        assert for_stream(foreign) is None


def test_the_first_item_of_a_stream_picks_its_extractor() -> None:
    """A decorated generator function's first yielded item chooses the accumulator for the rest."""
    cases: list[tuple[object, Any]] = [
        (rec.openai_chunks(include_usage=True)[1], OPENAI),
        (ChatCompletionChunk.model_validate(rec.openai_chunks(include_usage=True)[1]), OPENAI),
        (rec.openai_response_events()[0], OPENAI),
        (rec.anthropic_events()[0], ANTHROPIC),
        (TypeAdapter(RawMessageStreamEvent).validate_python(rec.anthropic_events()[0]), ANTHROPIC),
        (rec.ollama_lines()[0], OLLAMA),
        (ollama.ChatResponse(**rec.ollama_lines()[0]), OLLAMA),
        (rec.LM_STUDIO_V1_EVENTS[0], LM_STUDIO),
        (lmstudio.LlmPredictionFragment._from_api_dict(rec.LM_STUDIO_SDK_MESSAGES[1]["fragment"]), LM_STUDIO),
    ]
    for item, extractor in cases:
        assert for_response(item) is extractor, item
        _assert_counts(extractor.response(item))
    assert OPENAI.response(rec.openai_chunks(include_usage=True)[1]).output_text == "Hello"
    assert ANTHROPIC.response(rec.anthropic_events()[0]).input_tokens == 25 + 2048
    assert LM_STUDIO.response(rec.LM_STUDIO_V1_EVENTS[-1]).input_tokens == 359


def test_importing_the_extractors_imports_no_sdk() -> None:
    sdks = {"openai", "anthropic", "ollama", "lmstudio", "httpx2", "litellm", "google"}
    code = (
        f"import sys, multi_llm_otel.providers\nprint(sorted(m for m in sys.modules if m.partition('.')[0] in {sdks}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
