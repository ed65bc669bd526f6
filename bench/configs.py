"""The configurations: how each one is set up inside its own worker process, and how it makes
one call of a scenario. Each worker runs exactly one configuration, since most peers patch the
SDKs globally and cannot be switched off cleanly.

Every configuration exports through ``bench.pipeline.Pipeline``: batch processors, exporters
that count and drop, one metric reader. Peers run at their documented defaults (content
capture included where that is their default), given our providers explicitly or as the
globals they read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from bench.catalog import CONFIGS
from bench.pipeline import Pipeline
from bench.scenarios import Scenario, plain_call

Call = Callable[[Scenario], None]


def setup(name: str, port: int) -> tuple[Pipeline, Call]:
    """Set up configuration ``name`` in this process; returns its pipeline and its call."""
    config = CONFIGS[name]
    for key, value in config.extra_env:
        os.environ[key] = value
    from bench.scenarios import make_clients

    kind = config.kind
    # Langfuse brings its own batch span processor (exporting to our sink): no second one.
    pipeline = Pipeline(span_processor=name != "langfuse")
    pipeline.install_global()

    if kind in ("baseline", "reference"):
        clients = make_clients(port)
        return pipeline, lambda s: plain_call(clients[s.provider], s)
    if kind == "floor":
        return pipeline, _floor(pipeline, port)
    if name == "ours-instrument":
        return pipeline, _ours_instrument(pipeline, port)
    if kind == "ours":
        return pipeline, _ours(pipeline, port)
    return pipeline, _PEERS[name.replace("-nocontent", "")](pipeline, port)


def _floor(pipeline: Pipeline, port: int) -> Call:
    from bench.floor import Floor
    from bench.scenarios import make_clients

    floor = Floor(pipeline.tracer_provider, pipeline.logger_provider, pipeline.meter_provider, port)
    clients = make_clients(port)
    oc, ac = clients["openai"], clients["anthropic"]

    def call(s: Scenario) -> None:
        if s.provider == "openai":
            if s.stream:
                for _ in floor.openai_stream(oc, s.kwargs):
                    pass
            else:
                floor.openai(oc, s.kwargs)
        elif s.stream:
            for _ in floor.anthropic_stream(ac, s.kwargs):
                pass
        else:
            floor.anthropic(ac, s.kwargs)

    return call


def _ours(pipeline: Pipeline, port: int) -> Call:
    from bench.scenarios import make_clients
    from multi_llm_otel import EventToSpanEventBridge, llm_call
    from multi_llm_otel._emitter import Emitter, install

    # As configure() sets it up: the events reach their spans through the bridge.
    pipeline.logger_provider.add_log_record_processor(EventToSpanEventBridge())
    install(Emitter(pipeline.tracer_provider, pipeline.logger_provider, pipeline.meter_provider))
    clients = make_clients(port)
    oc, ac = clients["openai"], clients["anthropic"]

    @llm_call
    def chat(client: Any, **kwargs: Any) -> Any:
        return client.chat.completions.create(**kwargs)

    @llm_call
    def message(client: Any, **kwargs: Any) -> Any:
        return client.messages.create(**kwargs)

    def call(s: Scenario) -> None:
        result = chat(oc, **s.kwargs) if s.provider == "openai" else message(ac, **s.kwargs)
        if s.stream:
            for _ in result:
                pass

    return call


def _ours_instrument(pipeline: Pipeline, port: int) -> Call:
    from multi_llm_otel import EventToSpanEventBridge, instrument
    from multi_llm_otel._emitter import Emitter, install

    pipeline.logger_provider.add_log_record_processor(EventToSpanEventBridge())
    install(Emitter(pipeline.tracer_provider, pipeline.logger_provider, pipeline.meter_provider))
    instrument()
    return _plain(port)


# -- peers ------------------------------------------------------------------------------------


def _contrib(pipeline: Pipeline, port: int) -> Call:
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

    providers = _providers(pipeline)
    OpenAIInstrumentor().instrument(**providers)
    AnthropicInstrumentor().instrument(**providers)
    return _plain(port)


def _openllmetry(pipeline: Pipeline, port: int) -> Call:
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    providers = _providers(pipeline)
    OpenAIInstrumentor().instrument(**providers)
    AnthropicInstrumentor().instrument(**providers)
    return _plain(port)


def _openinference(pipeline: Pipeline, port: int) -> Call:
    from openinference.instrumentation.anthropic import AnthropicInstrumentor
    from openinference.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=pipeline.tracer_provider)
    AnthropicInstrumentor().instrument(tracer_provider=pipeline.tracer_provider)
    return _plain(port)


def _langfuse(pipeline: Pipeline, port: int) -> Call:
    from langfuse import Langfuse

    # Langfuse adds its own batch span processor to the provider it is given; it exports with
    # our counting, dropping exporter, so the pipeline is still one batch processor per signal.
    Langfuse(
        public_key="pk-lf-bench",
        secret_key="sk-lf-bench",
        base_url=f"http://127.0.0.1:{port}",
        tracer_provider=pipeline.tracer_provider,
        span_exporter=pipeline.spans,
    )
    from langfuse.openai import openai as lf_openai

    client = lf_openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)

    def call(s: Scenario) -> None:
        plain_call(client, s)

    return call


def _openlit(pipeline: Pipeline, port: int) -> Call:
    import openlit

    # A local pricing file: by default OpenLIT fetches one from the internet at start.
    pricing = os.path.join(tempfile.mkdtemp(prefix="bench-openlit-"), "pricing.json")
    with open(pricing, "w") as fh:
        fh.write('{"chat": {}, "embeddings": {}, "images": {}, "audio": {}}')
    openlit.init(service_name="multi-llm-otel-bench", pricing_json=pricing)
    return _plain(port)


def _plain(port: int) -> Call:
    from bench.scenarios import make_clients

    clients = make_clients(port)
    return lambda s: plain_call(clients[s.provider], s)


def _providers(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "tracer_provider": pipeline.tracer_provider,
        "logger_provider": pipeline.logger_provider,
        "meter_provider": pipeline.meter_provider,
    }


_PEERS: dict[str, Callable[[Pipeline, int], Call]] = {
    "contrib": _contrib,
    "openllmetry": _openllmetry,
    "openinference": _openinference,
    "langfuse": _langfuse,
    "openlit": _openlit,
}
