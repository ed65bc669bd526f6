"""A fast mock LLM server: OpenAI Chat Completions and Anthropic Messages, plain and SSE-streamed.

Run it as its own process (``python -m bench.mockserver``: it prints ``PORT <n>`` once it
listens) so that its CPU time never lands in the measured client's process time. Every
response is prepared once at start; per request the server only finds the end of the
headers, reads the body, looks at ``"stream"`` and writes the prepared bytes. HTTP/1.1
keep-alive, ``Content-Length`` framing (SSE included), loopback only.

Responses carry usage with cache tokens: OpenAI ``prompt_tokens_details.cached_tokens`` (and a
final ``include_usage`` chunk when streaming), Anthropic ``cache_read_input_tokens`` in the
message and in ``message_start``. A streamed answer has ``CHUNKS`` text chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

CHUNKS = 50
OPENAI_MODEL = "gpt-4o-mini-2024-07-18"
ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"
WORDS = [f"w{i} " for i in range(CHUNKS)]
TEXT = "".join(WORDS)

# Usage with a cached prefix: OpenAI counts cached tokens inside prompt_tokens, Anthropic apart.
OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": CHUNKS,
    "total_tokens": 1200 + CHUNKS,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
ANTHROPIC_USAGE = {
    "input_tokens": 176,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 1024,
    "output_tokens": CHUNKS,
    "service_tier": "standard",
}


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def openai_completion() -> bytes:
    return _dumps(
        {
            "id": "chatcmpl-bench0001",
            "object": "chat.completion",
            "created": 1764000000,
            "model": OPENAI_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": TEXT, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": OPENAI_USAGE,
            "service_tier": "default",
            "system_fingerprint": "fp_bench",
        }
    )


def openai_stream() -> bytes:
    base = {"id": "chatcmpl-bench0001", "object": "chat.completion.chunk", "created": 1764000000}
    base |= {"model": OPENAI_MODEL, "service_tier": "default", "system_fingerprint": "fp_bench"}
    out = []
    for i, word in enumerate(WORDS):
        delta: dict[str, object] = {"content": word}
        if i == 0:
            delta = {"role": "assistant", "content": word, "refusal": None}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": "stop" if i == CHUNKS - 1 else None}
        out.append(b"data: " + _dumps({**base, "choices": [choice], "usage": None}) + b"\n\n")
    out.append(b"data: " + _dumps({**base, "choices": [], "usage": OPENAI_USAGE}) + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def anthropic_message() -> bytes:
    return _dumps(
        {
            "id": "msg_bench0001",
            "type": "message",
            "role": "assistant",
            "model": ANTHROPIC_MODEL,
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": ANTHROPIC_USAGE,
        }
    )


def _sse(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + _dumps(data) + b"\n\n"


def anthropic_stream() -> bytes:
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    message = {
        "id": "msg_bench0001",
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    out = [
        _sse("message_start", {"type": "message_start", "message": message}),
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for word in WORDS:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}
        out.append(_sse("content_block_delta", delta))
    out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": CHUNKS},
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return b"".join(out)


def _http(body: bytes, content_type: bytes, status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
        + str(len(body)).encode() + b"\r\nconnection: keep-alive\r\n\r\n" + body
    )  # fmt: skip


RESPONSES = {
    (b"/v1/chat/completions", False): _http(openai_completion(), b"application/json"),
    (b"/v1/chat/completions", True): _http(openai_stream(), b"text/event-stream; charset=utf-8"),
    (b"/v1/messages", False): _http(anthropic_message(), b"application/json"),
    (b"/v1/messages", True): _http(anthropic_stream(), b"text/event-stream; charset=utf-8"),
}
NOT_FOUND = _http(b'{"error":{"type":"not_found","message":"unknown path"}}', b"application/json", b"404 Not Found")


class _Connection(asyncio.Protocol):
    __slots__ = ("buf", "transport")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            if len(buf) < end + 4 + length:
                return
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            path = head.split(b" ", 2)[1].split(b"?", 1)[0]
            stream = False
            if b'"stream"' in body:
                try:
                    stream = json.loads(body).get("stream") is True
                except ValueError:
                    stream = False
            self.transport.write(RESPONSES.get((path, stream), NOT_FOUND))


async def serve(port: int, ready: asyncio.Future[int] | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Connection, "127.0.0.1", port, backlog=128)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(bound)
    else:
        print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
