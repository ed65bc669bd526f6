"""Checks that the floor produces exactly the telemetry ``@llm_call`` produces for each scenario.

Both run in this process, each on its own pipeline with exporters that keep what they get;
the exported spans, span events, log records and metric points are compared after removing
what legitimately differs per call (event ids, timestamps, durations, time to first chunk,
instrumentation scope). ``python -m bench.parity PORT`` prints the differences (none: exit 0).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.scenarios import SCENARIOS

VOLATILE = {"multi_llm.event.id", "duration_ms", "time_to_first_chunk_ms", "gen_ai.response.time_to_first_chunk"}


def _attrs(mapping: Any) -> dict[str, str]:
    # repr keeps the types: a tuple and a list, or 1 and 1.0, are different attribute values.
    return {k: repr(v) for k, v in dict(mapping or {}).items() if k not in VOLATILE}


def snapshot(pipeline: Any) -> dict[str, Any]:
    pipeline.flush()
    spans = []
    span_ids = set()
    for s in pipeline.spans.keep or []:
        span_ids.add((s.context.trace_id, s.context.span_id))
        spans.append(
            {
                "name": s.name,
                "kind": str(s.kind),
                "status": str(s.status.status_code),
                "attributes": _attrs(s.attributes),
                "events": [{"name": e.name, "attributes": _attrs(e.attributes)} for e in s.events],
            }
        )
    logs = []
    for r in pipeline.logs.keep or []:
        rec = getattr(r, "log_record", r)
        body = rec.body if isinstance(rec.body, dict) else {"<body>": rec.body}
        logs.append(
            {
                "event_name": rec.event_name,
                "severity": [str(rec.severity_number), rec.severity_text],
                "body": _attrs(body),
                "attributes": _attrs(rec.attributes),
                "in_span": (rec.trace_id, rec.span_id) in span_ids,
            }
        )
    points: dict[str, list[Any]] = {}
    for data in (pipeline.metrics.keep or [])[-1:]:
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found = points.setdefault(f"{metric.name} [{metric.unit}]", [])
                    for dp in metric.data.data_points:
                        # Histograms: count, and the sum for tokens; counters (cost, usage): value.
                        count = getattr(dp, "count", None)
                        value = dp.sum if "token" in metric.name else getattr(dp, "value", None)
                        found.append([sorted(_attrs(dp.attributes).items()), count, value])
    for found in points.values():
        found.sort(key=repr)
    return {"spans": spans, "logs": logs, "metrics": points}


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a:
                out.append(f"{path}.{key}: only in floor: {b[key]!r}")
            elif key not in b:
                out.append(f"{path}.{key}: only in ours: {a[key]!r}")
            else:
                _diff(a[key], b[key], f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: ours {a!r} != floor {b!r}")


def check(port: int) -> dict[str, list[str]]:
    from bench.configs import _floor, _ours
    from bench.pipeline import Pipeline
    from multi_llm_otel._emitter import Emitter, install

    ours_pipeline, floor_pipeline = Pipeline(), Pipeline()
    ours = _ours(ours_pipeline, port)
    floor = _floor(floor_pipeline, port)
    result: dict[str, list[str]] = {}
    try:
        for name, scenario in SCENARIOS.items():
            for p in (ours_pipeline, floor_pipeline):
                p.flush()
                p.keep(True)
            ours(scenario)
            floor(scenario)
            a, b = snapshot(ours_pipeline), snapshot(floor_pipeline)
            problems: list[str] = []
            _diff(a, b, name, problems)
            if not a["spans"] or not a["logs"]:
                problems.append(f"{name}: @llm_call produced no span or no log record")
            result[name] = problems
    finally:
        install(Emitter())
        for p in (ours_pipeline, floor_pipeline):
            p.keep(False)
            p.tracer_provider.shutdown()
            p.logger_provider.shutdown()
            p.meter_provider.shutdown()
    return result


def main() -> None:
    result = check(int(sys.argv[1]))
    print(json.dumps(result, indent=1))
    sys.exit(1 if any(result.values()) else 0)


if __name__ == "__main__":
    main()
