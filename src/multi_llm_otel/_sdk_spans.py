"""One CLIENT span per LLM request when the SDK traces its own calls.

The ``anthropic`` SDK (2.x) starts an ``anthropic.messages.create`` CLIENT span for every
request unless ``ANTHROPIC_OPEN_TELEMETRY=false`` or the client's ``open_telemetry`` option turns
it off. Inside a call of ours that owns a span, that would be a second span for the same request,
with a second set of usage attributes for span-to-metrics pipelines to count.

That span ends inside the SDK call, before the response reaches the caller, so our events cannot
go on it. Instead, for the requests of such a call, the SDK is handed our span in place of the one
it would start: it records onto it what it records (``anthropic.request.id``, ``url.full``,
``http.response.status_code``...) and sends its trace context with the request, but only our call
ends it. Every other request (outside our calls, or under ``own_span=False``, where the SDK's span
is the only one) keeps the SDK's own span.

The SDK offers no per-request switch, so this wraps the module function its clients call to
start the span (``anthropic._base_client.start_api_call_span``); an SDK without it is left alone.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanContext, Status, StatusCode

from multi_llm_otel import _diagnostics
from multi_llm_otel._request_observer import current_call

_MODULE = "anthropic._base_client"
_FUNCTION = "start_api_call_span"
# The spans of inference requests; the SDK's other spans (count_tokens, batches) stay.
_INFERENCE_SPANS = frozenset({"anthropic.messages.create"})
_MARK = "_multi_llm_otel_original"

_lock = threading.Lock()
_done: list[bool] = [False]


def prepare() -> None:
    """Called as each call starts: wraps the SDK's span start once the SDK is imported, whether
    or not the call's client can be seen (a function may make its client inside)."""
    if _done[0] or _MODULE not in sys.modules:
        return
    with _lock:
        if not _done[0]:
            _done[0] = True
            install()


def install() -> bool:
    """Wrap the SDK's span start; true when it is (now or already) wrapped."""
    try:
        module = sys.modules.get(_MODULE) or importlib.import_module(_MODULE)
    except ImportError:
        return False
    original = getattr(module, _FUNCTION, None)
    if original is None:
        return False
    if hasattr(original, _MARK):
        return True
    try:
        setattr(module, _FUNCTION, _lending(original))
    except Exception as exc:  # noqa: BLE001 - two spans are better than a broken SDK
        _diagnostics.report("instrumentation_failed", f"cannot lend our span to the anthropic SDK: {exc}", exc)
        return False
    return True


def uninstall() -> None:
    """Put the SDK's own function back (tests, ``uninstrument()``)."""
    with _lock:
        module = sys.modules.get(_MODULE)
        current = getattr(module, _FUNCTION, None) if module is not None else None
        original = getattr(current, _MARK, None)
        if original is not None:
            setattr(module, _FUNCTION, original)
        _done[0] = False


def _lending(original: Any) -> Any:
    @functools.wraps(original)
    def start_api_call_span(tracer: Any, base_url: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        call = current_call.get()
        if call is not None and call.span is not None and getattr(options, "span_name", None) in _INFERENCE_SPANS:
            return LentSpan(call.span)
        return original(tracer, base_url, options, *args, **kwargs)

    setattr(start_api_call_span, _MARK, original)
    return start_api_call_span


class LentSpan(trace.Span):
    """Our call's span as the SDK sees it: it records onto it, but only the call ends it.

    Writes after the call ended (the SDK reads a stream's end on its own schedule) are dropped,
    rather than warned about by the OpenTelemetry SDK.
    """

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def end(self, end_time: int | None = None) -> None:
        """The call ends the span, once it has the response."""

    def get_span_context(self) -> SpanContext:
        return self._span.get_span_context()

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_attributes(self, attributes: Any) -> None:
        if self._span.is_recording():
            self._span.set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        if self._span.is_recording():
            self._span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        if self._span.is_recording():
            self._span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Any = None) -> None:
        if self._span.is_recording():
            self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        """The span keeps the GenAI name the call gave it."""

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._span.is_recording():
            self._span.set_status(status, description)

    def record_exception(
        self, exception: BaseException, attributes: Any = None, timestamp: int | None = None, escaped: bool = False
    ) -> None:
        if self._span.is_recording():
            self._span.record_exception(exception, attributes, timestamp, escaped)
