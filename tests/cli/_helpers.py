"""Helpers for driving the ``multi-llm-otel`` command as a subprocess and faking its endpoints."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multi_llm_otel._serde_lines import parse_events

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "multi_llm_otel" / "data" / "sample-events.jsonl"
SAMPLE_LINES = len(SAMPLE.read_text(encoding="utf-8").splitlines())
# The crate's Anthropic responses report cache tokens: ingest adds a derived cache event for each.
SAMPLE_EVENTS = sum(len(parse_events(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines())


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any telemetry configuration, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MULTI_LLM_OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "multi_llm_otel.cli", *args]


def run(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cli(*args), input=stdin, capture_output=True, env=env or clean_env(), timeout=timeout, check=False
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def sink_records(path: Path, signal: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if r["signal"] == signal]


def wait_for(condition: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeReceiver:
    """A tiny HTTP server standing in for an OTLP/HTTP receiver: answers every POST with ``status``."""

    status: int = 200
    requests: list[Request] = field(default_factory=list)
    url: str = ""
