"""`multi-llm-otel demo --base-url`: the quickstart's live mode against the real llama-server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests.llm._assertions import MODEL

pytestmark = pytest.mark.llm


@pytest.mark.parametrize(("api", "suffix"), [("openai", "/v1"), ("anthropic", "")])
def test_demo_makes_real_decorated_calls(llama_server: str, api: str, suffix: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "multi_llm_otel",
            "demo",
            "--base-url",
            llama_server + suffix,
            "--api",
            api,
            "--model",
            MODEL,
            "--max-tokens",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for name in ("llm_request", "llm_response", "cache_hit", "gen_ai.client.token.usage"):
        assert name in out, name
    assert out.count(f"chat {MODEL}") >= 3, "three calls, three client spans"


def test_demo_against_a_closed_port_fails_clearly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "multi_llm_otel", "demo", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "llm_error" in result.stdout + result.stderr or "APIConnectionError" in result.stdout + result.stderr
