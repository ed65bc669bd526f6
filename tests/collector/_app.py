"""A small application using multi-llm-otel, run as its own process by the end-to-end tests.

    python -m tests.collector._app --endpoint http://127.0.0.1:4318 --service svc burst decorated

It configures the library once (``configure()`` is once per process, which is why the tests
run it apart from pytest), runs the named scenarios, shuts down, and prints on stdout a JSON
record of everything the SDK finished: each span with its events and attributes, each log
record, and the library's self-diagnostics. The tests compare that record with what Jaeger,
the Collector's files and Prometheus hold.

A scenario is a function taking ``argparse.Namespace``; add one to ``SCENARIOS`` (for example
calls through a real LLM client to a llama-server given by a new option) and name it on the
command line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, event_types, llm_call

SCOPES = (EventScope.user("u1"), EventScope.system(), EventScope.user("u2"))
PROVIDERS = (("openai", "gpt-4o"), ("anthropic", "claude-sonnet"))


def burst(args: argparse.Namespace) -> None:
    """Requests handled by the application, each a span with business events emitted inside."""
    tracer = trace.get_tracer("multi-llm-otel.e2e")
    for i in range(args.burst):
        scope = SCOPES[i % len(SCOPES)]
        provider, model = PROVIDERS[i % len(PROVIDERS)]
        # A user's request span says whose it is, as the library's own LLM-call spans do.
        span_attrs = {"multi_llm.event.scope": "user", "user.id": scope.user_id} if scope.user_id else {}
        with tracer.start_as_current_span(f"handle request {i}", attributes=span_attrs):
            meta = {"provider": provider, "model": model, "request_no": i}
            multi_llm_otel.emit(_event(event_types.LLM_REQUEST, meta), scope)
            if i % 5 == 4:
                error = {**meta, "error_type": "rate_limited", "detail": {"retry_after": 2}}
                multi_llm_otel.emit(_event(event_types.LLM_ERROR, error), scope)
                continue
            multi_llm_otel.emit(_event(event_types.CACHE_HIT if i % 3 == 0 else event_types.CACHE_MISS, meta), scope)
            usage = {**meta, "input_tokens": 10 + i, "output_tokens": 3 + i, "finish_reasons": ["stop"]}
            multi_llm_otel.emit(_event(event_types.LLM_RESPONSE, usage), scope)


def _event(event_type: str, metadata: Mapping[str, Any]) -> BusinessEvent:
    event = BusinessEvent.new(event_type)
    for key, value in metadata.items():
        event.with_metadata(key, value)
    return event


def decorated(args: argparse.Namespace) -> None:
    """LLM calls through ``@llm_call``; the response is an OpenAI chat completion object (as
    JSON), so the library's own spans, events, token and duration metrics are produced."""

    @llm_call(provider="openai", model="gpt-4o", scope=lambda user, cached, fail: EventScope.user(user))
    def chat(user: str, cached: int, fail: bool) -> dict[str, Any]:
        if fail:
            raise TimeoutError("upstream timed out")
        return {
            "id": f"chatcmpl-{user}-{cached}",
            "object": "chat.completion",
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }

    for i in range(args.decorated):
        with contextlib.suppress(TimeoutError):
            chat(f"u{i % 2 + 1}", 50 if i % 2 else 0, i % 4 == 3)


def llama(args: argparse.Namespace) -> None:
    """Real calls through the official SDKs to a real llama-server: plain, streamed, a repeated
    long prefix (a real prompt-cache hit), and a real error (a prompt over the context size)."""
    import anthropic
    import openai

    oai = openai.OpenAI(base_url=f"{args.llama_url}/v1", api_key="unused", max_retries=2)
    ant = anthropic.Anthropic(base_url=args.llama_url, api_key="unused", max_retries=2)
    system = "You are terse. " + " ".join(f"Rule {i}: answer in one word." for i in range(60))

    @llm_call(scope=EventScope.user("u-llama"))
    def ask(**kwargs: Any) -> Any:
        return oai.chat.completions.create(model="gemma-3-270m", max_tokens=6, **kwargs)

    @llm_call
    def ask_anthropic(**kwargs: Any) -> Any:
        return ant.messages.create(model="gemma-3-270m", max_tokens=6, **kwargs)

    prompt = [{"role": "system", "content": system}, {"role": "user", "content": "Hi"}]
    ask(messages=prompt)
    ask(messages=prompt)
    for _ in ask(messages=[{"role": "user", "content": "Count"}], stream=True, stream_options={"include_usage": True}):
        pass
    ask_anthropic(messages=[{"role": "user", "content": "Hi"}])
    with contextlib.suppress(openai.BadRequestError):
        ask(messages=[{"role": "user", "content": "word " * 6000}])


SCENARIOS: dict[str, Callable[[argparse.Namespace], None]] = {"burst": burst, "decorated": decorated, "llama": llama}


def _attrs(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (attributes or {}).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--decorated", type=int, default=8)
    parser.add_argument("--llama-url", help="base URL of a running llama-server, for the llama scenario")
    parser.add_argument("scenarios", nargs="+", choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)

    # Made-up unit prices for the decorated scenario's model: the test follows the cost counter
    # through the Collector to Prometheus; no real price is known or implied here.
    prices = {"models": {"gpt-4o": {"input": 1.0, "cached_input": 0.5, "output": 2.0}}}
    telemetry = multi_llm_otel.configure(
        service_name=args.service, endpoint=args.endpoint, protocol="http/protobuf", prices=prices
    )
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    for name in args.scenarios:
        SCENARIOS[name](args)
    flushed = telemetry.force_flush()
    clean_exit = telemetry.shutdown()

    record = {
        "flushed": flushed,
        "clean_exit": clean_exit,
        "stats": multi_llm_otel.stats(),
        "spans": [
            {
                "trace_id": f"{s.context.trace_id:032x}",
                "span_id": f"{s.context.span_id:016x}",
                "name": s.name,
                "scope": s.instrumentation_scope.name if s.instrumentation_scope else None,
                "attributes": _attrs(s.attributes),
                "events": [
                    {"name": e.name, "time_unix_nano": e.timestamp, "attributes": _attrs(e.attributes)}
                    for e in s.events
                ],
            }
            for s in spans.get_finished_spans()
        ],
        "logs": [
            {
                "event_name": r.log_record.event_name,
                "time_unix_nano": r.log_record.timestamp,
                "severity_text": r.log_record.severity_text,
                "body": r.log_record.body,
                "attributes": _attrs(r.log_record.attributes),
            }
            for r in logs.get_finished_logs()
        ],
    }
    json.dump(record, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
