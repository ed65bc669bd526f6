"""The one reading of the telemetry settings: every ``OTEL_*`` / ``MULTI_LLM_OTEL_*`` variable and
the arguments of ``configure()``, resolved into a typed, validated ``Settings``.

``configure()`` builds the providers from it and ``multi-llm-otel check`` prints it, so the
command shows exactly what the library does. A value the SDK would refuse (or crash on) becomes
one ``Problem`` naming the variable and the default used instead: ``configure()`` warns and goes
on with the default, ``check`` reports it as an error. Standard library only, so ``check`` and
the resolver cost no OpenTelemetry import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Final

from multi_llm_otel._env_reader import EnvReader, Problem, parse_pairs
from multi_llm_otel._otlp_endpoints import Endpoint, otlp_endpoint

__all__ = ["SIGNALS", "Batch", "Endpoint", "Limits", "Problem", "Sampler", "Settings", "resolve"]

SIGNALS: Final = ("traces", "logs", "metrics")
PROTOCOLS: Final = ("http/protobuf", "grpc")
EXPORTER_KINDS: Final = ("otlp", "console", "none")
SAMPLERS: Final = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_SAMPLER: Final = "parentbased_always_on"
_DEFAULT_LIMIT: Final = 128


@dataclass(frozen=True)
class Batch:
    """A batch processor's queue: ``OTEL_BSP_*`` for spans, ``OTEL_BLRP_*`` for log records."""

    max_queue_size: int
    max_export_batch_size: int
    schedule_delay_millis: int
    export_timeout_millis: int


@dataclass(frozen=True)
class Limits:
    """Attribute limits; ``None`` is no limit (only lengths have none by default)."""

    attributes: int
    span_attributes: int
    event_attributes: int
    link_attributes: int
    span_events: int
    span_links: int
    log_attributes: int
    value_length: int | None
    span_value_length: int | None
    log_value_length: int | None


@dataclass(frozen=True)
class Sampler:
    name: str
    ratio: float
    source: str
    # A name the SDK finds as an ``opentelemetry_traces_sampler`` entry point: left to the SDK.
    plugin: bool = False


@dataclass(frozen=True)
class Settings:
    exporters: Mapping[str, str]
    otlp: bool
    protocol: str
    protocol_source: str
    endpoints: Mapping[str, Endpoint]
    header_counts: Mapping[str, int]
    sink: str | IO[str] | None
    sink_source: str
    spans: Batch
    logs: Batch
    metric_export_interval_millis: int
    metric_export_timeout_millis: int
    limits: Limits
    sampler: Sampler
    service_name: str | None
    service_name_source: str
    resource_attributes: tuple[tuple[str, str], ...]
    user_id_hash_key: bytes | None
    sdk_disabled: bool
    # Events also put on their span by the span event bridge (MULTI_LLM_OTEL_SPAN_EVENTS).
    span_events: bool
    problems: tuple[Problem, ...] = ()
    # Settings that are valid but have no effect here (said by ``check``, not warned about).
    notes: tuple[str, ...] = field(default=())

    def problem_for(self, variable: str) -> Problem | None:
        return next((p for p in self.problems if p.variable == variable), None)


def _batch(r: EnvReader, prefix: str, delay_default: int) -> Batch:
    queue = r.integer(f"{prefix}_MAX_QUEUE_SIZE", 2048, minimum=1)
    batch_name = f"{prefix}_MAX_EXPORT_BATCH_SIZE"
    batch = r.integer(batch_name, min(512, queue), minimum=1)
    if batch > queue:
        fallback = min(512, queue)
        r.problem(batch_name, r.text(batch_name), f"is larger than the queue ({queue})", f"{fallback}")
        batch = fallback
    return Batch(
        max_queue_size=queue,
        max_export_batch_size=batch,
        schedule_delay_millis=r.integer(f"{prefix}_SCHEDULE_DELAY", delay_default, minimum=1),
        export_timeout_millis=r.integer(f"{prefix}_EXPORT_TIMEOUT", 30_000, minimum=0),
    )


def _limits(r: EnvReader) -> Limits:
    general = r.optional_limit("OTEL_ATTRIBUTE_COUNT_LIMIT", None, shown=f"the default {_DEFAULT_LIMIT}")
    count = general if general is not None else _DEFAULT_LIMIT
    length = r.optional_limit("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", None)

    def limit(name: str, default: int) -> int:
        value = r.optional_limit(name, default)
        return default if value is None else value

    return Limits(
        attributes=count,
        span_attributes=limit("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", count),
        event_attributes=limit("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", count),
        link_attributes=limit("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", count),
        span_events=limit("OTEL_SPAN_EVENT_COUNT_LIMIT", _DEFAULT_LIMIT),
        span_links=limit("OTEL_SPAN_LINK_COUNT_LIMIT", _DEFAULT_LIMIT),
        log_attributes=limit("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", count),
        value_length=length,
        span_value_length=r.optional_limit("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", length),
        log_value_length=r.optional_limit("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", length),
    )


def _sampler(r: EnvReader, plugins: frozenset[str]) -> Sampler:
    name = r.text("OTEL_TRACES_SAMPLER").lower()
    if not name:
        return Sampler(DEFAULT_SAMPLER, 1.0, "default")
    if name not in SAMPLERS:
        if name in plugins:
            return Sampler(name, 1.0, "OTEL_TRACES_SAMPLER", plugin=True)
        r.problem("OTEL_TRACES_SAMPLER", name, "is not a sampler the SDK knows", DEFAULT_SAMPLER)
        return Sampler(DEFAULT_SAMPLER, 1.0, "default, OTEL_TRACES_SAMPLER is invalid")
    ratio = 1.0
    arg = r.text("OTEL_TRACES_SAMPLER_ARG")
    if name.endswith("traceidratio") and arg:
        try:
            ratio = float(arg)
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            r.problem("OTEL_TRACES_SAMPLER_ARG", arg, "is not a ratio between 0 and 1", "1.0")
            ratio = 1.0
    return Sampler(name, ratio, "OTEL_TRACES_SAMPLER")


def _sampler_plugins() -> frozenset[str]:
    from importlib.metadata import entry_points

    try:
        return frozenset(ep.name for ep in entry_points(group="opentelemetry_traces_sampler"))
    except Exception:  # noqa: BLE001 - a broken distribution must not stop the set-up
        return frozenset()


def _sink_problem(target: str) -> str | None:
    if os.path.isdir(target):
        return "is a directory"
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        return f"is in a folder that does not exist ({folder})"
    if os.path.exists(target) and not os.access(target, os.W_OK):
        return "is not writable"
    if not os.path.exists(target) and not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot be created ({folder} is not writable)"
    return None


def _sink(r: EnvReader, given: str | IO[str] | None, used: bool) -> tuple[str | IO[str] | None, str]:
    if given is not None and not isinstance(given, str):
        return given, "configure(sink=...)"
    name, target = (
        ("configure(sink=...)", given) if given is not None else ("MULTI_LLM_OTEL_SINK", r.text("MULTI_LLM_OTEL_SINK"))
    )
    if not target:
        return None, "default"
    error = _sink_problem(target) if used else None
    if error is not None:
        r.problem(name, target, error, "the program's stderr")
        return None, f"stderr, {name} is unusable"
    return target, name


def _exporters(r: EnvReader, otlp: bool) -> dict[str, str]:
    kinds = {}
    for signal in SIGNALS:
        name = f"OTEL_{signal.upper()}_EXPORTER"
        chosen = r.text(name).lower()
        default = "otlp" if otlp else "console"
        if chosen and chosen not in EXPORTER_KINDS:
            r.problem(name, chosen, "is not otlp, console or none", default)
            chosen = ""
        kinds[signal] = chosen or default
    return kinds


def _protocol(r: EnvReader, given: str | None) -> tuple[str, str]:
    name, raw = (
        ("configure(protocol=...)", given.strip())
        if given
        else ("OTEL_EXPORTER_OTLP_PROTOCOL", r.text("OTEL_EXPORTER_OTLP_PROTOCOL"))
    )
    if not raw:
        return "http/protobuf", "default"
    if raw.lower() not in PROTOCOLS:
        r.problem(name, raw, "is not a protocol the Python SDK exports (grpc, http/protobuf)", "http/protobuf")
        return "http/protobuf", f"default, {name} is invalid"
    return raw.lower(), name


def _service(r: EnvReader, attributes: list[tuple[str, str]]) -> tuple[str | None, str]:
    if r.text("OTEL_SERVICE_NAME"):
        return r.text("OTEL_SERVICE_NAME"), "OTEL_SERVICE_NAME"
    from_attributes = next((v for k, v in attributes if k == "service.name"), None)
    if from_attributes:
        return from_attributes, "OTEL_RESOURCE_ATTRIBUTES"
    return None, "default"


def _span_events(r: EnvReader, given: bool | None) -> bool:
    if given is not None:
        return given
    raw = r.text("MULTI_LLM_OTEL_SPAN_EVENTS").lower()
    if raw in ("", "true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    r.problem("MULTI_LLM_OTEL_SPAN_EVENTS", raw, "is not true or false", "true")
    return True


def resolve(
    env: Mapping[str, str] | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    sink: str | IO[str] | None = None,
    user_id_hash_key: bytes | str | None = None,
    span_events: bool | None = None,
) -> Settings:
    """Every setting ``configure()`` applies, from ``env`` (default: the process environment)
    and the arguments given to ``configure()``; never raises on a bad value."""
    r = EnvReader(os.environ if env is None else env)
    otlp = endpoint is not None or any(
        r.text(n)
        for n in ["OTEL_EXPORTER_OTLP_ENDPOINT"] + [f"OTEL_EXPORTER_OTLP_{s.upper()}_ENDPOINT" for s in SIGNALS]
    )
    exporters = _exporters(r, otlp)
    proto, proto_source = _protocol(r, protocol)
    endpoints = {s: otlp_endpoint(r, s, proto, endpoint) for s in SIGNALS if exporters[s] == "otlp"}
    header_vars = ["OTEL_EXPORTER_OTLP_HEADERS"] + [f"OTEL_EXPORTER_OTLP_{s.upper()}_HEADERS" for s in SIGNALS]
    notes = [
        f"{v} is ignored: configure() uses one protocol for every signal"
        for s in SIGNALS
        if r.text(v := f"OTEL_EXPORTER_OTLP_{s.upper()}_PROTOCOL")
    ]
    sink_target, sink_source = _sink(r, sink, "console" in exporters.values())
    key = user_id_hash_key if user_id_hash_key is not None else (r.text("MULTI_LLM_OTEL_USER_ID_HASH_KEY") or None)
    attributes = parse_pairs(r.text("OTEL_RESOURCE_ATTRIBUTES"))
    service, service_source = _service(r, attributes)
    return Settings(
        exporters=exporters,
        otlp=otlp,
        protocol=proto,
        protocol_source=proto_source,
        endpoints=endpoints,
        header_counts={v: len(parse_pairs(r.text(v))) for v in header_vars if r.text(v)},
        sink=sink_target,
        sink_source=sink_source,
        spans=_batch(r, "OTEL_BSP", 5000),
        logs=_batch(r, "OTEL_BLRP", 1000),
        metric_export_interval_millis=r.integer("OTEL_METRIC_EXPORT_INTERVAL", 60_000, minimum=1),
        metric_export_timeout_millis=r.integer("OTEL_METRIC_EXPORT_TIMEOUT", 30_000, minimum=0),
        limits=_limits(r),
        sampler=_sampler(r, _sampler_plugins() if r.text("OTEL_TRACES_SAMPLER") else frozenset()),
        service_name=service,
        service_name_source=service_source,
        resource_attributes=tuple(attributes),
        user_id_hash_key=key.encode() if isinstance(key, str) else key,
        sdk_disabled=r.text("OTEL_SDK_DISABLED").lower() == "true",
        span_events=_span_events(r, span_events),
        problems=tuple(r.problems),
        notes=tuple(notes),
    )
