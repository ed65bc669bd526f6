"""``scripts/local-stack``, run as a user would: it starts the Collector, Jaeger and Prometheus,
a process decorated with ``@llm_call`` sends its calls to the printed OTLP address, the span
shows up in Jaeger's API and the counters in Prometheus, Jaeger sends nothing of its own into
the pipeline, and SIGTERM stops all three.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tests.collector._local_stack import LocalStack, ignores_sigint
from tests.collector._local_stack import children as local_children
from tests.collector._procs import REPO, attributes_dict, get_json, get_text, otlp_spans, wait_until
from tests.collector._stack import Jaeger

pytestmark = pytest.mark.collector


@pytest.fixture(scope="module")
def local_stack(
    otelcol: Path, jaeger: Path, prometheus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    # otelcol, jaeger, prometheus: built or found once per session; the script then finds them cached.
    stack = LocalStack.start(tmp_path_factory.mktemp("local-stack"), "--no-ui")
    try:
        yield stack
    finally:
        stack.kill()


@pytest.fixture(scope="module")
def sent(local_stack: LocalStack) -> dict[str, Any]:
    """Decorated calls (OpenAI-shaped responses, two of them failing) sent to the stack."""
    service = f"local-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.collector._app",
            "--endpoint",
            local_stack.otlp_http_url,
            "--service",
            service,
            "decorated",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    record: dict[str, Any] = json.loads(result.stdout)
    assert record["flushed"]
    assert record["stats"] == {}
    record["service"] = service
    return record


def test_jaeger_accepts_its_local_config_with_the_defaults(jaeger: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAEGER_", "MLO_"))}
    config = REPO / "collector-config" / "local" / "jaeger.yaml"
    result = subprocess.run(
        [jaeger, "validate", "--config", config], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_the_banner_names_the_addresses_a_user_needs(local_stack: LocalStack) -> None:
    banner = local_stack.banner
    assert local_stack.otlp_http_url in banner
    assert local_stack.jaeger_url in banner
    assert local_stack.prometheus_url in banner
    assert "placeholder" in banner  # started with --no-ui, and it says so


def _jaeger_spans(stack: LocalStack, service: str) -> dict[str, dict[str, Any]]:
    now = datetime.now(timezone.utc)
    window = [(now + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for m in (-10, 1)]
    resource_spans = Jaeger("", stack.jaeger_url).traces(service, *window)
    return {s["spanId"]: s for s in otlp_spans([{"resourceSpans": resource_spans}])}


def test_the_decorated_calls_are_in_jaeger_with_their_events(local_stack: LocalStack, sent: dict[str, Any]) -> None:
    want = {s["span_id"]: s for s in sent["spans"]}
    got = wait_until(
        lambda: (spans := _jaeger_spans(local_stack, sent["service"])) and len(spans) >= len(want) and spans,
        60,
        "the calls' spans in Jaeger",
    )
    assert got.keys() == want.keys()
    for span_id, span in want.items():
        have = got[span_id]
        assert have["name"] == span["name"] == "chat gpt-4o"
        assert attributes_dict(have.get("attributes", [])).items() >= span["attributes"].items()
        assert [e["name"] for e in have.get("events", [])] == [e["name"] for e in span["events"]]
    event_names = Counter(e["name"] for s in got.values() for e in s.get("events", []))
    assert event_names["llm_request"] == len(want)
    assert event_names["llm_response"] > 0
    assert event_names["llm_error"] > 0


def _prom(stack: LocalStack, promql: str) -> float | None:
    body = get_json(f"{stack.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_the_counters_are_in_prometheus(local_stack: LocalStack, sent: dict[str, Any]) -> None:
    job = f'job=~".*/{sent["service"]}"'
    counts = Counter(r["event_name"] for r in sent["logs"])
    input_tokens = sum(
        r["attributes"]["gen_ai.usage.input_tokens"] for r in sent["logs"] if r["event_name"] == "llm_response"
    )
    want = {
        f"sum(multi_llm_llm_responses_total{{{job}}})": counts["llm_response"],
        f"sum(multi_llm_llm_errors_total{{{job}}})": counts["llm_error"],
        f"sum(multi_llm_cache_hits_total{{{job}}})": counts["cache_hit"],
        f"sum(multi_llm_cache_misses_total{{{job}}})": counts["cache_miss"],
        f'sum(gen_ai_client_token_usage_sum{{{job},gen_ai_token_type="input"}})': input_tokens,
    }
    assert all(want.values()), want  # every series has something to show

    def scraped() -> dict[str, float | None] | None:
        have = {q: _prom(local_stack, q) for q in want}
        return have if have == want else None

    wait_until(scraped, 60, f"Prometheus to hold {want}")


def test_jaeger_sends_nothing_of_its_own_into_the_pipeline(local_stack: LocalStack, sent: dict[str, Any]) -> None:
    # Anything Jaeger traced about itself would reach the agent (the only OTLP receiver
    # around) and come back to Jaeger as another service.
    wait_until(lambda: _jaeger_spans(local_stack, sent["service"]), 60, "the calls in Jaeger")
    services = get_json(f"{local_stack.jaeger_url}/api/v3/services")["services"]
    assert services == [sent["service"]]
    assert "jaeger" not in get_text(f"{local_stack.prometheus_url}/api/v1/label/job/values")


def test_sigterm_stops_all_three(local_stack: LocalStack, sent: dict[str, Any]) -> None:
    assert local_stack.listening() == list(local_stack.ports)  # all up before
    assert local_stack.stop() == 0
    assert local_stack.listening() == []
    assert "stopped" in local_stack.stderr_path.read_text()


def test_one_server_dying_stops_the_others(otelcol: Path, jaeger: Path, prometheus: Path, tmp_path: Path) -> None:
    stack = LocalStack.start(tmp_path, "--no-ui")
    try:
        assert stack.proc is not None
        children = local_children(stack.proc.pid)
        assert {"jaeger", "prometheus"} <= children.keys()
        os.kill(children["jaeger"], signal.SIGKILL)
        assert stack.proc.wait(60) == 1
        assert stack.listening() == []
        assert "jaeger exited" in stack.stderr_path.read_text()
    finally:
        stack.kill()


def test_ctrl_c_stops_all_three(otelcol: Path, jaeger: Path, prometheus: Path, tmp_path: Path) -> None:
    stack = LocalStack.start(tmp_path, "--no-ui")
    try:
        assert stack.proc is not None
        assert not ignores_sigint(stack.proc.pid), "started as a terminal starts it"
        os.killpg(stack.proc.pid, signal.SIGINT)  # what a terminal sends to its foreground job
        assert stack.proc.wait(60) == 0
        assert stack.listening() == []
        assert "stopped" in stack.stderr_path.read_text()
    finally:
        stack.kill()
