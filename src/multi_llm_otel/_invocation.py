"""One instrumented LLM call from start to a single end: its span, and the emission of what the
builders in ``_call_events`` make of its record.

A ``Call`` never makes its span current. Everything that must land under the span is given
the span explicitly, so a stream consumed later, in another task or not at all, cannot leave
a context attached or attach telemetry of unrelated code to this call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from multi_llm_otel import _attribute_names as names
from multi_llm_otel import _call_events as build
from multi_llm_otel import _diagnostics, _pricing, providers
from multi_llm_otel._call_record import CallRecord
from multi_llm_otel._emitter import Emitter
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._guard import contained, describe, never_raise
from multi_llm_otel._json_value import _clean_str
from multi_llm_otel._mapping import scope_attributes
from multi_llm_otel._provider_choice import ProviderChoice
from multi_llm_otel.providers import ErrorInfo, Extractor, RequestInfo, ResponseInfo, StreamAccumulator
from multi_llm_otel.providers._base import error_message

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

# Read once: an enum member read from its class goes through a descriptor each time.
_CLIENT = SpanKind.CLIENT

# How a call ended: what was read, whether it completed, the error, the exception raised.
_Outcome = tuple[ResponseInfo, bool, "ErrorInfo | None", "BaseException | None"]


class Call:
    """The lifecycle of one call; ``finish_*``/``fail`` end it exactly once, from any thread."""

    __slots__ = (
        "_done",
        "_lock",
        "_request_pending",
        "_scope_attrs",
        "accumulator",
        "choice",
        "context",
        "emitter",
        "record",
        "span",
    )

    def __init__(
        self,
        emitter: Emitter,
        *,
        choice: ProviderChoice,
        model: str | None,
        operation: str,
        scope: EventScope,
        request: RequestInfo,
        capture_content: bool,
        own_span: bool,
    ) -> None:
        self.emitter = emitter
        self.choice = choice
        self.accumulator: StreamAccumulator | None = None
        self.context: Context | None = None
        self._scope_attrs = scope_attributes(scope, emitter.user_id_hash_key)
        self._done = False
        self._lock = threading.Lock()
        record = self.record = CallRecord(
            provider=choice.provider,
            model=build.cut(model, self._string_limit()),
            operation=operation,
            scope=scope,
            request=request,
            server_address=choice.address,
            server_port=choice.port,
            capture_content=capture_content,
            start=0.0,
        )
        if own_span:
            attrs = build.span_start_attributes(record)
            attrs.update(self._scope_attrs)
            # The name is no attribute: a lone surrogate in it would fail the whole span batch.
            name = _clean_str(build.span_name(record))
            self.span: Span | None = emitter.tracer.start_span(name, kind=_CLIENT, attributes=attrs)
            self.context = trace.set_span_in_context(self.span)
        else:
            self.span = None
        record.start = time.perf_counter()
        # The model may only be known once the SDK sends its request (an HTTP SDK client was
        # found, the arguments named none): ``llm_request`` waits for it, or for the end.
        self._request_pending = record.model is None and choice.extractor is not None
        try:
            if not self._request_pending:
                self._emit(build.request_event(record))
        except BaseException:
            # At the recursion limit even emitting can fail: the span must not stay open.
            self._end_span_quietly()
            raise

    def _emit(self, event: BusinessEvent | None, exception: BaseException | None = None) -> None:
        if event is not None:
            # Without a span of its own, the call's events go into the context current now.
            self.emitter.emit_in_call(event, self._scope_attrs, self.context, exception)

    def _string_limit(self) -> int:
        return self.emitter.max_value_length or build.SERVER_STRING_LIMIT

    def wants_model(self) -> bool:
        return self.record.model is None

    def observe_model(self, model: str) -> None:
        """The SDK request carried ``model`` (the function's own arguments did not say)."""
        record = self.record
        if record.model is not None:
            return
        record.model = build.cut(model, self._string_limit())
        if self.span is not None:
            self.span.update_name(_clean_str(build.span_name(record)))
            self.span.set_attribute(names.REQUEST_MODEL, record.model)
        self._emit_pending_request()

    def _emit_pending_request(self) -> None:
        if not self._request_pending:
            return
        with self._lock:
            pending, self._request_pending = self._request_pending, False
        if pending:
            self._emit(build.request_event(self.record))

    # Streams --------------------------------------------------------------------------

    def begin_stream(self, extractor: Extractor | None, stream: object) -> None:
        """The call returned a stream (or is a generator function: ``extractor`` is ``None``)."""
        if extractor is not None:
            self.choice.adopt(extractor)
            accumulator = self.accumulator = extractor.accumulator(stream)
            if not self.record.capture_content:
                skip_text = getattr(accumulator, "skip_text", None)
                if skip_text is not None:
                    skip_text()
        self.record.stream = True

    def chunk(self, item: object) -> None:
        """Called for every item the consumer receives; must stay cheap."""
        record = self.record
        if record.first_chunk_at is None:
            record.first_chunk_at = time.perf_counter()
        record.chunks += 1
        acc = self.accumulator
        if acc is not None:
            try:
                acc.add(item)
            except Exception as exc:  # noqa: BLE001 - inline, not the guard: per chunk, and it drops the accumulator
                self.unreadable_chunk(exc)

    def unreadable_chunk(self, exc: Exception) -> None:
        """The accumulator failed on a chunk: the rest of the stream is counted, not read."""
        self.accumulator = None
        _diagnostics.report("stream_chunk_unreadable", str(exc), exc)

    def generated(self, item: object) -> None:
        """An item a generator function yielded: the first one picks the stream's accumulator."""
        if self.record.chunks == 0 and self.accumulator is None:
            extractor = providers.for_response(item)
            if extractor is not None:
                with contained():
                    self.begin_stream(extractor, None)
        self.chunk(item)

    @never_raise("stream_result_unreadable", ResponseInfo)
    def stream_result(self) -> ResponseInfo:
        return self.accumulator.result() if self.accumulator is not None else ResponseInfo()

    # Endings --------------------------------------------------------------------------

    def _claim(self) -> bool:
        with self._lock:
            if self._done:
                return False
            self._done = True
            return True

    def _close(self, outcome: Callable[[], _Outcome]) -> None:
        """End the call once with what ``outcome`` says; if that fails, the span still ends."""
        if not self._claim():
            return
        try:
            with contained():
                self._end(*outcome())
        finally:
            if self.span is not None and self.span.is_recording():
                self._end_span_quietly()

    def finish_response(self, result: object) -> None:
        """A non-streaming call returned ``result``."""

        def outcome() -> _Outcome:
            extractor, info = _read_response(result)
            self._settle_provider(extractor, info.server_hint)
            return info, True, info.error, None

        self._close(outcome)

    def finish_stream(self, completed: bool) -> None:
        """The stream was exhausted (``completed``), or closed, left or dropped before that."""

        def outcome() -> _Outcome:
            info = self.stream_result()
            self._settle_provider(self.choice.extractor, info.server_hint)
            # A stream that carried an error (Ollama's ``{"error"}`` line, an ``error`` event) did
            # not complete, however it ended: the SDKs raise there, a generator of raw JSON stops.
            finished = (completed or bool(info.finish_reasons)) and info.error is None
            return info, finished, info.error, None

        self._close(outcome)

    def fail(self, exc: BaseException) -> None:
        """The call, or the stream, raised ``exc`` (which the caller will see unchanged)."""

        def outcome() -> _Outcome:
            extractor = providers.for_error(exc)
            error = extractor.error(exc) if extractor is not None else _generic_error(exc)
            self._settle_provider(extractor, None)
            info = self.stream_result() if self.record.stream else ResponseInfo()
            return info, False, error, exc

        self._close(outcome)

    def abandon(self) -> None:
        """The call was dropped before it ran (a coroutine never awaited): its span ends, with
        no response to report."""
        if self._claim():
            self._end_span_quietly()

    def _settle_provider(self, reader: Extractor | None, server_hint: str | None) -> None:
        name = self.choice.settle(reader, server_hint)
        if name is not None:
            self.record.provider = name
            if self.span is not None:
                self.span.set_attribute(names.PROVIDER_NAME, name)

    @never_raise()
    def _end_span_quietly(self) -> None:
        if self.span is not None:
            self.span.end()

    def _end(self, info: ResponseInfo, completed: bool, error: ErrorInfo | None, exc: BaseException | None) -> None:
        self._emit_pending_request()
        record = self.record
        duration = time.perf_counter() - record.start
        build.bound_strings(info, error, self._string_limit())
        if error is not None:
            self._emit(build.error_event(record, error), exc)
        response = build.response_event(record, info, duration, completed, error)
        cost = _pricing.cost_of(record.provider, record.model, info)
        if response is not None and cost is not None:
            response.metadata["cost_usd"] = round(cost.total, 12)
        self._emit(response)
        self._emit(build.provider_cache_event(record, info))
        span = self.span
        if span is None:
            return
        metric_attrs = build.metric_attributes(record, info, error)
        self.emitter.metrics.record(
            metric_attrs,
            duration,
            record.time_to_first_chunk(),
            info.input_tokens,
            info.output_tokens,
        )
        if cost is not None:
            self.emitter.metrics.record_cost(metric_attrs, cost)
        attrs = build.span_end_attributes(record, info, completed, error)
        if error is not None:
            # The one rule for error texts: masked, bounded, and cleaned (a lone surrogate in
            # the status, which is no attribute, would fail the span batch).
            span.set_status(Status(StatusCode.ERROR, error_message(error.message)))
        span.set_attributes(attrs)
        span.end()

    def record_application_cache(self, hit: bool, key: str | None) -> None:
        self._emit_pending_request()
        self.record.app_cache = hit
        self._emit(build.application_cache_event(self.record, hit, key))


def _generic_error(exc: BaseException) -> ErrorInfo:
    status = getattr(exc, "status_code", None)
    return ErrorInfo(
        error_type=type(exc).__qualname__,
        status_code=status if isinstance(status, int) and not isinstance(status, bool) else None,
        # Masked like the providers' messages: a proxy or HTTP library may echo a credential.
        message=error_message(describe(exc)),
    )


def _no_reader() -> tuple[Extractor | None, ResponseInfo]:
    return None, ResponseInfo()


@never_raise("response_unreadable", _no_reader)
def _read_response(result: object) -> tuple[Extractor | None, ResponseInfo]:
    """The extractor that owns ``result`` and what it read; an unreadable response still ends
    the call, with what the options and the request said."""
    extractor = providers.for_response(result)
    return extractor, extractor.response(result) if extractor is not None else ResponseInfo()
