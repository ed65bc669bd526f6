"""The GenAI client metrics of a call: the three histograms, and one ``record`` per call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from multi_llm_otel import _attribute_names as names

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from multi_llm_otel._pricing import Cost

# Bucket boundaries advised by the GenAI semantic conventions for these histograms.
_TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)


class CallMetrics:
    """``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration`` and
    ``gen_ai.client.operation.time_to_first_chunk`` on one meter."""

    def __init__(self, meter: Meter) -> None:
        self.token_usage = meter.create_histogram(
            *names.TOKEN_USAGE, explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS
        )
        self.operation_duration = meter.create_histogram(
            *names.OPERATION_DURATION, explicit_bucket_boundaries_advisory=_DURATION_BUCKETS
        )
        self.time_to_first_chunk = meter.create_histogram(
            *names.TIME_TO_FIRST_CHUNK, explicit_bucket_boundaries_advisory=_DURATION_BUCKETS
        )
        self.cost = meter.create_counter(*names.COST)

    def record(
        self,
        attrs: dict[str, Any],
        duration: float,
        time_to_first_chunk: float | None,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> None:
        self.operation_duration.record(duration, attrs)
        if time_to_first_chunk is not None:
            self.time_to_first_chunk.record(time_to_first_chunk, attrs)
        if input_tokens is not None:
            self.token_usage.record(input_tokens, {**attrs, names.TOKEN_TYPE: "input"})
        if output_tokens is not None:
            self.token_usage.record(output_tokens, {**attrs, names.TOKEN_TYPE: "output"})

    def record_cost(self, attrs: dict[str, Any], cost: Cost) -> None:
        """One point per priced part (input, cached input, cache write, output) that cost anything."""
        for kind, amount in cost.parts():
            if amount:
                self.cost.add(amount, {**attrs, names.COST_TYPE: kind})
