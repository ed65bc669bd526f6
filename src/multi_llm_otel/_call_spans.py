"""The call spans of the Rust ``multi-llm`` crate, rebuilt from its events by ``ingest``.

The crate records no spans: a Rust service's calls would reach Jaeger only as loose log
records. Each crate call returns its ``llm_request`` and then its ``llm_response`` (or
``llm_error``) together, with the same provider and user, so ``ingest`` pairs them in order
and makes the one CLIENT span the decorator would have made for that call: named
``chat <model>``, ended at the response's ``created_at`` and started ``duration_ms`` earlier,
with the decorator's span attributes (token totals as the ``_dialects`` table counts them) and
``multi_llm.span.reconstructed = true``. The call's events, the derived cache event included,
are emitted in that span's context, so the span event bridge puts them on it.

Only the crate's events are paired. Lines written from this library's decorator carry no trace
context either, but their calls already had a span in the process that ran them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from multi_llm_otel import _attribute_names as names
from multi_llm_otel import event_types
from multi_llm_otel._dialects import from_crate
from multi_llm_otel._emitter import Emitter, to_unix_nanos
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._json_value import JSONValue, _clean_str
from multi_llm_otel._mapping import scope_attributes
from multi_llm_otel._span_event_bridge import EventToSpanEventBridge
from multi_llm_otel.providers._base import error_message

if TYPE_CHECKING:
    from opentelemetry.context import Context

__all__ = ["OPERATION", "CallSpanBridge", "CallSpans", "is_crate_call_event"]

# ``execute_llm`` / ``execute_structured_llm`` are chat completions on every provider.
OPERATION: Final = "chat"

# (where, event, scope, context): one event ready to emit, and the span context it belongs to.
Emit = Callable[[str, BusinessEvent, EventScope, "Context | None"], object]
_Key = tuple[str, str | None]


def _int(value: JSONValue | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_crate_call_event(event: BusinessEvent) -> bool:
    """An ``llm_request``, ``llm_response`` or ``llm_error`` in the crate's own form: the
    decorator's request says its ``operation``, its response has a fractional ``duration_ms``
    and its error an ``error_type`` of its own instead of the crate's ``error`` text."""
    meta = event.metadata
    kind = event.event_type
    if kind == event_types.LLM_REQUEST:
        return "operation" not in meta and "stream" not in meta and isinstance(meta.get("provider"), str)
    if kind == event_types.LLM_RESPONSE:
        return from_crate(meta)
    if kind == event_types.LLM_ERROR:
        return isinstance(meta.get("error"), str) and "operation" not in meta
    return False


@dataclass
class _Held:
    where: str
    event: BusinessEvent
    scope: EventScope
    since: float = field(default_factory=time.monotonic)


def _key(event: BusinessEvent, scope: EventScope) -> _Key:
    provider = event.metadata.get("provider")
    return (provider if isinstance(provider, str) else "", scope.user_id)


class CallSpanBridge(EventToSpanEventBridge):
    """The span event bridge of ``ingest``: there, most events belong to no span (the
    decorator's, and every event with ``--no-spans``), which is expected, not worth a count."""

    _counts_lone_events = False


class CallSpans:
    """Pairs the crate's call events of one input and emits each call inside its span."""

    def __init__(self, emitter: Emitter, emit: Emit) -> None:
        self.emitter = emitter
        self.emit = emit
        self.spans = 0
        self._held: dict[_Key, list[_Held]] = {}

    def take(self, where: str, events: list[tuple[BusinessEvent, EventScope]]) -> None:
        """The events of one line: a crate request waits for its call's end; a crate response
        or error ends its call, in a span, with the events derived from it; others pass."""
        index = 0
        while index < len(events):
            event, scope = events[index]
            index += 1
            if not is_crate_call_event(event):
                self.emit(where, event, scope, None)
            elif event.event_type == event_types.LLM_REQUEST:
                self._held.setdefault(_key(event, scope), []).append(_Held(where, event, scope))
            else:
                derived = []
                while index < len(events) and events[index][0].metadata.get("derived_from") == str(event.id):
                    derived.append(events[index])
                    index += 1
                self._end_call(where, event, scope, derived)

    def release(self, older_than: float = 0.0) -> None:
        """Emit, without a span, the requests whose call end has not come within ``older_than``
        seconds (at the end of the input: all of them)."""
        now = time.monotonic()
        for key in list(self._held):
            waiting = self._held[key]
            due = [h for h in waiting if now - h.since >= older_than]
            for held in due:
                self.emit(held.where, held.event, held.scope, None)
            waiting[:] = [h for h in waiting if h not in due]
            if not waiting:
                del self._held[key]

    def _end_call(
        self, where: str, end: BusinessEvent, scope: EventScope, derived: list[tuple[BusinessEvent, EventScope]]
    ) -> None:
        waiting = self._held.get(_key(end, scope))
        request = waiting.pop(0) if waiting else None
        if waiting is not None and not waiting:
            del self._held[_key(end, scope)]
        meta = end.metadata
        end_ns = to_unix_nanos(end.created_at)
        duration_ms = _int(meta.get("duration_ms"))
        if duration_ms is not None:
            start_ns = end_ns - duration_ms * 1_000_000
        elif request is not None:
            start_ns = min(end_ns, to_unix_nanos(request.event.created_at))
        else:
            start_ns = end_ns
        model = request.event.metadata.get("model") if request is not None else None
        if not isinstance(model, str):
            model = meta.get("model") if isinstance(meta.get("model"), str) else None
        attrs: dict[str, Any] = {names.OPERATION_NAME: OPERATION, names.SPAN_RECONSTRUCTED: True}
        provider = meta.get("provider")
        if isinstance(provider, str):
            attrs[names.PROVIDER_NAME] = provider
        if isinstance(model, str):
            attrs[names.REQUEST_MODEL] = model
        attrs.update(scope_attributes(scope, self.emitter.user_id_hash_key))
        name = _clean_str(f"{OPERATION} {model}" if isinstance(model, str) else OPERATION)
        span = self.emitter.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs, start_time=start_ns)
        self.spans += 1
        context = trace.set_span_in_context(span)
        try:
            if request is not None:
                self.emit(request.where, request.event, request.scope, context)
            self.emit(where, end, scope, context)
            for event, its_scope in derived:
                self.emit(where, event, its_scope, context)
            span.set_attributes(self._end_attributes(end))
            if end.event_type == event_types.LLM_ERROR:
                span.set_status(Status(StatusCode.ERROR, error_message(str(meta.get("message", "")))))
        finally:
            span.end(end_time=end_ns)
        self._record_metrics(attrs, end, duration_ms)

    @staticmethod
    def _end_attributes(end: BusinessEvent) -> dict[str, Any]:
        meta = end.metadata
        attrs: dict[str, Any] = {}
        if end.event_type == event_types.LLM_ERROR:
            error_type = meta.get("error_type")
            if isinstance(error_type, str):
                attrs[names.ERROR_TYPE] = error_type
            return attrs
        # The dialect table's input total (Anthropic's cached prefix counted in) wins.
        total = _int(meta.get(names.USAGE_INPUT_TOKENS))
        counts = (
            (names.USAGE_INPUT_TOKENS, total if total is not None else _int(meta.get("input_tokens"))),
            (names.USAGE_OUTPUT_TOKENS, _int(meta.get("output_tokens"))),
            (names.USAGE_CACHE_READ_TOKENS, _int(meta.get("cache_read_tokens"))),
            (names.USAGE_CACHE_WRITE_TOKENS, _int(meta.get("cache_creation_tokens"))),
        )
        attrs.update((name, value) for name, value in counts if value is not None)
        return attrs

    def _record_metrics(self, span_attrs: dict[str, Any], end: BusinessEvent, duration_ms: int | None) -> None:
        """The decorator's call metrics, for a call that reported its duration."""
        if duration_ms is None:
            return
        attrs = {
            k: v
            for k, v in span_attrs.items()
            if k in (names.OPERATION_NAME, names.PROVIDER_NAME, names.REQUEST_MODEL, names.EVENT_SCOPE)
        }
        counts = self._end_attributes(end)
        self.emitter.metrics.record(
            attrs,
            duration_ms / 1000,
            None,
            counts.get(names.USAGE_INPUT_TOKENS),
            counts.get(names.USAGE_OUTPUT_TOKENS),
        )
