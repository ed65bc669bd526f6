"""An application that knows nothing of OpenTelemetry, run by tests/llm/test_zero_code.py under
``opentelemetry-instrument``: plain OpenAI and Anthropic SDK calls to the llama-server given as
the first argument. Only the scope binding and one decorated function name the library."""

from __future__ import annotations

import asyncio
import sys

import anthropic
import openai

from multi_llm_otel import EventScope, bind_scope, llm_call

BASE = sys.argv[1]
MODEL = "gemma-3-270m"
HI = [{"role": "user", "content": "Say hi."}]

chat = openai.OpenAI(base_url=f"{BASE}/v1", api_key="sk-zero-code-test", max_retries=2)
claude = anthropic.Anthropic(base_url=BASE, api_key="sk-ant-zero-code-test", max_retries=2)


@llm_call
def answer(question: str) -> str:
    """Returns only the text: the model and the tokens come from the SDK call inside."""
    response = chat.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}], max_tokens=8)
    return str(response.choices[0].message.content)


async def async_calls() -> None:
    client = openai.AsyncOpenAI(base_url=f"{BASE}/v1", api_key="sk-zero-code-test", max_retries=2)
    await client.chat.completions.create(model=MODEL, messages=HI, max_tokens=8)
    await client.close()


def main() -> None:
    with bind_scope(EventScope.user("zero-code-user")):
        chat.chat.completions.create(model=MODEL, messages=HI, max_tokens=8)
    stream = chat.chat.completions.create(
        model=MODEL, messages=HI, max_tokens=8, stream=True, stream_options={"include_usage": True}
    )
    for _ in stream:
        pass
    chat.responses.create(model=MODEL, input="Say hi.", max_output_tokens=8)
    asyncio.run(async_calls())
    answer("Say hello.")
    claude.messages.create(model=MODEL, messages=HI, max_tokens=8)
    with claude.messages.stream(model=MODEL, messages=HI, max_tokens=8) as message_stream:
        message_stream.until_done()


if __name__ == "__main__":
    main()
