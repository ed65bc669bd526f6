"""Without content capture the stream accumulators skip the answer's text, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from multi_llm_otel.providers.anthropic import AnthropicStreamAccumulator
from multi_llm_otel.providers.openai import OpenAIStreamAccumulator


def _openai_chunks() -> list[Any]:
    openai = pytest.importorskip("openai")
    chunk = openai.types.chat.ChatCompletionChunk
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    texts = [
        chunk.model_validate({**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]})
        for w in ("Hello", " there")
    ]
    end = chunk.model_validate({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = chunk.model_validate(
        {**base, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}
    )
    return [*texts, end, usage]


def _anthropic_events() -> list[Any]:
    anthropic = pytest.importorskip("anthropic")
    types = anthropic.types
    start = types.RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 11, "output_tokens": 1},
            },
        }
    )
    delta = types.RawContentBlockDeltaEvent.model_validate(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
    )
    end = types.RawMessageDeltaEvent.model_validate(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 3},
        }
    )
    return [start, delta, end]


@pytest.mark.parametrize(
    ("make", "items"),
    [(OpenAIStreamAccumulator, _openai_chunks), (AnthropicStreamAccumulator, _anthropic_events)],
    ids=["openai", "anthropic"],
)
def test_skip_text_drops_only_the_text(make: Any, items: Any) -> None:
    chunks = items()
    kept, skipped = make(None), make(None)
    skipped.skip_text()
    for chunk in chunks:
        kept.add(chunk)
        skipped.add(chunk)
    full, lean = kept.result(), skipped.result()
    assert full.output_text in ("Hello there", "Hi")
    assert lean.output_text is None
    full.output_text = None
    assert lean == full
    assert lean.finish_reasons
    assert lean.input_tokens
    assert lean.output_tokens
