"""``multi-llm-otel demo`` with nothing given: the bundled session through the real mapping."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli._helpers import SAMPLE, SAMPLE_EVENTS, clean_env, closed_port, run, sink_records

from multi_llm_otel._emitter import to_unix_nanos
from multi_llm_otel.cli import main
from multi_llm_otel.cli.demo import load_sample

pytestmark = pytest.mark.usefixtures("no_otel_env")


def sample_events() -> list[tuple[dict[str, Any], object]]:
    rows = [json.loads(text) for text in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return [(row.get("event", row), row.get("scope", "System")) for row in rows]


DERIVED = SAMPLE_EVENTS - len(sample_events())


def assert_every_event_shown_as_span_event_and_log_record(out: str) -> None:
    lines = out.splitlines()
    events = sample_events()
    assert sum(1 for text in lines if text.startswith("    span event, ")) == len(events) + DERIVED
    assert sum(1 for text in lines if text.startswith("    log record, ")) == len(events) + DERIVED
    for event, scope in events:
        at = next(i for i, text in enumerate(lines) if f'"{event["id"]}"' in text)
        assert lines[at - 2] == f"  {event['event_type']}  {event['created_at'][:26]}Z", lines[at - 2]
        assert lines[at - 1].startswith("    span event, ")
        log_line = next(text for text in lines[at:] if text.startswith("    log record, "))
        severity = "ERROR" if event["event_type"] == "llm_error" else "INFO"
        assert log_line.startswith(f"    log record, {severity}, event_name {event['event_type']}, same trace and span")
        scope_line = next(text for text in lines[at:] if "multi_llm.event.scope" in text)
        assert ('"system"' if scope == "System" else '"user"') in scope_line


def test_demo_prints_every_sample_event_as_span_event_and_log_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert_every_event_shown_as_span_event_and_log_record(out)
    assert "summary: 24 events in 10 spans became 24 span events and 24 log records" in out
    assert "by scope: user 20 (u-1042, u-1842, u-2210), system 4" in out
    for kind in ("llm_request 9", "llm_response 8", "cache_miss 1", "cache_hit 5", "llm_error 1"):
        assert kind in out


CONSOLE_SCRIPT = Path(sys.executable).with_name("multi-llm-otel")


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "multi_llm_otel.cli", "demo"],
        [sys.executable, "-m", "multi_llm_otel", "demo"],
        pytest.param(
            [str(CONSOLE_SCRIPT), "demo"],
            marks=pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="the package is not installed in this venv"),
        ),
    ],
    ids=["python -m multi_llm_otel.cli", "python -m multi_llm_otel", "console script"],
)
def test_demo_as_a_subprocess(command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, env=clean_env(), timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert_every_event_shown_as_span_event_and_log_record(completed.stdout)


def test_demo_export_sends_the_session_to_the_configured_exporters(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    result = run("demo", "--export", env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    assert result.returncode == 0, result.stderr
    assert f"{SAMPLE_EVENTS} events in 10 spans exported" in result.stderr
    spans = sink_records(sink, "span")
    assert len(spans) == 10
    assert sum(len(s["events"]) for s in spans) == SAMPLE_EVENTS
    assert len(sink_records(sink, "log")) == SAMPLE_EVENTS


def test_demo_export_places_the_session_at_the_current_time_keeping_its_spacing(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    started = time.time_ns()
    result = run("demo", "--export", env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    finished = time.time_ns()
    assert result.returncode == 0, result.stderr
    assert "placed at the current time" in result.stderr
    exported = sorted(r["time_unix_nano"] for r in sink_records(sink, "log"))
    # Derived events (the dialects' cache events) share the time of the event they come from.
    recorded = sorted(to_unix_nanos(event.created_at) for event, _ in load_sample())
    assert len(exported) == len(recorded) == SAMPLE_EVENTS
    shift = {after - before for after, before in zip(exported, recorded, strict=True)}
    assert len(shift) == 1, "every event moved by the same amount: the spacing is kept"
    assert started <= exported[-1] <= finished, "the last event happens during the export"
    span_times = [e["time_unix_nano"] for s in sink_records(sink, "span") for e in s["events"]]
    assert sorted(span_times) == exported


def test_demo_export_failure_exits_3() -> None:
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}", OTEL_EXPORTER_OTLP_TIMEOUT="1")
    result = run("demo", "--export", env=env)
    assert result.returncode == 3
    assert "EXPORT FAILED" in result.stderr


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "--base-url needs --model" in capsys.readouterr().err
    assert main(["demo", "--model", "m"]) == 2
    assert main(["demo", "--export", "--base-url", "http://x", "--model", "m"]) == 2
    assert main(["demo", "--api", "cohere"]) == 2


def test_a_missing_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)
    assert main(["demo", "--api", "anthropic", "--base-url", "http://127.0.0.1:9", "--model", "m"]) == 2
    assert "pip install 'multi-llm-otel[anthropic]'" in capsys.readouterr().err
