"""The README's pictures: Jaeger's UI showing a real decorated call, and Prometheus' graph of
the token and cache counters, captured with headless Chromium (Debian's package) through
Playwright's driver.

    python -m tests.collector._pictures capture --out docs/images     # what scripts/stack-pictures runs
    python -m tests.collector._pictures call --endpoint URL --service S --llama-url URL

``capture`` starts llama-server and ``scripts/local-stack`` (with Jaeger's UI), makes the
calls in a separate process (``configure()`` is once per process), waits until Jaeger and
Prometheus hold them, and takes the pictures. ``tests/collector/test_local_stack_pictures.py``
runs the same steps into a temporary directory and checks what the pages show.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests._servers import llama_server_process, running
from tests.collector._local_stack import LocalStack
from tests.collector._procs import REPO, attributes_dict, get_json, otlp_spans, wait_until
from tests.collector._stack import Jaeger

USER = "u-1842"
MODEL = "gemma-3-270m"
# Graph panels: tokens by type; cache hits and misses.
PROMQL = (
    "sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum)",
    'sum by (__name__) ({__name__=~"multi_llm_cache_(hits|misses)_total"})',
)
VIEWPORT = {"width": 1400, "height": 2400}


def call(endpoint: str, service: str, llama_url: str, rounds: int = 3, pause: float = 5.0) -> dict[str, Any]:
    """Real calls through the OpenAI SDK under ``@llm_call``, all with one long prompt prefix,
    so llama-server's prompt cache misses first, then hits. Returns the last call's ids and
    how many calls there were."""
    import openai
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import multi_llm_otel
    from multi_llm_otel import EventScope, llm_call

    telemetry = multi_llm_otel.configure(service_name=service, endpoint=endpoint, protocol="http/protobuf")
    spans = InMemorySpanExporter()
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    client = openai.OpenAI(base_url=f"{llama_url}/v1", api_key="unused", max_retries=2)

    @llm_call(scope=lambda question: EventScope.user(USER))
    def answer(question: str) -> Any:
        system = "You are a terse assistant. " + " ".join(f"Rule {i}: answer in one word." for i in range(60))
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        return client.chat.completions.create(model=MODEL, max_tokens=8, messages=messages)  # type: ignore[arg-type]

    # Each request handler's span holds two calls; a few requests apart, so the graphs step.
    tracer = telemetry.tracer_provider.get_tracer("support-bot")
    for i in range(rounds):
        if i:
            time.sleep(pause)
        with tracer.start_as_current_span("POST /support/ask"):
            answer("Which colour is the sky?")
            answer("Which colour is grass?")
    telemetry.force_flush()
    telemetry.shutdown()
    last = [s for s in spans.get_finished_spans() if s.name.startswith("chat")][-1]
    return {
        "trace_id": f"{last.context.trace_id:032x}",
        "span_id": f"{last.context.span_id:016x}",
        "name": last.name,
        "calls": 2 * rounds,
        "events": [e.name for e in last.events],
        "stats": multi_llm_otel.stats(),
    }


@dataclass
class Captured:
    jaeger_png: Path
    prometheus_png: Path
    jaeger_text: str
    prometheus_text: str


def capture(jaeger_url: str, prometheus_url: str, trace_id: str, out: Path) -> Captured:
    """Screenshots of the trace (the call's span opened, its attributes and events expanded)
    and of Prometheus' graph page; the visible text of each, for checking."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("chromium is not installed (scripts/install-chromium.sh)")
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            page.goto(f"{jaeger_url}/trace/{trace_id}", wait_until="networkidle")
            # Open the second call's span (its prompt prefix was cached), then its attributes
            # ("Tags") and each of its events ("Logs").
            page.locator(".span-name", has_text="chat").last.click()
            page.locator(".AccordianKeyValues--header", has_text="Tags").first.click()
            events = page.locator(".AccordianLogs--content .AccordianKeyValues--header")
            for i in range(events.count()):
                events.nth(i).click()
            page.wait_for_timeout(500)
            # The trace view scrolls inside its own pane: a tall window, cut below the events.
            bottom = page.locator(".AccordianLogs").first.bounding_box()
            assert bottom is not None
            jaeger_png = out / "jaeger-trace.png"
            clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": bottom["y"] + bottom["height"] + 24}
            page.screenshot(path=str(jaeger_png), clip=clip)  # type: ignore[arg-type]
            jaeger_text = page.inner_text("body")

            page.set_viewport_size({"width": VIEWPORT["width"], "height": 900})
            query = {}
            for i, expr in enumerate(PROMQL):
                query |= {f"g{i}.expr": expr, f"g{i}.tab": "0", f"g{i}.range_input": "1m", f"g{i}.stacked": "0"}
            page.goto(f"{prometheus_url}/graph?{urllib.parse.urlencode(query)}", wait_until="networkidle")
            page.wait_for_function(f"document.querySelectorAll('.legend').length >= {len(PROMQL)}", timeout=30_000)
            page.wait_for_timeout(1000)
            prometheus_png = out / "prometheus-graph.png"
            page.screenshot(path=str(prometheus_png), full_page=True)
            prometheus_text = page.inner_text("body")
        finally:
            browser.close()
    return Captured(jaeger_png, prometheus_png, jaeger_text, prometheus_text)


def run_call(stack: LocalStack, service: str, llama_url: str) -> dict[str, Any]:
    # Metrics every second rather than every minute, so the graphs step with the calls.
    env = {**os.environ, "OTEL_METRIC_EXPORT_INTERVAL": "1000"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.collector._pictures",
            "call",
            "--endpoint",
            stack.otlp_http_url,
            "--service",
            service,
            "--llama-url",
            llama_url,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
        timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the calling process failed:\n{result.stderr[-4000:]}")
    made: dict[str, Any] = json.loads(result.stdout)
    return made


def stored_span(stack: LocalStack, service: str, span_id: str) -> dict[str, Any] | None:
    now = datetime.now(timezone.utc)
    window = [(now + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for m in (-10, 1)]
    spans = otlp_spans([{"resourceSpans": Jaeger("", stack.jaeger_url).traces(service, *window)}])
    return next((s for s in spans if s["spanId"] == span_id), None)


def prometheus_value(stack: LocalStack, promql: str) -> float | None:
    body = get_json(f"{stack.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def wait_stored(stack: LocalStack, service: str, made: dict[str, Any]) -> dict[str, Any]:
    """The call's span from Jaeger, once Prometheus has scraped its counters too."""
    span: dict[str, Any] = wait_until(lambda: stored_span(stack, service, made["span_id"]), 60, "the call in Jaeger")
    job = f'job=~".*/{service}"'

    def counted() -> bool:
        hits = prometheus_value(stack, f"sum(multi_llm_cache_hits_total{{{job}}})") or 0
        misses = prometheus_value(stack, f"sum(multi_llm_cache_misses_total{{{job}}})") or 0
        return hits >= 1 and hits + misses == made["calls"]

    wait_until(counted, 60, "the cache counters in Prometheus")
    return span


@contextlib.contextmanager
def llama_server(root: Path) -> Iterator[str]:
    """llama-server with the test model, built or found by the project's scripts."""

    def script(name: str) -> str:
        done = subprocess.run(["bash", str(REPO / "scripts" / name)], capture_output=True, text=True, check=True)
        return done.stdout.strip().splitlines()[-1]

    build = Path(script("build-llama-server.sh"))
    model = Path(script("fetch-model.sh"))
    # --alias: the model's name in responses, not its file's path.
    server, base, ready = llama_server_process(build, model, root / "llama-server.log", ["--alias", MODEL])
    with running(server, ready, timeout=120):
        yield base


def capture_all(
    out: Path, work: Path, ui_assets: Path, llama_url: str
) -> tuple[Captured, dict[str, Any], dict[str, Any]]:
    """Everything ``capture`` does; returns the pictures, the call made and its span in Jaeger."""
    service = "support-bot"
    stack = LocalStack.start(work / "stack", ui_assets=ui_assets)
    try:
        made = run_call(stack, service, llama_url)
        span = wait_stored(stack, service, made)
        captured = capture(stack.jaeger_url, stack.prometheus_url, made["trace_id"], out)
    finally:
        stack.kill()
    return captured, made, span


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    cap.add_argument("--ui-assets", type=Path, required=True)
    one = sub.add_parser("call")
    one.add_argument("--endpoint", required=True)
    one.add_argument("--service", required=True)
    one.add_argument("--llama-url", required=True)
    one.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "call":
        json.dump(call(args.endpoint, args.service, args.llama_url, args.rounds), sys.stdout)
        return 0
    with tempfile.TemporaryDirectory(prefix="stack-pictures-") as work, llama_server(Path(work)) as llama_url:
        captured, made, span = capture_all(args.out, Path(work), args.ui_assets, llama_url)
    attrs = attributes_dict(span.get("attributes", []))
    print(f"{captured.jaeger_png}\n{captured.prometheus_png}")
    print(f"span {made['name']} {made['span_id']}: events {made['events']}, {len(attrs)} attributes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
