"""One instrumented LLM call: its span, its events and its metrics, from start to a single end.

A ``Call`` never makes its span current. Everything that must land under the span is given
the span explicitly, so a stream consumed later, in another task or not at all, cannot leave
a context attached or attach telemetry of unrelated code to this call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from multi_llm_otel import _diagnostics, _pricing, event_types, providers
from multi_llm_otel._content_capture import bounded
from multi_llm_otel._emitter import Emitter
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._json_value import _clean_str
from multi_llm_otel._mapping import scope_attributes
from multi_llm_otel.providers import ErrorInfo, Extractor, RequestInfo, ResponseInfo, StreamAccumulator
from multi_llm_otel.providers._base import MESSAGE_LIMIT, error_message

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span


class Call:
    """The state of one call; ``finish``/``fail`` end it exactly once, from any thread."""

    __slots__ = (
        "_done",
        "_lock",
        "accumulator",
        "app_cache",
        "capture_content",
        "chunks",
        "context",
        "emitter",
        "extractor",
        "fallback_provider",
        "first_chunk_at",
        "metric_attrs",
        "model",
        "operation",
        "provider",
        "request",
        "scope",
        "span",
        "start",
        "stream",
    )

    def __init__(
        self,
        emitter: Emitter,
        *,
        provider: str | None,
        fallback_provider: str | None,
        model: str | None,
        operation: str,
        scope: EventScope,
        request: RequestInfo,
        extractor: Extractor | None,
        server_address: str | None,
        server_port: int | None,
        capture_content: bool,
        own_span: bool,
    ) -> None:
        self.emitter = emitter
        self.provider = provider
        self.fallback_provider = fallback_provider
        self.model = model
        self.operation = operation
        self.scope = scope
        self.request = request
        self.extractor = extractor
        self.capture_content = capture_content
        self.stream = request.stream
        self.accumulator: StreamAccumulator | None = None
        self.chunks = 0
        self.context: Context | None = None
        self.first_chunk_at: float | None = None
        self.app_cache: bool | None = None
        self._done = False
        self._lock = threading.Lock()
        attrs: dict[str, Any] = {"gen_ai.operation.name": operation}
        if provider:
            attrs["gen_ai.provider.name"] = provider
        if model:
            attrs["gen_ai.request.model"] = model
        if server_address:
            attrs["server.address"] = server_address
        if server_port:
            attrs["server.port"] = server_port
        self.metric_attrs = dict(attrs)
        self.metric_attrs["multi_llm.event.scope"] = scope.kind
        for key, value in (
            ("gen_ai.request.max_tokens", request.max_tokens),
            ("gen_ai.request.temperature", request.temperature),
            ("gen_ai.request.top_p", request.top_p),
        ):
            if value is not None:
                attrs[key] = value
        if request.stream:
            attrs["gen_ai.request.stream"] = True
        attrs.update(scope_attributes(scope, emitter.user_id_hash_key))
        if own_span:
            # The name is no attribute: a lone surrogate in it would fail the whole span batch.
            name = _clean_str(f"{operation} {model}" if model else operation)
            self.span: Span | None = emitter.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        else:
            self.span = None
        self.start = time.perf_counter()
        self._emit_request()

    def _event(self, event_type: str) -> BusinessEvent:
        event = BusinessEvent.new(event_type)
        if self.provider:
            event.metadata["provider"] = self.provider
        if self.model:
            event.metadata["model"] = self.model
        return event

    def _emit(self, event: BusinessEvent) -> None:
        if self.span is not None:
            if self.context is None:
                self.context = trace.set_span_in_context(self.span)
            self.emitter.emit(event, self.scope, span=self.span, context=self.context)
        else:
            self.emitter.emit(event, self.scope)

    def _emit_request(self) -> None:
        req = self.request
        event = self._event(event_types.LLM_REQUEST)
        meta = event.metadata
        meta["operation"] = self.operation
        meta["stream"] = req.stream
        for key, value in (
            ("max_tokens", req.max_tokens),
            ("temperature", req.temperature),
            ("top_p", req.top_p),
            ("tool_count", req.tool_count),
            ("response_format", req.response_format),
        ):
            if value is not None:
                meta[key] = value
        if self.capture_content and req.messages is not None:
            meta["messages"] = bounded(req.messages)
        self._emit(event)

    # Streams --------------------------------------------------------------------------

    def begin_stream(self, accumulator: StreamAccumulator | None) -> None:
        self.stream = True
        self.accumulator = accumulator

    def chunk(self, item: object) -> None:
        """Called for every item the consumer receives; must stay cheap."""
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
        self.chunks += 1
        acc = self.accumulator
        if acc is not None:
            try:
                acc.add(item)
            except Exception as exc:  # noqa: BLE001 - a bad chunk must not break the consumer
                self.accumulator = None
                _diagnostics.report("stream_chunk_unreadable", str(exc), exc)

    def stream_result(self) -> ResponseInfo:
        if self.accumulator is None:
            return ResponseInfo()
        try:
            return self.accumulator.result()
        except Exception as exc:  # noqa: BLE001 - report what is known instead
            _diagnostics.report("stream_result_unreadable", str(exc), exc)
            return ResponseInfo()

    # Endings --------------------------------------------------------------------------

    def _claim(self) -> bool:
        with self._lock:
            if self._done:
                return False
            self._done = True
            return True

    def finish_response(self, result: object) -> None:
        """A non-streaming call returned ``result``."""
        if not self._claim():
            return
        try:
            extractor: Extractor | None = None
            try:
                extractor = providers.for_response(result)
                info = extractor.response(result) if extractor is not None else ResponseInfo()
            except Exception as exc:  # noqa: BLE001 - an unreadable response still ends the call
                _diagnostics.report("response_unreadable", str(exc), exc)
                info = ResponseInfo()
            if self.provider is None and extractor is not None:
                self._set_provider(info.server_hint or self.fallback_provider or extractor.name)
            self._end(info, completed=True, error=info.error)
        except Exception as exc:  # noqa: BLE001 - the caller gets its result regardless
            _diagnostics.report("instrumentation_failed", str(exc), exc)
            self._end_span_quietly()

    def finish_stream(self, completed: bool) -> None:
        """The stream was exhausted (``completed``), or closed, left or dropped before that."""
        if not self._claim():
            return
        try:
            info = self.stream_result()
            if self.provider is None and self.extractor is not None:
                self._set_provider(info.server_hint or self.fallback_provider or self.extractor.name)
            # A stream that carried an error (Ollama's ``{"error"}`` line, an ``error`` event) did not
            # complete, however it ended: the SDKs raise there, a generator of raw JSON just stops.
            finished = (completed or bool(info.finish_reasons)) and info.error is None
            self._end(info, completed=finished, error=info.error)
        except Exception as exc:  # noqa: BLE001 - the consumer must never see our failures
            _diagnostics.report("instrumentation_failed", str(exc), exc)
            self._end_span_quietly()

    def fail(self, exc: BaseException) -> None:
        """The call, or the stream, raised ``exc`` (which the caller will see unchanged)."""
        if not self._claim():
            return
        try:
            extractor = providers.for_error(exc)
            error = extractor.error(exc) if extractor is not None else _generic_error(exc)
            if self.provider is None and extractor is not None:
                self._set_provider(self.fallback_provider or extractor.name)
            info = self.stream_result() if self.stream else ResponseInfo()
            self._end(info, completed=False, error=error, exc=exc)
        except Exception as inner:  # noqa: BLE001 - the original exception is what must propagate
            _diagnostics.report("instrumentation_failed", str(inner), inner)
            self._end_span_quietly()

    def _set_provider(self, name: str) -> None:
        self.provider = name
        self.metric_attrs["gen_ai.provider.name"] = name
        if self.span is not None:
            self.span.set_attribute("gen_ai.provider.name", name)

    def _end_span_quietly(self) -> None:
        try:
            if self.span is not None:
                self.span.end()
        except Exception as exc:  # noqa: BLE001
            _diagnostics.report("instrumentation_failed", str(exc), exc)

    def _end(
        self,
        info: ResponseInfo,
        *,
        completed: bool,
        error: ErrorInfo | None,
        exc: BaseException | None = None,
    ) -> None:
        end = time.perf_counter()
        duration = end - self.start
        span = self.span
        if self.model is None and info.response_model:
            self.model = info.response_model
        if error is not None:
            self._emit_error(error)
        cost = _pricing.cost_of(self.provider, self.model, info)
        self._emit_response(info, duration, completed, error, cost)
        self._emit_cache(info)
        self._record_metrics(info, duration, error, cost)
        if span is None:
            return
        attrs: dict[str, Any] = {}
        for key, value in (
            ("gen_ai.response.model", info.response_model),
            ("gen_ai.response.id", info.response_id),
            ("gen_ai.usage.input_tokens", info.input_tokens),
            ("gen_ai.usage.output_tokens", info.output_tokens),
            ("gen_ai.usage.cache_read.input_tokens", info.cache_read_tokens),
            ("gen_ai.usage.cache_write.input_tokens", info.cache_write_tokens),
            ("gen_ai.usage.reasoning.output_tokens", info.reasoning_tokens),
        ):
            if value is not None:
                attrs[key] = value
        if info.finish_reasons:
            attrs["gen_ai.response.finish_reasons"] = tuple(info.finish_reasons)
        if self.stream:
            attrs["multi_llm.stream.chunks"] = self.chunks
            attrs["multi_llm.stream.completed"] = completed
            if self.first_chunk_at is not None:
                attrs["gen_ai.response.time_to_first_chunk"] = self.first_chunk_at - self.start
        if error is not None:
            attrs["error.type"] = error.error_type
            # Cleaned: a lone surrogate in the status (no attribute) would fail the span batch.
            span.set_status(Status(StatusCode.ERROR, _clean_str(error.message) if error.message else None))
            if exc is not None:
                try:
                    span.record_exception(exc)
                except Exception as inner:  # noqa: BLE001 - an exception whose str() raises
                    _diagnostics.report("instrumentation_failed", f"record_exception: {type(inner).__name__}")
        span.set_attributes(attrs)
        span.end()

    def _emit_error(self, error: ErrorInfo) -> None:
        event = self._event(event_types.LLM_ERROR)
        meta = event.metadata
        meta["error_type"] = error.error_type
        if error.status_code is not None:
            meta["status_code"] = error.status_code
        if error.error_code is not None:
            meta["error_code"] = error.error_code
        if error.message:
            meta["message"] = _clean_str(error.message[:MESSAGE_LIMIT])
        self._emit(event)

    def _emit_response(
        self, info: ResponseInfo, duration: float, completed: bool, error: ErrorInfo | None, cost: _pricing.Cost | None
    ) -> None:
        if error is not None and not self.stream and info.response_id is None and info.input_tokens is None:
            return
        event = self._event(event_types.LLM_RESPONSE)
        meta = event.metadata
        for key, value in (
            ("response_model", info.response_model),
            ("response_id", info.response_id),
            ("input_tokens", info.input_tokens),
            ("output_tokens", info.output_tokens),
            ("cache_read_tokens", info.cache_read_tokens),
            ("cache_write_tokens", info.cache_write_tokens),
            ("reasoning_tokens", info.reasoning_tokens),
        ):
            if value is not None:
                meta[key] = value
        if info.finish_reasons:
            meta["finish_reasons"] = list(info.finish_reasons)
        if cost is not None:
            meta["cost_usd"] = round(cost.total, 12)
        meta["duration_ms"] = round(duration * 1000, 3)
        if self.stream:
            meta["stream"] = True
            meta["chunk_count"] = self.chunks
            meta["completed"] = completed
            if self.first_chunk_at is not None:
                meta["time_to_first_chunk_ms"] = round((self.first_chunk_at - self.start) * 1000, 3)
        if self.app_cache:
            meta["cache"] = "application"
        if self.capture_content and info.output_text is not None:
            meta["output_text"] = bounded(info.output_text)
        self._emit(event)

    def _emit_cache(self, info: ResponseInfo) -> None:
        # An answer served from the application's cache says nothing about the provider's.
        if self.app_cache is not None:
            return
        read = info.cache_read_tokens
        if read is not None and read > 0:
            event = self._event(event_types.CACHE_HIT)
        elif info.caching_reported:
            event = self._event(event_types.CACHE_MISS)
        else:
            return
        meta = event.metadata
        meta["cache"] = "provider"
        meta["cache_read_tokens"] = read or 0
        if info.cache_write_tokens is not None:
            meta["cache_write_tokens"] = info.cache_write_tokens
        if info.input_tokens is not None:
            meta["input_tokens"] = info.input_tokens
        self._emit(event)

    def record_application_cache(self, hit: bool, key: str | None) -> None:
        self.app_cache = hit
        event = self._event(event_types.CACHE_HIT if hit else event_types.CACHE_MISS)
        event.metadata["cache"] = "application"
        if key is not None:
            event.metadata["cache_key"] = key
        self._emit(event)

    def _record_metrics(
        self, info: ResponseInfo, duration: float, error: ErrorInfo | None, cost: _pricing.Cost | None
    ) -> None:
        if self.span is None:
            return
        attrs = self.metric_attrs
        if info.response_model:
            attrs["gen_ai.response.model"] = info.response_model
        if self.model and "gen_ai.request.model" not in attrs:
            attrs["gen_ai.request.model"] = self.model
        if error is not None:
            attrs = {**attrs, "error.type": error.error_type}
        emitter = self.emitter
        emitter.operation_duration.record(duration, attrs)
        if self.first_chunk_at is not None:
            emitter.time_to_first_chunk.record(self.first_chunk_at - self.start, attrs)
        if info.input_tokens is not None:
            emitter.token_usage.record(info.input_tokens, {**attrs, "gen_ai.token.type": "input"})
        if info.output_tokens is not None:
            emitter.token_usage.record(info.output_tokens, {**attrs, "gen_ai.token.type": "output"})
        if cost is not None:
            for kind, amount in cost.parts():
                if amount:
                    emitter.cost.add(amount, {**attrs, "multi_llm.cost.type": kind})


def _generic_error(exc: BaseException) -> ErrorInfo:
    status = getattr(exc, "status_code", None)
    return ErrorInfo(
        error_type=type(exc).__qualname__,
        status_code=status if isinstance(status, int) and not isinstance(status, bool) else None,
        # Masked like the providers' messages: a proxy or HTTP library may echo a credential.
        message=error_message(_text_of(exc)),
    )


def _text_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises still gets reported
        return f"<{type(exc).__qualname__}: str() failed>"


def request_from_kwargs(extractor: Extractor | None, kwargs: Mapping[str, object]) -> RequestInfo:
    reader = extractor if extractor is not None else providers.get("openai") or providers.Extractor()
    try:
        return reader.request(kwargs)
    except Exception as exc:  # noqa: BLE001 - unreadable parameters must not stop the call
        _diagnostics.report("request_unreadable", str(exc), exc)
        return RequestInfo()
