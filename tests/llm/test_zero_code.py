"""Zero-code: ``opentelemetry-instrument python app.py`` against the real llama-server, with an
application that never configures OpenTelemetry (tests/llm/zero_code_app.py). The launcher finds
the library through its ``opentelemetry_instrumentor`` entry point; the run exports to the
JSON-lines sink (``MULTI_LLM_OTEL_SINK``) and the test reads that file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.llm._assertions import MODEL

pytestmark = pytest.mark.llm

APP = Path(__file__).with_name("zero_code_app.py")
# chat, chat stream, Responses, async chat, decorated function, Anthropic create, Anthropic stream
REQUESTS = 7


def run_instrumented(llama_server: str, tmp_path: Path, sdk_tracing: bool) -> list[dict[str, Any]]:
    launcher = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert launcher is not None, "the instrument extra installs the launcher"
    sink = tmp_path / "telemetry.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_", "MULTI_LLM_OTEL_"))}
    env.update(MULTI_LLM_OTEL_SINK=str(sink), OTEL_SERVICE_NAME="zero-code-app", PYTHONPATH=str(APP.parent))
    if not sdk_tracing:
        env["ANTHROPIC_OPEN_TELEMETRY"] = "false"
    result = subprocess.run(
        [launcher, sys.executable, str(APP), llama_server], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return [json.loads(line) for line in sink.read_text().splitlines()]


@pytest.mark.parametrize("sdk_tracing", [True, False], ids=["anthropic-tracing-on", "anthropic-tracing-off"])
def test_the_launcher_instruments_every_call_once(llama_server: str, tmp_path: Path, sdk_tracing: bool) -> None:
    records = run_instrumented(llama_server, tmp_path, sdk_tracing)
    spans = [r for r in records if r["signal"] == "span"]
    logs = [r for r in records if r["signal"] == "log"]

    assert [s["name"] for s in spans] == [f"chat {MODEL}"] * REQUESTS, "one CLIENT span per request, none of the SDK's"
    assert {s["kind"] for s in spans} == {"CLIENT"}
    names = Counter(r["event_name"] for r in logs)
    assert (names["llm_request"], names["llm_response"]) == (REQUESTS, REQUESTS)
    for span in spans:
        attrs = span["attributes"]
        assert attrs["gen_ai.request.model"] == MODEL
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["server.address"] == "127.0.0.1"
        events = [e["name"] for e in span["events"]]
        assert events[:2] == ["llm_request", "llm_response"]
        mine = [r for r in logs if r["span_id"] == span["span_id"]]
        assert [r["event_name"] for r in mine] == events, "every span event has its log record"

    # The Anthropic requests: with its tracing on, the SDK recorded onto our span.
    recorded_by_sdk = [s["attributes"].get("http.response.status_code") for s in spans[-2:]]
    assert recorded_by_sdk == ([200, 200] if sdk_tracing else [None, None])

    streamed = [s for s in spans if s["attributes"].get("multi_llm.stream.completed")]
    assert len(streamed) == 2, "the OpenAI stream and the Anthropic stream, read to their ends"
    requests = [r for r in logs if r["event_name"] == "llm_request"]
    assert [r["attributes"].get("user.id") for r in requests].count("zero-code-user") == 1, "bind_scope reaches it"

    # Cumulative points, exported periodically and at exit: the last one of each series counts.
    last: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["signal"] == "metric" and record["name"] == "gen_ai.client.token.usage":
            last[json.dumps(record["attributes"], sort_keys=True)] = record
    output_points = [p for p in last.values() if p["attributes"]["gen_ai.token.type"] == "output"]
    assert sum(p["count"] for p in output_points) == REQUESTS, "tokens recorded once per request"
    assert sum(p["sum"] for p in output_points) == sum(s["attributes"]["gen_ai.usage.output_tokens"] for s in spans)
