"""The Rust producer's requests made again through ``@llm_call`` on the official SDKs, against
the same llama-server: the decorator's side of every Rust-versus-Python comparison.

``python -m tests.rust._decorated_twin LLAMA_URL`` makes them in a process configured by the
OTEL_* environment (the stack test points it at the Collector) and exits once exported.
"""

from __future__ import annotations

import sys
from typing import Any

import anthropic
import openai
from tests.llm._assertions import MODEL
from tests.rust._producer import CALLS, MAX_TOKENS, PROMPT, USER

from multi_llm_otel import EventScope, bind_scope, llm_call


@llm_call
def chat(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS, temperature=0
    )


@llm_call
def message(client: anthropic.Anthropic) -> Any:
    # This SDK has no temperature argument; the crate sends one, so it goes in the body.
    return client.messages.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=MAX_TOKENS,
        extra_body={"temperature": 0},
    )


def same_calls(llama_server: str) -> None:
    """``CALLS`` chat completions, then ``CALLS`` messages, as the producer makes them."""
    with (
        bind_scope(EventScope.user(USER)),
        openai.OpenAI(base_url=f"{llama_server}/v1", api_key="not-a-key") as oa,
        anthropic.Anthropic(base_url=llama_server, api_key="not-a-key") as an,
    ):
        for _ in range(CALLS):
            chat(oa)
        for _ in range(CALLS):
            message(an)


if __name__ == "__main__":
    from multi_llm_otel import configure

    telemetry = configure()
    same_calls(sys.argv[1])
    sys.exit(0 if telemetry.shutdown() else 3)
