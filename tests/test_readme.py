"""The README's runnable quickstart runs, and prints what the README says it prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_code() -> str:
    section = README.read_text().split("## Quickstart", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the Quickstart section has no python block"
    return match.group(1)


def test_quickstart_prints_span_event_and_log_record(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", quickstart_code()],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    span = next(r for r in lines if r["signal"] == "span" and r["name"] == "handle-request")
    log = next(r for r in lines if r["signal"] == "log")
    (span_event,) = span["events"]
    assert span_event["name"] == log["event_name"] == "llm_request"
    assert span_event["attributes"] == log["attributes"]
    assert log["attributes"]["user.id"] == "user_123"
    assert log["attributes"]["gen_ai.usage.input_tokens"] == 150
    assert log["body"] == {"model": "gpt-4", "prompt_tokens": 150}
    assert log["trace_id"] == span["trace_id"]
    assert log["span_id"] == span["span_id"]
