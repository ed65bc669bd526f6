"""The Prometheus metric names the agent's pipelines produce, as the exporter spells them.

The dashboard may use only these; the end-to-end test checks each one really appears in
Prometheus after the library has sent its events and metrics through the Collector.
"""

from __future__ import annotations

# From the count connector (agent.yaml `connectors.count`), one per business event type.
EVENT_COUNTERS = (
    "multi_llm_llm_requests_total",
    "multi_llm_llm_responses_total",
    "multi_llm_llm_errors_total",
    "multi_llm_cache_hits_total",
    "multi_llm_cache_misses_total",
)

# From the library's GenAI histograms (OpenTelemetry SDK -> OTLP -> Prometheus exporter).
SDK_HISTOGRAMS = (
    "gen_ai_client_token_usage_bucket",
    "gen_ai_client_token_usage_sum",
    "gen_ai_client_token_usage_count",
    "gen_ai_client_operation_duration_seconds_bucket",
    "gen_ai_client_operation_duration_seconds_sum",
    "gen_ai_client_operation_duration_seconds_count",
)

# The library's cost counter (unit "{USD}": the annotation leaves no suffix on the name).
SDK_COUNTERS = ("multi_llm_client_cost_total",)

KNOWN_METRICS = frozenset(EVENT_COUNTERS + SDK_HISTOGRAMS + SDK_COUNTERS)
