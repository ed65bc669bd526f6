"""Running the Rust producer (examples/rust-service) and its reader of the crate's JSON."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.llm._assertions import MODEL

USER = "u-rust-7"
SESSION = "sess-rust-1"
LLM_PATH = "chat"
PROMPT = "Name three colours."
MAX_TOKENS = 8
CALLS = 2


@dataclass(frozen=True)
class RustRun:
    lines: list[str]
    # One summary per call, in call order: {"provider", "usage": {prompt_tokens, completion_tokens}}.
    calls: list[dict[str, Any]]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


def produce(binary: Path, base_url: str, *extra: str) -> RustRun:
    result = subprocess.run(
        [
            str(binary),
            "produce",
            "--base-url",
            base_url,
            "--model",
            MODEL,
            "--providers",
            "openai,anthropic",
            "--user-id",
            USER,
            "--session-id",
            SESSION,
            "--llm-path",
            LLM_PATH,
            "--prompt",
            PROMPT,
            "--max-tokens",
            str(MAX_TOKENS),
            "--calls",
            str(CALLS),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in result.stderr.split("\n") if line.startswith("{")]
    return RustRun(result.stdout.split("\n")[:-1], calls)


def read_back(binary: Path, lines: list[str], *flags: str) -> list[dict[str, Any]]:
    """The crate's own deserializer on each line: ``{"ok": true, "json": ...}`` or ``{"ok": false, "error": ...}``."""
    result = subprocess.run(
        [str(binary), "read", *flags],
        input="".join(line + "\n" for line in lines).encode("utf-8"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Split on newlines only: serde leaves U+0085 and U+2028 unescaped, and splitlines() splits there.
    reports = [json.loads(line) for line in result.stdout.decode("utf-8").split("\n") if line]
    assert len(reports) == len(lines)
    return reports
