"""What a response cost, from a price table the user gives or LiteLLM's bundled price map.

No price is shipped with this library: prices change, differ by contract, and a wrong one is
worse than none. A price table is JSON (a file, or the same structure as a mapping)::

    {"models": {"<model>": {"input": 1.0, "cached_input": 0.1, "cache_write": 1.25, "output": 4.0}}}

in US dollars per million tokens. ``input`` and ``output`` are required; ``cached_input``
(cache reads) and ``cache_write`` (cache creation) default to ``input``. A key may be
``"<provider>/<model>"`` (``gen_ai.provider.name`` as reported) to price one provider's model
apart; it wins over the bare model name. The response model is looked up before the request
model. Without a table of the user's, ``litellm.model_cost`` prices the models it knows when
LiteLLM is installed: read from the running ``litellm`` if the program imported it, else from
the JSON file LiteLLM bundles, without importing LiteLLM (which takes seconds).

The table comes from ``configure(prices=...)``, else from the file named by
``MULTI_LLM_OTEL_PRICES``; ``False`` (or ``MULTI_LLM_OTEL_PRICES=off``) turns costing off.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Union

from multi_llm_otel import _diagnostics
from multi_llm_otel.providers import ResponseInfo

__all__ = ["Cost", "PriceSource", "Pricing", "cost_of", "load_table", "reset", "set_prices"]

ENV = "MULTI_LLM_OTEL_PRICES"
_PER_MILLION = 1e-6
_OFF = frozenset({"off", "false", "0", "none"})

_UNSEEN = object()
_FOUND_SIZE = 4096

PriceSource = Union[str, "os.PathLike[str]", Mapping[str, Any], bool, None]


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per token."""

    input: float
    output: float
    cached_input: float
    cache_write: float


@dataclass(frozen=True, slots=True)
class Cost:
    """One response's cost in US dollars, by what was priced."""

    input: float
    cached_input: float
    cache_write: float
    output: float

    @property
    def total(self) -> float:
        return self.input + self.cached_input + self.cache_write + self.output

    def parts(self) -> tuple[tuple[str, float], ...]:
        return (
            ("input", self.input),
            ("cached_input", self.cached_input),
            ("cache_write", self.cache_write),
            ("output", self.output),
        )


def _rate(value: object, name: str, model: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"price {name!r} of {model!r} must be a non-negative number, not {value!r}")
    return float(value)


def _table_price(model: str, entry: object) -> Price:
    if not isinstance(entry, Mapping):
        raise ValueError(f"the price of {model!r} must be an object")
    unknown = set(entry) - {"input", "output", "cached_input", "cache_write"}
    if unknown:
        raise ValueError(f"unknown price fields for {model!r}: {sorted(unknown)}")
    base = _rate(entry.get("input"), "input", model) * _PER_MILLION
    read = entry.get("cached_input")
    write = entry.get("cache_write")
    return Price(
        input=base,
        output=_rate(entry.get("output"), "output", model) * _PER_MILLION,
        cached_input=base if read is None else _rate(read, "cached_input", model) * _PER_MILLION,
        cache_write=base if write is None else _rate(write, "cache_write", model) * _PER_MILLION,
    )


def load_table(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Price]:
    """A price table from a JSON file or a mapping; ``ValueError`` says what is wrong with it."""
    if isinstance(source, Mapping):
        data: object = source
    else:
        with open(source, encoding="utf-8") as handle:
            data = json.load(handle)
    models = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping):
        raise ValueError('a price table is an object with a "models" object')
    return {str(model): _table_price(str(model), entry) for model, entry in models.items()}


def _litellm_price(entry: object) -> Price | None:
    """One ``litellm.model_cost`` entry (US dollars per token), if it prices tokens."""
    if not isinstance(entry, Mapping):
        return None
    rates = {}
    for ours, theirs in (
        ("input", "input_cost_per_token"),
        ("output", "output_cost_per_token"),
        ("cached_input", "cache_read_input_token_cost"),
        ("cache_write", "cache_creation_input_token_cost"),
    ):
        value = entry.get(theirs)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
            rates[ours] = float(value)
    if "input" not in rates or "output" not in rates:
        return None
    return Price(
        input=rates["input"],
        output=rates["output"],
        cached_input=rates.get("cached_input", rates["input"]),
        cache_write=rates.get("cache_write", rates["input"]),
    )


def _litellm_map() -> Mapping[str, Any] | None:
    module = sys.modules.get("litellm")
    model_cost = getattr(module, "model_cost", None) if module is not None else None
    if isinstance(model_cost, Mapping):
        return model_cost
    try:
        spec = find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    if not bundled.is_file():
        return None
    with open(bundled, encoding="utf-8") as handle:
        data = json.load(handle)
    return data if isinstance(data, Mapping) else None


class Pricing:
    """Prices by model name: the user's table first, then LiteLLM's map (read once, lazily)."""

    def __init__(self, table: Mapping[str, Price] | None, use_litellm: bool) -> None:
        self._table = dict(table or {})
        self._use_litellm = use_litellm
        self._litellm: Mapping[str, Any] | None = None
        self._litellm_read = False
        self._lock = threading.Lock()
        self._found: dict[tuple[str | None, tuple[str | None, ...]], Price | None] = {}

    def _from_litellm(self, model: str) -> Price | None:
        if not self._use_litellm:
            return None
        if not self._litellm_read:
            with self._lock:
                if not self._litellm_read:
                    try:
                        self._litellm = _litellm_map()
                    except Exception as exc:  # noqa: BLE001 - no prices is a result, not a failure
                        _diagnostics.report("prices_unreadable", f"LiteLLM's price map: {exc}", exc)
                    self._litellm_read = True
        prices = self._litellm
        return _litellm_price(prices.get(model)) if prices is not None else None

    def price(self, provider: str | None, models: tuple[str | None, ...]) -> Price | None:
        if not self._table and not self._use_litellm:
            return None
        key = (provider, models)
        found = self._found.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._look_up(provider, models)
            # Bounded: model names come from responses, which a program does not control.
            if len(self._found) < _FOUND_SIZE:
                self._found[key] = found
        return found  # type: ignore[return-value]

    def _look_up(self, provider: str | None, models: tuple[str | None, ...]) -> Price | None:
        names = [m for m in models if m]
        keys = [f"{provider}/{m}" for m in names] + names if provider else names
        for key in keys:
            found = self._table.get(key)
            if found is not None:
                return found
        # LiteLLM's own keys: bare names, and "<route>/<name>" as its users write models.
        routed = [name.partition("/")[2] for name in names if "/" in name]
        for key in names + routed:
            found = self._from_litellm(key)
            if found is not None:
                return found
        return None


def cost(price: Price, info: ResponseInfo) -> Cost | None:
    """``input_tokens`` holds the cache reads and writes (the GenAI conventions' count), so the
    uncached input is what is left of it; each part is priced at its own rate."""
    if info.input_tokens is None and info.output_tokens is None:
        return None
    read = info.cache_read_tokens or 0
    write = info.cache_write_tokens or 0
    uncached = max((info.input_tokens or 0) - read - write, 0)
    return Cost(
        input=uncached * price.input,
        cached_input=read * price.cached_input,
        cache_write=write * price.cache_write,
        output=(info.output_tokens or 0) * price.output,
    )


_lock = threading.Lock()
_active: list[Pricing] = []


def set_prices(source: PriceSource) -> None:
    """Install the prices ``configure(prices=...)`` was given (``None``: the environment's).

    A table that cannot be read is reported (``prices_unreadable``) and costing is then off
    altogether: a cost from another source than the one the user chose would mislead."""
    with _lock:
        _active[:] = [_build_or_off(source)]


def _build_or_off(source: PriceSource) -> Pricing:
    try:
        return _build(source)
    except Exception as exc:  # noqa: BLE001 - a bad table must not stop the program
        where = source if isinstance(source, (str, os.PathLike)) else os.environ.get(ENV) or "the table"
        _diagnostics.report("prices_unreadable", f"{where}: {exc}; no costs are computed", exc)
        return Pricing(None, use_litellm=False)


def _build(source: PriceSource) -> Pricing:
    if source is None:
        source = os.environ.get(ENV, "").strip() or None
        if isinstance(source, str) and source.lower() in _OFF:
            source = False
    if source is False:
        return Pricing(None, use_litellm=False)
    if source is None or source is True:
        return Pricing(None, use_litellm=True)
    return Pricing(load_table(source), use_litellm=True)


def _pricing() -> Pricing:
    if _active:
        return _active[0]
    with _lock:
        if not _active:
            _active.append(_build_or_off(None))
        return _active[0]


def cost_of(provider: str | None, request_model: str | None, info: ResponseInfo) -> Cost | None:
    """The cost of one response, or ``None`` when no price is known for its model."""
    try:
        price = _pricing().price(provider, (info.response_model, request_model))
        return cost(price, info) if price is not None else None
    except Exception as exc:  # noqa: BLE001 - costing must never stop the telemetry
        _diagnostics.report("cost_failed", str(exc), exc)
        return None


def reset() -> None:
    """Forget the installed prices: the next call reads the environment again."""
    with _lock:
        _active.clear()
