"""multi-llm-otel: the OpenTelemetry bridge for LLM business events.

``import multi_llm_otel`` loads only the event model; the OpenTelemetry parts load on first
use, so importing the package costs a program almost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multi_llm_otel import event_types
from multi_llm_otel._diagnostics import reset_stats, stats
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._scope_binding import bind_scope, current_scope
from multi_llm_otel._version import __version__

if TYPE_CHECKING:
    from multi_llm_otel._decorator import llm_call, record_cache
    from multi_llm_otel._emitter import Emitter, emit
    from multi_llm_otel._instrument import instrument, uninstrument
    from multi_llm_otel._setup import Telemetry, configure
    from multi_llm_otel._span_event_bridge import EventToSpanEventBridge

__all__ = [
    "BusinessEvent",
    "Emitter",
    "EventScope",
    "EventToSpanEventBridge",
    "Telemetry",
    "__version__",
    "bind_scope",
    "configure",
    "current_scope",
    "emit",
    "event_types",
    "instrument",
    "llm_call",
    "record_cache",
    "reset_stats",
    "stats",
    "uninstrument",
]

_LAZY = {
    "Emitter": "multi_llm_otel._emitter",
    "emit": "multi_llm_otel._emitter",
    "EventToSpanEventBridge": "multi_llm_otel._span_event_bridge",
    "Telemetry": "multi_llm_otel._setup",
    "configure": "multi_llm_otel._setup",
    "instrument": "multi_llm_otel._instrument",
    "uninstrument": "multi_llm_otel._instrument",
    "llm_call": "multi_llm_otel._decorator",
    "record_cache": "multi_llm_otel._decorator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'multi_llm_otel' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
