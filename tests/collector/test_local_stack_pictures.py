"""The README's pictures, taken the way ``scripts/stack-pictures`` takes them: real decorated
calls to llama-server through ``scripts/local-stack``, then headless Chromium on Jaeger's UI
and Prometheus' graph page. Checks that the pages show the call: its span, every event and
the attributes Jaeger stored, and the token and cache series.

Needs Jaeger's UI assets, which no package registry carries (scripts/build-jaeger-ui.sh
builds them from the jaeger-ui source): without them in the cache this test is skipped.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from tests.collector._pictures import PROMQL, capture_all
from tests.collector._procs import attributes_dict

pytestmark = [pytest.mark.collector, pytest.mark.llm]

UI_VERSION = "v1.76.0"  # the jaeger-ui tag of Jaeger v1.76.0 (scripts/build-jaeger-ui.sh)
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "multi-llm-otel"
UI_ASSETS = CACHE / f"jaeger-ui-{UI_VERSION}" / "assets"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_pictures_show_the_call_its_events_attributes_and_counters(
    otelcol: Path, jaeger: Path, prometheus: Path, llama_server: str, tmp_path: Path
) -> None:
    if not (UI_ASSETS / "index.html").is_file():
        pytest.skip(f"Jaeger's UI is not built ({UI_ASSETS}): see scripts/build-jaeger-ui.sh")
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed: scripts/install-chromium.sh")

    captured, made, span = capture_all(tmp_path / "images", tmp_path / "work", UI_ASSETS, llama_server)

    assert made["stats"] == {}
    assert {"llm_request", "llm_response"} <= set(made["events"])
    page = captured.jaeger_text
    assert "not the Jaeger UI" not in page  # the built UI, not the Go module's placeholder
    assert "POST /support/ask" in page
    for event in span.get("events", []):
        assert event["name"] in page
    attributes = attributes_dict(span.get("attributes", []))
    for key in ("gen_ai.provider.name", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "user.id"):
        assert key in page
        assert str(attributes[key]) in page
    assert "Logs (" in page  # the events' section, opened

    graphs = captured.prometheus_text
    assert 'gen_ai_token_type="input"' in graphs
    assert 'gen_ai_token_type="output"' in graphs
    assert "multi_llm_cache_hits_total" in graphs
    assert "multi_llm_cache_misses_total" in graphs
    assert graphs.count("Total time series: 2") == len(PROMQL)  # every panel drew its two series

    for png in (captured.jaeger_png, captured.prometheus_png):
        width, height = _png_size(png)
        assert width >= 1400
        assert height >= 800
