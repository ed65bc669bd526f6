"""Recorded fixtures: response bodies and stream payloads written from each provider's documented format.

No provider can be called from here, so these are the documented shapes (OpenAI and Anthropic API
references, Ollama's ``docs/api.md``, LM Studio's REST docs, /work/shared/docs/llm-responses.md),
with the values of the documentation's own examples where it gives some. The tests turn them into
real SDK objects (``model_validate``, or a real client on a mock transport that serves them) and
also feed them as plain dicts, the way a user calling the HTTP API directly would hold them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

JSON = dict[str, Any]

# --- OpenAI Chat Completions ------------------------------------------------------------------

OPENAI_CHAT: JSON = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The image shows a wooden boardwalk.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}


def openai_chat_two_choices() -> JSON:
    """``n=2``: one finish reason per choice."""
    body = copy.deepcopy(OPENAI_CHAT)
    body["choices"].append(
        {
            "index": 1,
            "message": {"role": "assistant", "content": "A boardwalk"},
            "logprobs": None,
            "finish_reason": "length",
        }
    )
    return body


# llama-server's answer on its OpenAI route: the usual body plus ``timings``.
LLAMA_CPP_CHAT: JSON = {
    "choices": [{"finish_reason": "stop", "index": 0, "message": {"role": "assistant", "content": "Hello there"}}],
    "created": 1763000000,
    "model": "gemma-3-270m-q4_k_m.gguf",
    "system_fingerprint": "b7000-0123456",
    "object": "chat.completion",
    "usage": {
        "completion_tokens": 5,
        "prompt_tokens": 280,
        "total_tokens": 285,
        "prompt_tokens_details": {"cached_tokens": 268},
    },
    "id": "chatcmpl-Qx1",
    "timings": {"cache_n": 268, "prompt_n": 12, "prompt_ms": 20.1, "predicted_n": 5, "predicted_ms": 90.0},
}


def openai_chunks(*, include_usage: bool, timings: bool = False) -> list[JSON]:
    """A streamed chat completion: role, two content deltas, the finish chunk, then (with
    ``stream_options.include_usage``) the usage chunk with no choices. Earlier chunks say
    ``usage: null`` only when usage was asked for."""
    base = {"id": "chatcmpl-stream1", "object": "chat.completion.chunk", "created": 1741570283, "model": "gpt-4o-mini"}
    deltas: list[tuple[dict[str, Any], str | None]] = [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hello"}, None),
        ({"content": " world"}, None),
        ({}, "stop"),
    ]
    chunks: list[JSON] = []
    for delta, finish in deltas:
        chunk: JSON = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            chunk["usage"] = None
        chunks.append(chunk)
    if include_usage:
        usage_chunk: JSON = {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": 19,
                "completion_tokens": 3,
                "total_tokens": 22,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }
        if timings:
            usage_chunk["timings"] = {"prompt_n": 19, "prompt_ms": 11.0, "predicted_n": 3, "predicted_ms": 40.0}
        chunks.append(usage_chunk)
    return chunks


OPENAI_ERROR_BODY: JSON = {
    "error": {
        "message": (
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."
        ),
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
OPENAI_QUOTA_BODY: JSON = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
# llama-server: ``code`` is the HTTP status, ``type`` the real code.
LLAMA_CPP_ERROR_BODY: JSON = {
    "error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 5000,
        "n_ctx": 4096,
    }
}
# LM Studio's own error body: a string, not an object.
LM_STUDIO_ERROR_BODY: JSON = {"error": "Unexpected endpoint or method. (POST /v1/chat/completion)"}

# --- OpenAI Responses API ---------------------------------------------------------------------

RESPONSE_ID = "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
MESSAGE_ID = "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b"


def openai_response(*, status: str = "completed", text: str = "In a peaceful grove, a unicorn slept.") -> JSON:
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-4.1-2025-04-14",
        "output": [
            {
                "type": "message",
                "id": MESSAGE_ID,
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 36,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 123,
        },
        "user": None,
        "metadata": {},
    }


def openai_response_events() -> list[JSON]:
    """A streamed Response: lifecycle events carry the response; only ``response.completed`` has usage."""
    created = openai_response(status="in_progress")
    created["output"] = []
    created["usage"] = None
    item = {"type": "message", "id": MESSAGE_ID, "status": "in_progress", "role": "assistant", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    done_text = "In a peaceful grove, a unicorn slept."
    where = {"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0}
    events: list[JSON] = [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **where, "part": part},
        {"type": "response.output_text.delta", **where, "delta": "In a peaceful grove,", "logprobs": []},
        {"type": "response.output_text.delta", **where, "delta": " a unicorn slept.", "logprobs": []},
        {"type": "response.output_text.done", **where, "text": done_text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": {**part, "text": done_text}},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**item, "status": "completed", "content": [{**part, "text": done_text}]},
        },
        {"type": "response.completed", "response": openai_response()},
    ]
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


# --- Anthropic Messages -----------------------------------------------------------------------


def anthropic_message(usage: JSON | None = None, **overrides: Any) -> JSON:
    body: JSON = {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "thinking", "thinking": "The user greets me.", "signature": "EqQBCgIYAhIM"},
            {"type": "text", "text": "Hi! My name is Claude."},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage
        if usage is not None
        else {
            "input_tokens": 21,
            "cache_creation_input_tokens": 188086,
            "cache_read_input_tokens": 0,
            "output_tokens": 393,
        },
    }
    body.update(overrides)
    return body


ANTHROPIC_ERROR_BODY: JSON = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
ANTHROPIC_BAD_REQUEST_BODY: JSON = {
    "type": "error",
    "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
}


def anthropic_events(*, unknown: bool = True, tool: bool = True) -> list[JSON]:
    """The documented SSE sequence, plus: a ``ping`` inside, an event type from the future, a
    tool_use block streamed as ``input_json_delta``, and two ``message_delta`` events whose
    ``output_tokens`` are running totals (7, then 15: the answer is 15, not 22); the second
    repeats the cache fields, as servers may."""
    events: list[JSON] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-opus-4-6",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 25,
                    "cache_read_input_tokens": 2048,
                    "cache_creation_input_tokens": 0,
                    "output_tokens": 1,
                },
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    ]
    if unknown:
        events.append({"type": "content_block_flourish", "index": 0, "sparkle": True})
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
        {"type": "content_block_stop", "index": 0},
    ]
    if tool:
        events += [
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                    "name": "get_weather",
                    "input": {},
                },
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"location": "San'},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ' Francisco"}'},
            },
            {"type": "content_block_stop", "index": 1},
        ]
    events += [
        {"type": "message_delta", "delta": {"stop_reason": None, "stop_sequence": None}, "usage": {"output_tokens": 7}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None},
            "usage": {"input_tokens": 25, "cache_read_input_tokens": 2048, "output_tokens": 15},
        },
        {"type": "message_stop"},
    ]
    return events


# --- Ollama native ----------------------------------------------------------------------------

OLLAMA_CHAT: JSON = {
    "model": "llama3.2",
    "created_at": "2023-12-12T14:13:43.416799Z",
    "message": {"role": "assistant", "content": "Hello! How are you today?"},
    "done": True,
    "done_reason": "stop",
    "total_duration": 5191566416,
    "load_duration": 2154458,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 383809000,
    "eval_count": 298,
    "eval_duration": 4799921000,
}


def ollama_lines(*, error: bool = False) -> list[JSON]:
    """An NDJSON chat stream: content deltas, then the ``done`` object with counts (empty content);
    or, with ``error``, a ``{"error": ...}`` line after the first delta (HTTP 200)."""
    delta = {"model": "llama3.2", "created_at": "2023-08-04T08:52:19.385406455-07:00", "done": False}
    lines = [
        {**delta, "message": {"role": "assistant", "content": "Hello"}},
        {**delta, "message": {"role": "assistant", "content": "! How are you today?"}},
        {**OLLAMA_CHAT, "message": {"role": "assistant", "content": ""}},
    ]
    if error:
        return [lines[0], {"error": "an error was encountered while running the model: unexpected EOF"}]
    return lines


def ndjson(lines: list[JSON]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


OLLAMA_GENERATE: JSON = {
    "model": "llama3.2",
    "created_at": "2023-08-04T19:22:45.499127Z",
    "response": "The sky is blue because of Rayleigh scattering.",
    "done": True,
    "done_reason": "stop",
    "total_duration": 10706818083,
    "prompt_eval_count": 26,
    "eval_count": 290,
}

# --- LM Studio --------------------------------------------------------------------------------

LM_STUDIO_V1_CHAT: JSON = {
    "model_instance_id": "openai/gpt-oss-20b",
    "output": [
        {"type": "reasoning", "content": "Need to search for top trending."},
        {
            "type": "tool_call",
            "tool": "model_search",
            "arguments": {"sort": "trendingScore", "limit": 1},
            "output": "[...]",
            "provider_info": {"server_label": "huggingface", "type": "ephemeral_mcp"},
        },
        {"type": "message", "content": "Here is the page for the current top-trending model."},
    ],
    "stats": {
        "input_tokens": 359,
        "total_output_tokens": 218,
        "reasoning_output_tokens": 24,
        "tokens_per_second": 41.097718386623356,
        "time_to_first_token_seconds": 1.367,
    },
    "response_id": "resp_02b2017dbc06c12bfc353a2ed6c2b802f8cc682884bb5716",
}

LM_STUDIO_V1_EVENTS: list[JSON] = [
    {"type": "chat.start", "model_instance_id": "openai/gpt-oss-20b"},
    {"type": "prompt_processing.start"},
    {"type": "prompt_processing.progress", "progress": 0.5},
    {"type": "prompt_processing.end"},
    {"type": "reasoning.start"},
    {"type": "reasoning.delta", "content": "Need to"},
    {"type": "reasoning.end"},
    {"type": "message.start"},
    {"type": "message.delta", "content": "Here is the page"},
    {"type": "message.delta", "content": " for the current top-trending model."},
    {"type": "message.end"},
    {"type": "chat.end", "result": LM_STUDIO_V1_CHAT},
]

LM_STUDIO_V0_CHAT: JSON = {
    "id": "chatcmpl-i3gkjwthhw96whukek9tz",
    "object": "chat.completion",
    "created": 1731990317,
    "model": "granite-3.0-2b-instruct",
    "choices": [
        {
            "index": 0,
            "logprobs": None,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Greetings, I'm a helpful AI, here to assist."},
        }
    ],
    "usage": {"prompt_tokens": 24, "completion_tokens": 53, "total_tokens": 77},
    "stats": {
        "tokens_per_second": 51.43709529007664,
        "time_to_first_token": 0.111,
        "generation_time": 0.954,
        "stop_reason": "eosFound",
    },
    "model_info": {"arch": "granite", "quant": "Q4_K_M", "format": "gguf", "context_length": 4096},
    "runtime": {"name": "llama.cpp-mac-arm64-apple-metal-advsimd", "version": "1.3.0", "supported_formats": ["gguf"]},
}

# The ``predict`` channel messages the lmstudio SDK's prediction endpoint parses (its websocket
# protocol, as the SDK 1.5.0 source matches them): progress, fragments, then ``success``.
LM_STUDIO_SDK_MESSAGES: list[JSON] = [
    {"type": "promptProcessingProgress", "progress": 0.5},
    {
        "type": "fragment",
        "fragment": {"content": "Hel", "tokensCount": 1, "containsDrafted": False, "reasoningType": "none"},
    },
    {
        "type": "fragment",
        "fragment": {"content": "lo!", "tokensCount": 2, "containsDrafted": False, "reasoningType": "none"},
    },
    {
        "type": "success",
        "stats": {
            "stopReason": "eosFound",
            "tokensPerSecond": 51.4,
            "numGpuLayers": -1,
            "timeToFirstTokenSec": 0.111,
            "promptTokensCount": 24,
            "predictedTokensCount": 3,
            "totalTokensCount": 27,
        },
        "modelInfo": {
            "type": "llm",
            "modelKey": "qwen2.5-7b-instruct",
            "format": "gguf",
            "displayName": "Qwen2.5 7B Instruct",
            "path": "lmstudio-community/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf",
            "sizeBytes": 4683073952,
            "vision": False,
            "trainedForToolUse": True,
            "maxContextLength": 32768,
        },
        "loadModelConfig": {"fields": []},
        "predictionConfig": {"fields": []},
    },
]


def drain(stream: Any, accumulator: Any) -> None:
    """Reads a stream to its end (or its exception), handing every item to ``accumulator``."""
    for item in stream:
        accumulator.add(item)


def sse(events: list[JSON], *, named: bool, done: bool = False) -> bytes:
    """Server-sent events: ``event:`` lines named after ``type`` (Anthropic) or bare ``data:`` (OpenAI)."""
    out = "".join((f"event: {event['type']}\n" if named else "") + f"data: {json.dumps(event)}\n\n" for event in events)
    if done:
        out += "data: [DONE]\n\n"
    return out.encode()
