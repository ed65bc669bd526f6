"""The four measured calls: OpenAI Chat Completions and Anthropic Messages, each plain and
streamed (50 text chunks), through the official SDK clients pointed at the mock server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A marker in the prompt: finding it in exported telemetry means the configuration captured
# prompt content (the peers' defaults differ here; ours does not by default).
PROMPT_MARKER = "BENCH-PROMPT-7f3a"
OUTPUT_MARKER = "w47 w48 w49"
MESSAGES = [{"role": "user", "content": f"Say hello in fifty words. {PROMPT_MARKER}"}]
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"


@dataclass(frozen=True)
class Scenario:
    name: str
    provider: str  # "openai" | "anthropic"
    stream: bool
    kwargs: dict[str, Any]
    # Calls per timed block: about 0.3 s of SDK work each on this machine type.
    block: int


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "openai",
            "openai",
            False,
            {"model": OPENAI_MODEL, "messages": MESSAGES, "max_tokens": 64, "temperature": 0.2},
            200,
        ),
        Scenario(
            "openai-stream",
            "openai",
            True,
            {
                "model": OPENAI_MODEL,
                "messages": MESSAGES,
                "max_tokens": 64,
                "temperature": 0.2,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            40,
        ),
        Scenario(
            "anthropic", "anthropic", False, {"model": ANTHROPIC_MODEL, "messages": MESSAGES, "max_tokens": 64}, 200
        ),
        Scenario(
            "anthropic-stream",
            "anthropic",
            True,
            {"model": ANTHROPIC_MODEL, "messages": MESSAGES, "max_tokens": 64, "stream": True},
            100,
        ),
    )
}


def make_clients(port: int) -> dict[str, Any]:
    import anthropic
    import openai

    return {
        "openai": openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0),
        "anthropic": anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="sk-bench", max_retries=0),
    }


def plain_call(client: Any, scenario: Scenario) -> None:
    """The uninstrumented call, as an application writes it; a stream is read to the end."""
    if scenario.provider == "openai":
        result = client.chat.completions.create(**scenario.kwargs)
    else:
        result = client.messages.create(**scenario.kwargs)
    if scenario.stream:
        for _ in result:
            pass
