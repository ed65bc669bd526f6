"""The configurations the benchmark measures: names, labels, environments, notes.

Standard library only, so the coordinator (any Python) can read it; ``bench.configs`` sets
each one up inside its worker.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    name: str
    label: str
    env: str  # "main" or "openlit": which virtual environment runs it
    kind: str  # "baseline" | "floor" | "ours" | "peer" | "reference" (shown, not a target)
    providers: tuple[str, ...] = ("openai", "anthropic")
    note: str = ""
    extra_env: tuple[tuple[str, str], ...] = ()


CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("baseline", "no instrumentation", "main", "baseline"),
        Config("floor", "floor (hand-written OTel)", "main", "floor"),
        Config("ours", "multi-llm-otel @llm_call", "main", "ours"),
        Config(
            "ours-instrument",
            "multi-llm-otel instrument()",
            "main",
            "ours",
            note="multi_llm_otel.instrument(): the SDK methods wrapped, the application's calls left as they are",
        ),
        Config(
            "contrib",
            "OTel contrib genai-openai/-anthropic",
            "main",
            "peer",
            note="opentelemetry-instrumentation-genai-openai / -anthropic (successors of openai-v2), defaults",
        ),
        Config(
            "openllmetry",
            "OpenLLMetry",
            "main",
            "peer",
            note="opentelemetry-instrumentation-openai / -anthropic (Traceloop), defaults: content captured",
        ),
        Config(
            "openllmetry-nocontent",
            "OpenLLMetry, content off",
            "main",
            "peer",
            note="as above with TRACELOOP_TRACE_CONTENT=false",
            extra_env=(("TRACELOOP_TRACE_CONTENT", "false"),),
        ),
        Config(
            "openinference",
            "OpenInference",
            "main",
            "peer",
            note="openinference-instrumentation-openai / -anthropic, defaults: content captured",
        ),
        Config(
            "openinference-nocontent",
            "OpenInference, content off",
            "main",
            "peer",
            note="as above with OPENINFERENCE_HIDE_INPUTS=true, OPENINFERENCE_HIDE_OUTPUTS=true",
            extra_env=(("OPENINFERENCE_HIDE_INPUTS", "true"), ("OPENINFERENCE_HIDE_OUTPUTS", "true")),
        ),
        Config(
            "langfuse",
            "Langfuse",
            "main",
            "peer",
            providers=("openai",),
            note="langfuse.openai drop-in (Langfuse has no Anthropic SDK wrapper); its span processor, our exporter",
        ),
        Config(
            "anthropic-native",
            "anthropic SDK's own tracing",
            "main",
            "reference",
            providers=("anthropic",),
            note="anthropic >= 2 emits one CLIENT span per call by itself when OpenTelemetry is installed "
            "(ANTHROPIC_OPEN_TELEMETRY); switched off in every other configuration, on here; not a target peer",
            extra_env=(("ANTHROPIC_OPEN_TELEMETRY", "true"),),
        ),
        Config("openlit-baseline", "no instrumentation (OpenLIT env)", "openlit", "baseline"),
        Config("openlit-floor", "floor (OpenLIT env)", "openlit", "floor"),
        Config("openlit-ours", "multi-llm-otel @llm_call (OpenLIT env)", "openlit", "ours"),
        Config(
            "openlit",
            "OpenLIT",
            "openlit",
            "peer",
            note="openlit.init() on our providers, defaults (content captured, its other instrumentors on)",
        ),
    )
}
