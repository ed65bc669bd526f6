"""Everything a ``capture()`` block would export, as text, for searching.

Two forms, both searched: the SDK's own JSON of every span, log record and metric point
(each with its Resource), and the OTLP protobuf bytes the exporters would send.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from multi_llm_otel.testing import Captured


def exported_text(captured: Captured) -> str:
    spans = captured.spans()
    logs = captured.log_exporter.get_finished_logs()
    metrics = captured.metric_reader.get_metrics_data()
    parts = [span.to_json() for span in spans]
    parts += [record.to_json() for record in logs]
    if metrics is not None:
        parts.append(metrics.to_json())
    wire = [encode_spans(spans).SerializeToString(), encode_logs(logs).SerializeToString()]
    if metrics is not None:
        wire.append(encode_metrics(metrics).SerializeToString())
    parts += [blob.decode("utf-8", errors="replace") for blob in wire]
    return "\n".join(parts)
