"""``multi-llm-otel demo``: what the bridge makes of LLM business events, with no server needed.

By default a bundled session (serde JSON lines, as the Rust crate writes them) goes through the
real mapping into in-memory providers and is printed. With ``--base-url`` the demo makes real
calls through ``@llm_call`` instead and prints what they produced.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from importlib import resources
from typing import IO, Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span

from multi_llm_otel import event_types
from multi_llm_otel._decorator import llm_call
from multi_llm_otel._emitter import Emitter, to_unix_nanos
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._mapping import EVENT_ID, GENAI_NAMES
from multi_llm_otel._serde_lines import parse_events
from multi_llm_otel.cli._exit import ExitCode
from multi_llm_otel.cli._reporting import ExportWatch, Reporter, losses, stats_delta
from multi_llm_otel.testing import Captured, capture

__all__ = ["export_sample", "live", "load_sample", "show_sample"]

SAMPLE: Final = "data/sample-events.jsonl"
_WIDTH: Final = 100
_LONG_TEXT: Final = 160

Scoped = tuple[BusinessEvent, EventScope]


def load_sample() -> list[Scoped]:
    text = resources.files("multi_llm_otel").joinpath(SAMPLE).read_text(encoding="utf-8")
    return [pair for line in text.splitlines() if line.strip() for pair in parse_events(line)]


def group_requests(events: Sequence[Scoped]) -> list[list[Scoped]]:
    """One group per request: each ``llm_request`` opens one, and so does a change of scope
    (an application cache answering without an LLM call is a request of its own)."""
    groups: list[list[Scoped]] = []
    for event, scope in events:
        if not groups or event.event_type == event_types.LLM_REQUEST or groups[-1][0][1] != scope:
            groups.append([])
        groups[-1].append((event, scope))
    return groups


def _span_name(group: Sequence[Scoped]) -> str:
    first = group[0][0]
    model = first.metadata.get("model")
    if first.event_type == event_types.LLM_REQUEST:
        return f"{first.metadata.get('operation', 'chat')} {model}" if model else "llm request"
    cache = first.metadata.get("cache")
    return f"{first.event_type} ({cache} cache)" if cache else first.event_type


def replay(groups: Sequence[Sequence[Scoped]], emitter: Emitter) -> None:
    """Emit every event under a span per request that lasts from its first to its last event."""
    for group in groups:
        start = to_unix_nanos(group[0][0].created_at)
        span: Span = emitter.tracer.start_span(_span_name(group), start_time=start)
        for event, scope in group:
            emitter.emit(event, scope, span=span)
        span.end(end_time=max(start, to_unix_nanos(group[-1][0].created_at)))


def _value(value: object) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, str) and len(value) > _LONG_TEXT:
        return json.dumps(value[:_LONG_TEXT], ensure_ascii=False) + f"… ({len(value):,} characters)"
    return json.dumps(value, ensure_ascii=False, default=str)


def _time(nanos: int | None) -> str:
    if nanos is None:
        return "?"
    moment = datetime.fromtimestamp(nanos // 1_000_000_000, timezone.utc).replace(
        microsecond=nanos % 1_000_000_000 // 1000
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _attribute_lines(attributes: Any, indent: str) -> list[str]:
    """One line per value: a metadata key and its GenAI name share a line when they agree."""
    attrs = dict(attributes or {})
    folded: dict[str, str] = {}
    for key, value in attrs.items():
        alias = GENAI_NAMES.get(key)
        if alias is not None and alias in attrs and alias not in folded.values() and attrs[alias] in (value, (value,)):
            folded[key] = alias
    hidden = set(folded.values())
    rows = [(f"{k}, {folded[k]}" if k in folded else k, v) for k, v in attrs.items() if k not in hidden]
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{indent}{name:<{width}}  {_value(value)}" for name, value in rows]


def _wrapped(label: str, text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, _WIDTH, initial_indent=f"{indent}{label} ", subsequent_indent=indent + " " * (len(label) + 1)
    )


def render(captured: Captured, out: IO[str], span_attributes: bool) -> tuple[int, int]:
    """Print every span with its events and the matching log records; returns (span events,
    log records) printed. A log record is matched to its span event by span and event id."""
    logs = captured.logs()
    by_key = {(r.span_id, (r.attributes or {}).get(EVENT_ID)): r for r in logs}
    shown_logs: set[int] = set()
    events_shown = 0
    spans: list[ReadableSpan] = sorted(captured.spans(), key=lambda s: s.start_time or 0)
    for number, span in enumerate(spans, 1):
        ctx = span.context
        scopes = sorted(
            {
                str(e.attributes.get("user.id", "system"))
                for e in span.events
                if e.attributes and EVENT_ID in e.attributes
            }
        )
        who = ", ".join(f"user {s}" if s != "system" else "system" for s in scopes) or "no business events"
        out.write(f'span {number}  "{span.name}"  {who}  trace {ctx.trace_id:032x}  span {ctx.span_id:016x}\n')
        if span_attributes:
            kind = span.kind.name if span.kind else "?"
            status = span.status.status_code.name
            out.write(f"  kind {kind}, status {status}, attributes:\n")
            out.writelines(line + "\n" for line in _attribute_lines(span.attributes, "    "))
        for event in span.events:
            attrs = dict(event.attributes or {})
            if EVENT_ID not in attrs:
                # Not a business event: the SDK's own, such as the ``exception`` event of a failed call.
                summary = ", ".join(f"{k} {_value(v)}" for k, v in attrs.items() if k != "exception.stacktrace")
                out.write(f"  ({event.name} span event of the SDK: {summary})\n")
                continue
            events_shown += 1
            out.write(f"  {event.name}  {_time(event.timestamp)}\n")
            out.write(f"    span event, {len(attrs)} attributes:\n")
            out.writelines(line + "\n" for line in _attribute_lines(attrs, "      "))
            record = by_key.get((ctx.span_id, attrs.get(EVENT_ID)))
            if record is None:
                out.write("    log record: none with this event id\n")
                continue
            shown_logs.add(id(record))
            same = "same trace and span" if record.trace_id == ctx.trace_id else f"trace {record.trace_id or 0:032x}"
            log_attrs = dict(record.attributes or {})
            agreement = f"the same {len(log_attrs)} attributes" if log_attrs == attrs else "its own attributes:"
            out.write(f"    log record, {record.severity_text}, event_name {record.event_name}, {same}, {agreement}\n")
            if log_attrs != attrs:
                out.writelines(line + "\n" for line in _attribute_lines(log_attrs, "      "))
            body = json.dumps(record.body, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
            out.writelines(line + "\n" for line in _wrapped("body", body, "      "))
        out.write("\n")
    loose = [r for r in logs if id(r) not in shown_logs]
    if loose:
        out.write("log records without a span event:\n")
        for record in loose:
            out.write(f"  {record.event_name}  {_time(record.timestamp)}  {record.severity_text}\n")
            out.writelines(line + "\n" for line in _attribute_lines(record.attributes, "      "))
        out.write("\n")
    return events_shown, len(logs)


def _count_line(events: Iterable[BusinessEvent]) -> str:
    counts = Counter(e.event_type for e in events)
    return ", ".join(f"{name} {n}" for name, n in counts.items())


def _token_line(events: Iterable[BusinessEvent]) -> str:
    totals: Counter[str] = Counter()
    for event in events:
        if event.event_type != event_types.LLM_RESPONSE:
            continue
        for key in ("input_tokens", "output_tokens", "cache_read_tokens"):
            # The crate's Anthropic input leaves the cache out; the dialect table added the total.
            value = event.metadata.get("gen_ai.usage.input_tokens" if key == "input_tokens" else key)
            if value is None:
                value = event.metadata.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                totals[key] += value
    return (
        f"input {totals['input_tokens']:,} (of which cache read {totals['cache_read_tokens']:,}),"
        f" output {totals['output_tokens']:,}"
    )


def show_sample(out: IO[str]) -> int:
    """The embedded default: the bundled session through the real mapping, printed."""
    sample = load_sample()
    groups = group_requests(sample)
    out.write(
        f"multi-llm-otel demo: a bundled session of {len(sample)} business events: what @llm_call emits, then\n"
        "what the Rust multi-llm crate's providers wrote against llama-server (each line says which),\n"
        "with the cache events derived for the crate; bridged through this library's mapping into in-memory\n"
        "OpenTelemetry providers. Each request runs under one span; every event becomes a span event\n"
        "and a log record with the same attributes. No server is needed.\n\n"
    )
    with capture() as captured:
        replay(groups, captured.emitter)
        span_events, log_records = render(captured, out, span_attributes=False)
    events = [e for e, _ in sample]
    users = sorted({s.user_id for _, s in sample if s.user_id is not None})
    system = sum(1 for _, s in sample if s.user_id is None)
    errors = sum(1 for e in events if e.event_type in (event_types.LLM_ERROR, event_types.ERROR))
    out.write(
        f"summary: {len(sample)} events in {len(groups)} spans became {span_events} span events and"
        f" {log_records} log records\n"
        f"  by type:  {_count_line(events)}\n"
        f"  by scope: user {len(sample) - system} ({', '.join(users)}), system {system}\n"
        f"  tokens:   {_token_line(events)}\n"
        f"  severity: ERROR on {errors} log record(s), INFO on the rest\n\n"
        "next: `multi-llm-otel ingest FILE` bridges such JSON lines to OTLP (set OTEL_EXPORTER_OTLP_ENDPOINT);\n"
        "      `multi-llm-otel demo --base-url URL --model NAME` makes real calls through @llm_call;\n"
        "      `multi-llm-otel check` shows where telemetry would go.\n"
    )
    return ExitCode.OK


def at_now(events: Sequence[Scoped], now: datetime | None = None) -> list[Scoped]:
    """The events moved in time so the last one happens ``now``, their spacing kept: exported
    with their recorded dates they would fall outside a trace backend's default search window."""
    now = now or datetime.now(timezone.utc)
    shift = now - max((event.created_at for event, _ in events), default=now)
    return [(replace(event, created_at=event.created_at + shift), scope) for event, scope in events]


def export_sample(out: IO[str], err: IO[str]) -> int:
    """The bundled session sent to the configured exporters instead of printed (``--export``),
    placed at the current time."""
    from multi_llm_otel import _diagnostics
    from multi_llm_otel._settings import resolve
    from multi_llm_otel._setup import configure_with_settings

    sample = at_now(load_sample())
    groups = group_requests(sample)
    settings = resolve()
    if settings.sink is None:
        settings = replace(settings, sink=out, sink_source="stdout")
    before = _diagnostics.stats()
    with ExportWatch(Reporter(err, progress=False)) as watch:
        telemetry = configure_with_settings(settings, "multi-llm-otel-demo", handle_sigterm=False)
        replay(groups, telemetry.emitter)
        shut_down = telemetry.shutdown()
    lost = losses(stats_delta(before))
    kinds = ", ".join(f"{signal}: {kind}" for signal, kind in telemetry.exporters.items())
    if watch.failures or lost or not shut_down:
        counts = "".join(f"; {k} {n}" for k, n in sorted(lost.items()))
        err.write(f"multi-llm-otel demo: EXPORT FAILED ({kinds}{counts}); `multi-llm-otel check` tests the endpoint\n")
        return ExitCode.EXPORT_FAILED
    err.write(
        f"multi-llm-otel demo: {len(sample)} events in {len(groups)} spans exported ({kinds}),"
        " placed at the current time\n"
    )
    return ExitCode.OK


# Long enough that a server with a prompt cache (llama.cpp, OpenAI from 1,024 tokens) can
# serve the second identical request from it, so the demo shows a real cache hit.
_SYSTEM_PROMPT: Final = " ".join(
    [
        "You are the support assistant of a small online bookshop. Answer in one short sentence.",
        "Orders ship within two working days; returns are free within thirty days of delivery;",
        "refunds go back to the original payment method within five working days of the return.",
    ]
    * 12
)
_QUESTIONS: Final = ("How long does shipping take?", "Can I return a book after three weeks?")


Call = tuple[str, Callable[[], str]]


class _MissingSDK(Exception):
    pass


def _openai_calls(base_url: str, model: str, max_tokens: int, scope: EventScope) -> list[Call]:
    try:
        import openai
    except ImportError:
        raise _MissingSDK("the OpenAI SDK is not installed: pip install 'multi-llm-otel[openai]'") from None
    # The SDK refuses to start without a key; local servers ignore it.
    client = openai.OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "unused", max_retries=0)

    @llm_call(client=client, scope=scope)
    def chat(**kwargs: Any) -> Any:
        return client.chat.completions.create(**kwargs)

    def ask(question: str, stream: bool) -> str:
        messages = [{"role": "system", "content": _SYSTEM_PROMPT}, {"role": "user", "content": question}]
        if not stream:
            response = chat(model=model, messages=messages, max_tokens=max_tokens)
            return str(response.choices[0].message.content or "")
        chunks = chat(
            model=model, messages=messages, max_tokens=max_tokens, stream=True, stream_options={"include_usage": True}
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    return _three_calls(ask)


def _anthropic_calls(base_url: str, model: str, max_tokens: int, scope: EventScope) -> list[Call]:
    try:
        import anthropic
    except ImportError:
        raise _MissingSDK("the Anthropic SDK is not installed: pip install 'multi-llm-otel[anthropic]'") from None
    client = anthropic.Anthropic(
        base_url=base_url, api_key=os.environ.get("ANTHROPIC_API_KEY") or "unused", max_retries=0
    )

    @llm_call(client=client, scope=scope)
    def chat(**kwargs: Any) -> Any:
        return client.messages.create(**kwargs)

    def ask(question: str, stream: bool) -> str:
        messages = [{"role": "user", "content": question}]
        if not stream:
            response = chat(model=model, system=_SYSTEM_PROMPT, messages=messages, max_tokens=max_tokens)
            return "".join(getattr(block, "text", "") for block in response.content)
        events = chat(model=model, system=_SYSTEM_PROMPT, messages=messages, max_tokens=max_tokens, stream=True)
        return "".join(getattr(e.delta, "text", "") for e in events if e.type == "content_block_delta")

    return _three_calls(ask)


def _three_calls(ask: Callable[[str, bool], str]) -> list[Call]:
    first, second = _QUESTIONS
    return [
        ("plain", lambda: ask(first, False)),
        ("plain, same prompt again", lambda: ask(first, False)),
        ("streamed", lambda: ask(second, True)),
    ]


def _metric_lines(captured: Captured) -> list[str]:
    """One line per data point with what sets it apart; the attributes every point shares once."""
    points = [(name, p) for name, found in sorted(captured.metrics().items()) for p in found]
    if not points:
        return []
    shared = set.intersection(*(set(dict(p.attributes or {}).items()) for _, p in points))
    lines = []
    for name, point in points:
        own = ", ".join(f"{k}={v}" for k, v in sorted(dict(point.attributes or {}).items()) if (k, v) not in shared)
        value = f"count {point.count}, sum {point.sum:g}" if hasattr(point, "count") else f"value {point.value}"
        lines.append(f"  {name}  {value}" + (f"  ({own})" if own else ""))
    common = ", ".join(f"{k}={v}" for k, v in sorted(shared))
    return lines + _wrapped("every point also has", common, "  ")


def live(api: str, base_url: str, model: str, max_tokens: int, out: IO[str], err: IO[str]) -> int:
    """Real calls through ``@llm_call``: two plain ones with the same prompt (a server with a
    prompt cache reports the second as a hit) and a streamed one. Returns 1 if a call failed,
    2 if the SDK for ``api`` is missing."""
    scope = EventScope.user("demo-user")
    build = _openai_calls if api == "openai" else _anthropic_calls
    try:
        calls = build(base_url, model, max_tokens, scope)
    except _MissingSDK as exc:
        err.write(f"multi-llm-otel demo: {exc}\n")
        return ExitCode.USAGE
    out.write(
        f"multi-llm-otel demo: {len(calls)} real calls to {base_url} ({api} API, model {model}) through\n"
        "@llm_call, in user scope demo-user, captured in memory. Prompt text is not recorded unless\n"
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.\n\n"
    )
    failures = 0
    with capture() as captured:
        for number, (label, call) in enumerate(calls, 1):
            try:
                answer = call()
            except Exception as exc:  # noqa: BLE001 - every SDK error is reported the same way
                failures += 1
                out.write(f"call {number} ({label}) failed: {type(exc).__name__}: {_first_line(exc)}\n")
                continue
            out.write(f"call {number} ({label}) answered: {_value(_first_line(answer, 80))}\n")
        out.write("\n")
        span_events, log_records = render(captured, out, span_attributes=True)
        metric_lines = _metric_lines(captured)
    if metric_lines:
        out.write("metrics:\n")
        out.writelines(line + "\n" for line in metric_lines)
        out.write("\n")
    out.write(
        f"summary: {len(calls)} calls, {failures} failed; {span_events} span events and {log_records} log records\n"
    )
    return ExitCode.PROBLEM if failures else ExitCode.OK


def _first_line(value: object, limit: int = 200) -> str:
    text = str(value).strip().splitlines()[0] if str(value).strip() else ""
    return text if len(text) <= limit else text[:limit] + "…"
