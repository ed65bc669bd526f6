"""Cost: ``cost_usd`` on llm_response and the ``multi_llm.client.cost`` counter, from the user's
price table or LiteLLM's bundled map. Every price here is made up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import multi_llm_otel
from multi_llm_otel import _pricing, llm_call
from multi_llm_otel.providers import ResponseInfo
from multi_llm_otel.testing import Captured, capture

REPO = Path(__file__).resolve().parents[1]
TABLE = {
    "models": {
        "m-large": {"input": 2.0, "cached_input": 0.5, "cache_write": 3.0, "output": 8.0},
        "openai/m-large": {"input": 10.0, "output": 10.0},
        "m-plain": {"input": 1.0, "output": 1.0},
    }
}


@pytest.fixture(autouse=True)
def _fresh_prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(_pricing.ENV, raising=False)
    multi_llm_otel.reset_stats()
    _pricing.reset()
    yield
    _pricing.reset()


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    with capture() as captured:
        yield captured


def usage(input_tokens: int, output_tokens: int, read: int | None = None, write: int | None = None) -> dict[str, Any]:
    """An Anthropic-shaped response, whose input excludes the cache (the extractor adds it)."""
    counts: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if read is not None:
        counts["cache_read_input_tokens"] = read
    if write is not None:
        counts["cache_creation_input_tokens"] = write
    return {"type": "message", "id": "msg_1", "model": "m-large", "content": [], "usage": counts}


def per_million(tokens: int, dollars: float) -> float:
    return tokens * dollars / 1e6


def test_each_part_is_priced_at_its_own_rate() -> None:
    price = _pricing.load_table(TABLE)["m-large"]
    info = ResponseInfo(input_tokens=1000, cache_read_tokens=600, cache_write_tokens=100, output_tokens=50)
    cost = _pricing.cost(price, info)
    assert cost is not None
    assert cost.input == pytest.approx(per_million(300, 2.0))
    assert cost.cached_input == pytest.approx(per_million(600, 0.5))
    assert cost.cache_write == pytest.approx(per_million(100, 3.0))
    assert cost.output == pytest.approx(per_million(50, 8.0))
    assert cost.total == pytest.approx(cost.input + cost.cached_input + cost.cache_write + cost.output)


def test_missing_cache_rates_default_to_the_input_rate() -> None:
    price = _pricing.load_table(TABLE)["m-plain"]
    cost = _pricing.cost(price, ResponseInfo(input_tokens=100, cache_read_tokens=40, output_tokens=0))
    assert cost is not None
    assert cost.total == pytest.approx(per_million(100, 1.0))


def test_no_counts_no_cost() -> None:
    price = _pricing.load_table(TABLE)["m-plain"]
    assert _pricing.cost(price, ResponseInfo()) is None


def test_provider_key_wins_and_response_model_comes_first() -> None:
    pricing = _pricing.Pricing(_pricing.load_table(TABLE), use_litellm=False)
    assert pricing.price("openai", ("m-large",)) == _pricing.load_table(TABLE)["openai/m-large"]
    assert pricing.price("anthropic", ("m-large",)) == _pricing.load_table(TABLE)["m-large"]
    assert pricing.price(None, ("m-plain", "m-large")) == _pricing.load_table(TABLE)["m-plain"]
    assert pricing.price(None, (None, "m-large")) == _pricing.load_table(TABLE)["m-large"]
    assert pricing.price(None, ("unknown",)) is None


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({}, "models"),
        ({"models": {"m": {"input": 1.0}}}, "output"),
        ({"models": {"m": {"input": -1.0, "output": 1.0}}}, "input"),
        ({"models": {"m": {"input": "1", "output": 1.0}}}, "input"),
        ({"models": {"m": {"input": 1.0, "output": 1.0, "reasoning": 2.0}}}, "reasoning"),
        ({"models": {"m": [1, 2]}}, "object"),
    ],
)
def test_bad_tables_say_what_is_wrong(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _pricing.load_table(table)


def test_the_decorator_reports_cost_and_counts_it(telemetry: Captured) -> None:
    _pricing.set_prices(TABLE)

    @llm_call(provider="anthropic")
    def ask() -> dict[str, Any]:
        return usage(input_tokens=300, output_tokens=50, read=600, write=100)

    ask()
    (record,) = telemetry.logs("llm_response")
    expected = per_million(300, 2.0) + per_million(600, 0.5) + per_million(100, 3.0) + per_million(50, 8.0)
    assert dict(record.attributes or {})["cost_usd"] == pytest.approx(expected)
    points = telemetry.metrics()["multi_llm.client.cost"]
    by_type = {(p.attributes or {})["multi_llm.cost.type"]: p.value for p in points}
    assert by_type == pytest.approx(
        {
            "input": per_million(300, 2.0),
            "cached_input": per_million(600, 0.5),
            "cache_write": per_million(100, 3.0),
            "output": per_million(50, 8.0),
        }
    )
    attrs = dict(points[0].attributes or {})
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.response.model"] == "m-large"
    assert attrs["multi_llm.event.scope"] == "system"


def test_an_unpriced_model_has_no_cost(telemetry: Captured) -> None:
    _pricing.set_prices(TABLE)

    @llm_call
    def ask() -> dict[str, Any]:
        return {**usage(10, 10), "model": "not-in-the-table"}

    ask()
    (record,) = telemetry.logs("llm_response")
    assert "cost_usd" not in dict(record.attributes or {})
    assert "multi_llm.client.cost" not in telemetry.metrics()


def test_the_environment_names_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, telemetry: Captured) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(TABLE))
    monkeypatch.setenv(_pricing.ENV, str(path))

    @llm_call
    def ask() -> dict[str, Any]:
        return usage(1000, 0)

    ask()
    (record,) = telemetry.logs("llm_response")
    assert dict(record.attributes or {})["cost_usd"] == pytest.approx(per_million(1000, 2.0))


def test_an_unreadable_table_turns_costing_off_and_says_so(tmp_path: Path, telemetry: Captured) -> None:
    path = tmp_path / "prices.json"
    path.write_text("{not json")
    _pricing.set_prices(str(path))

    @llm_call
    def ask() -> dict[str, Any]:
        return usage(1000, 0)

    assert ask()["id"] == "msg_1"
    (record,) = telemetry.logs("llm_response")
    assert "cost_usd" not in dict(record.attributes or {})
    assert multi_llm_otel.stats()["prices_unreadable"] == 1


def test_the_shipped_example_is_a_valid_table() -> None:
    data = json.loads((REPO / "examples" / "prices.example.json").read_text())
    assert "FICTIONAL" in data["description"]
    assert set(_pricing.load_table(data)) == set(data["models"])


def test_litellm_bundled_prices_are_used_without_importing_litellm() -> None:
    """LiteLLM's own JSON (read here to know what to expect) prices a model it knows."""
    pytest.importorskip("litellm", reason="LiteLLM not installed: pip install -e '.[test,litellm]'")
    code = """
import json, sys
from multi_llm_otel import _pricing
from multi_llm_otel.providers import ResponseInfo
info = ResponseInfo(input_tokens=1000, cache_read_tokens=400, output_tokens=100)
cost = _pricing.cost_of("openai", "gpt-4o", info)
print(json.dumps({"litellm_imported": "litellm" in sys.modules, "total": cost and cost.total}))
"""
    env = {k: v for k, v in os.environ.items() if k != _pricing.ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    result = json.loads(out)
    from importlib.util import find_spec

    spec = find_spec("litellm")
    assert spec is not None
    assert spec.origin is not None
    bundled = json.loads((Path(spec.origin).parent / "model_prices_and_context_window_backup.json").read_text())
    entry = bundled["gpt-4o"]
    expected = (
        600 * entry["input_cost_per_token"]
        + 400 * entry["cache_read_input_token_cost"]
        + 100 * entry["output_cost_per_token"]
    )
    assert result == {"litellm_imported": False, "total": pytest.approx(expected)}


def test_prices_false_turns_litellm_prices_off_too() -> None:
    _pricing.set_prices(False)
    info = ResponseInfo(input_tokens=1000, output_tokens=100)
    assert _pricing.cost_of("openai", "gpt-4o", info) is None


def test_importing_the_package_imports_no_pricing_source() -> None:
    code = "import sys, multi_llm_otel; print(sorted(m for m in ('litellm', 'opentelemetry') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_configure_takes_the_prices(tmp_path: Path) -> None:
    code = f"""
import multi_llm_otel
from multi_llm_otel import llm_call
telemetry = multi_llm_otel.configure("svc", sink={str(tmp_path / "out.jsonl")!r}, prices={TABLE!r})

@llm_call(provider="anthropic")
def ask():
    return {usage(1000, 100)!r}

ask()
telemetry.shutdown()
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MULTI_LLM_OTEL_"))}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    (reply,) = [r for r in lines if r.get("event_name") == "llm_response"]
    assert reply["attributes"]["cost_usd"] == pytest.approx(per_million(1000, 2.0) + per_million(100, 8.0))
    assert "multi_llm.client.cost" in json.dumps([r for r in lines if r["signal"] != "log"])
