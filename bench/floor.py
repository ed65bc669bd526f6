"""The floor: the telemetry ``@llm_call`` produces for these calls, written by hand with plain
OpenTelemetry API calls and nothing else. What any implementation has to pay at least.

One CLIENT span ``chat {model}`` with the same attributes; ``llm_request``, ``llm_response`` and
``cache_hit`` each as a span event and as a log record (same attributes, the same body, the
span's context); the same histogram records (operation duration, input and output token usage,
and time to first chunk for streams). The span is current while the SDK call runs, as any
instrumentation that wants the HTTP layer's spans under it must make it. Streams are watched
through a generator, the cheapest transparent interception Python has.

Everything that can be known before the first call (server address and port, instruments,
constant attribute values) is computed once; what varies per call is read from the call's
arguments and the SDK's response objects directly. ``bench.parity`` checks, before any
timing, that this produces exactly what ``@llm_call`` produces, ids and times aside.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind

_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_INFO = SeverityNumber.INFO
_CLIENT = SpanKind.CLIENT
_uuid4 = uuid.uuid4
_time_ns = time.time_ns
_perf = time.perf_counter
_set_span = trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach


class Floor:
    def __init__(self, tracer_provider: Any, logger_provider: Any, meter_provider: Any, port: int) -> None:
        self.tracer = tracer_provider.get_tracer("bench.floor")
        self.logger = logger_provider.get_logger("bench.floor")
        meter = meter_provider.get_meter("bench.floor")
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.ttfc = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.port = port

    # -- shared -----------------------------------------------------------------------------

    def _event(self, span: Any, ctx: Any, name: str, attrs: dict[str, Any], body: dict[str, Any]) -> None:
        ts = _time_ns()
        span.add_event(name, attrs, ts)
        self.logger.emit(
            timestamp=ts,
            context=ctx,
            severity_number=_INFO,
            severity_text="INFO",
            body=body,
            attributes=attrs,
            event_name=name,
        )

    def _start(self, kw: dict[str, Any], stream: bool) -> tuple[Any, Any, str, float]:
        model = kw["model"]
        max_tokens = kw.get("max_tokens")
        temperature = kw.get("temperature")
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "server.address": "127.0.0.1",
            "server.port": self.port,
            "gen_ai.request.max_tokens": max_tokens,
        }
        ev: dict[str, Any] = {
            "multi_llm.event.id": str(_uuid4()),
            "multi_llm.event.scope": "system",
            "model": model,
            "gen_ai.request.model": model,
            "operation": "chat",
            "gen_ai.operation.name": "chat",
            "stream": stream,
            "max_tokens": max_tokens,
            "gen_ai.request.max_tokens": max_tokens,
        }
        body: dict[str, Any] = {"model": model, "operation": "chat", "stream": stream, "max_tokens": max_tokens}
        if temperature is not None:
            attrs["gen_ai.request.temperature"] = temperature
            ev["temperature"] = temperature
            ev["gen_ai.request.temperature"] = temperature
            body["temperature"] = temperature
        if stream:
            attrs["gen_ai.request.stream"] = True
        attrs["multi_llm.event.scope"] = "system"
        span = self.tracer.start_span(f"chat {model}", kind=_CLIENT, attributes=attrs)
        ctx = _set_span(span)
        start = _perf()
        self._event(span, ctx, "llm_request", ev, body)
        return span, ctx, model, start

    def _finish(
        self,
        span: Any,
        ctx: Any,
        provider: str,
        model: str,
        start: float,
        r: dict[str, Any],
        stream: tuple[int, float | None] | None,
    ) -> None:
        """``r``: response_model, response_id, input, output, cache_read, cache_write,
        reasoning, finish (a tuple); ``stream``: (chunks, first chunk time) for streams."""
        end = _perf()
        duration = end - start
        rmodel = r["response_model"]
        rid = r["response_id"]
        inp = r["input"]
        out = r["output"]
        read = r["cache_read"]
        write = r["cache_write"]
        reasoning = r["reasoning"]
        finish = r["finish"]
        ev: dict[str, Any] = {
            "multi_llm.event.id": str(_uuid4()),
            "multi_llm.event.scope": "system",
            "provider": provider,
            "gen_ai.provider.name": provider,
            "model": model,
            "gen_ai.request.model": model,
            "response_model": rmodel,
            "gen_ai.response.model": rmodel,
            "response_id": rid,
            "gen_ai.response.id": rid,
            "input_tokens": inp,
            "gen_ai.usage.input_tokens": inp,
            "output_tokens": out,
            "gen_ai.usage.output_tokens": out,
            "cache_read_tokens": read,
            "gen_ai.usage.cache_read.input_tokens": read,
        }
        body: dict[str, Any] = {
            "provider": provider,
            "model": model,
            "response_model": rmodel,
            "response_id": rid,
            "input_tokens": inp,
            "output_tokens": out,
            "cache_read_tokens": read,
        }
        span_attrs: dict[str, Any] = {
            "gen_ai.response.model": rmodel,
            "gen_ai.response.id": rid,
            "gen_ai.usage.input_tokens": inp,
            "gen_ai.usage.output_tokens": out,
            "gen_ai.usage.cache_read.input_tokens": read,
        }
        if write is not None:
            ev["cache_creation_tokens"] = write
            ev["gen_ai.usage.cache_write.input_tokens"] = write
            body["cache_creation_tokens"] = write
            span_attrs["gen_ai.usage.cache_write.input_tokens"] = write
        if reasoning is not None:
            ev["reasoning_tokens"] = reasoning
            ev["gen_ai.usage.reasoning.output_tokens"] = reasoning
            body["reasoning_tokens"] = reasoning
            span_attrs["gen_ai.usage.reasoning.output_tokens"] = reasoning
        ev["finish_reasons"] = finish
        ev["gen_ai.response.finish_reasons"] = finish
        body["finish_reasons"] = list(finish)
        span_attrs["gen_ai.response.finish_reasons"] = finish
        duration_ms = round(duration * 1000, 3)
        ev["duration_ms"] = duration_ms
        body["duration_ms"] = duration_ms
        first_at = None
        if stream is not None:
            chunks, first_at = stream
            ev["stream"] = True
            ev["chunk_count"] = chunks
            ev["completed"] = True
            body["stream"] = True
            body["chunk_count"] = chunks
            body["completed"] = True
            span_attrs["multi_llm.stream.chunks"] = chunks
            span_attrs["multi_llm.stream.completed"] = True
            if first_at is not None:
                ttfc_ms = round((first_at - start) * 1000, 3)
                ev["time_to_first_chunk_ms"] = ttfc_ms
                body["time_to_first_chunk_ms"] = ttfc_ms
                span_attrs["gen_ai.response.time_to_first_chunk"] = first_at - start
        self._event(span, ctx, "llm_response", ev, body)
        if read:
            hit: dict[str, Any] = {
                "multi_llm.event.id": str(_uuid4()),
                "multi_llm.event.scope": "system",
                "provider": provider,
                "gen_ai.provider.name": provider,
                "model": model,
                "gen_ai.request.model": model,
                "cache": "provider",
                "cache_read_tokens": read,
                "gen_ai.usage.cache_read.input_tokens": read,
            }
            hit_body: dict[str, Any] = {
                "provider": provider,
                "model": model,
                "cache": "provider",
                "cache_read_tokens": read,
            }
            if write is not None:
                hit["cache_creation_tokens"] = write
                hit["gen_ai.usage.cache_write.input_tokens"] = write
                hit_body["cache_creation_tokens"] = write
            hit["input_tokens"] = inp
            hit["gen_ai.usage.input_tokens"] = inp
            hit_body["input_tokens"] = inp
            self._event(span, ctx, "cache_hit", hit, hit_body)
        metric_attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "server.address": "127.0.0.1",
            "server.port": self.port,
            "multi_llm.event.scope": "system",
            "gen_ai.provider.name": provider,
            "gen_ai.response.model": rmodel,
        }
        self.duration.record(duration, metric_attrs)
        if first_at is not None:
            self.ttfc.record(first_at - start, metric_attrs)
        self.token_usage.record(inp, {**metric_attrs, "gen_ai.token.type": "input"})
        self.token_usage.record(out, {**metric_attrs, "gen_ai.token.type": "output"})
        span.set_attribute("gen_ai.provider.name", provider)
        span.set_attributes(span_attrs)
        span.end()

    # -- OpenAI -----------------------------------------------------------------------------

    def openai(self, client: Any, kw: dict[str, Any]) -> Any:
        span, ctx, model, start = self._start(kw, False)
        token = _attach(ctx)
        try:
            resp = client.chat.completions.create(**kw)
        finally:
            _detach(token)
        u = resp.usage
        self._finish(
            span, ctx, "openai_compatible", model, start, _openai_usage(resp.model, resp.id, u, resp.choices), None
        )
        return resp

    def openai_stream(self, client: Any, kw: dict[str, Any]) -> Iterator[Any]:
        span, ctx, model, start = self._start(kw, True)
        token = _attach(ctx)
        try:
            stream = client.chat.completions.create(**kw)
        finally:
            _detach(token)
        return self._watch_openai(stream, span, ctx, model, start)

    def _watch_openai(self, stream: Any, span: Any, ctx: Any, model: str, start: float) -> Iterator[Any]:
        chunks = 0
        first_at = None
        usage = None
        rid = rmodel = None
        finish: list[str] = []
        for chunk in stream:
            if first_at is None:
                first_at = _perf()
                rid = chunk.id
                rmodel = chunk.model
            chunks += 1
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.finish_reason:
                    finish.append(choice.finish_reason)
            yield chunk
        r = _openai_usage(rmodel, rid, usage, ())
        r["finish"] = tuple(finish)
        self._finish(span, ctx, "openai_compatible", model, start, r, (chunks, first_at))

    # -- Anthropic --------------------------------------------------------------------------

    def anthropic(self, client: Any, kw: dict[str, Any]) -> Any:
        span, ctx, model, start = self._start(kw, False)
        token = _attach(ctx)
        try:
            msg = client.messages.create(**kw)
        finally:
            _detach(token)
        r = _anthropic_usage(msg.model, msg.id, msg.usage, None)
        r["finish"] = (msg.stop_reason,) if msg.stop_reason else ()
        self._finish(span, ctx, "anthropic_compatible", model, start, r, None)
        return msg

    def anthropic_stream(self, client: Any, kw: dict[str, Any]) -> Iterator[Any]:
        span, ctx, model, start = self._start(kw, True)
        token = _attach(ctx)
        try:
            stream = client.messages.create(**kw)
        finally:
            _detach(token)
        return self._watch_anthropic(stream, span, ctx, model, start)

    def _watch_anthropic(self, stream: Any, span: Any, ctx: Any, model: str, start: float) -> Iterator[Any]:
        chunks = 0
        first_at = None
        message = None
        output = None
        stop = None
        for event in stream:
            if first_at is None:
                first_at = _perf()
            chunks += 1
            kind = event.type
            if kind == "message_start":
                message = event.message
            elif kind == "message_delta":
                stop = event.delta.stop_reason
                output = event.usage.output_tokens
            yield event
        if message is not None:
            r = _anthropic_usage(message.model, message.id, message.usage, output)
        else:
            r = _anthropic_usage(None, None, None, output)
        r["finish"] = (stop,) if stop else ()
        self._finish(span, ctx, "anthropic_compatible", model, start, r, (chunks, first_at))


def _openai_usage(rmodel: Any, rid: Any, u: Any, choices: Any) -> dict[str, Any]:
    inp = out = read = write = reasoning = None
    if u is not None:
        inp = u.prompt_tokens
        out = u.completion_tokens
        details = u.prompt_tokens_details
        if details is not None:
            read = details.cached_tokens
            write = getattr(details, "cache_write_tokens", None)
        cdetails = u.completion_tokens_details
        if cdetails is not None:
            reasoning = cdetails.reasoning_tokens
    return {
        "response_model": rmodel,
        "response_id": rid,
        "input": inp,
        "output": out,
        "cache_read": read,
        "cache_write": write,
        "reasoning": reasoning,
        "finish": tuple(c.finish_reason for c in choices if c.finish_reason),
    }


def _anthropic_usage(rmodel: Any, rid: Any, u: Any, output: Any) -> dict[str, Any]:
    inp = out = read = write = None
    if u is not None:
        read = u.cache_read_input_tokens
        write = u.cache_creation_input_tokens
        inp = u.input_tokens + (read or 0) + (write or 0)
        out = u.output_tokens
    if output is not None:
        out = output
    return {
        "response_model": rmodel,
        "response_id": rid,
        "input": inp,
        "output": out,
        "cache_read": read,
        "cache_write": write,
        "reasoning": None,
        "finish": (),
    }
