"""One configuration in one process, driven over a pipe by the coordinator (``bench.run``).

``python -m bench.worker CONFIG PORT`` sets the configuration up, warms it up, then answers
JSON commands, one a line on stdin, one JSON answer a line on the original stdout (anything
the libraries print goes to stderr instead):

- ``{"op": "verify"}``: a few calls of each scenario with the exporters keeping what they get;
  answers what one call produced (spans, span events, log records, metric records, whether
  prompt or output text was captured) per scenario.
- ``{"op": "block", "scenario": S, "n": N}``: N calls, answers process CPU and wall time per
  call in microseconds (``gc.collect()`` first, outside the timing).
- ``{"op": "memory", "n": N}``: N calls (19 plain to one streamed), RSS along the way,
  then tracemalloc over a further tenth of N: growth by file.
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Any

from bench.scenarios import OUTPUT_MARKER, PROMPT_MARKER, SCENARIOS

WARMUP = int(os.environ.get("BENCH_WARMUP", "20"))


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _mentions(value: Any, marker: str) -> bool:
    if isinstance(value, str):
        return marker in value
    if isinstance(value, (list, tuple)):
        return any(_mentions(v, marker) for v in value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return any(_mentions(v, marker) for _, v in value.items())
    return False


def _metric_totals(pipeline: Any) -> dict[str, float]:
    totals: dict[str, float] = {}
    for data in pipeline.metrics.keep or ():
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    records = 0.0
                    for dp in metric.data.data_points:
                        count = getattr(dp, "count", None)
                        records += count if count is not None else 1
                    totals[metric.name] = records
    return totals


def verify(pipeline: Any, call: Any, providers: tuple[str, ...], calls: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pipeline.keep(True)
    pipeline.flush()
    before = _metric_totals(pipeline)
    for name, scenario in SCENARIOS.items():
        if scenario.provider not in providers:
            continue
        pipeline.keep(True)
        error = None
        try:
            for _ in range(calls):
                call(scenario)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        pipeline.flush()
        spans = pipeline.spans.keep or []
        logs = pipeline.logs.keep or []
        after = _metric_totals(pipeline)
        metric_records = {
            k: round((v - before.get(k, 0)) / calls, 2) for k, v in after.items() if v != before.get(k, 0)
        }
        before = after
        span_events = sum(len(s.events) for s in spans)
        texts = []
        for s in spans:
            texts.append(dict(s.attributes or {}))
            texts.extend(dict(e.attributes or {}) for e in s.events)
        for r in logs:
            rec = getattr(r, "log_record", r)
            texts.append(dict(rec.attributes or {}))
            texts.append(rec.body)
        out[name] = {
            "error": error,
            "spans": len(spans) / calls,
            "span_names": sorted({s.name for s in spans}),
            "span_events": span_events / calls,
            "span_attributes": sum(len(s.attributes or {}) for s in spans) / calls,
            "logs": len(logs) / calls,
            "log_names": sorted({str(getattr(getattr(r, "log_record", r), "event_name", None)) for r in logs}),
            "metric_records": metric_records,
            "prompt_captured": any(_mentions(t, PROMPT_MARKER) for t in texts),
            "output_captured": any(_mentions(t, OUTPUT_MARKER) for t in texts),
        }
    pipeline.keep(False)
    return out


def block(call: Any, scenario_name: str, n: int) -> dict[str, float]:
    scenario = SCENARIOS[scenario_name]
    gc.collect()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for _ in range(n):
        call(scenario)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return {"cpu_us": cpu / n * 1e6, "wall_us": wall / n * 1e6}


def memory(pipeline: Any, call: Any, n: int, providers: tuple[str, ...]) -> dict[str, Any]:
    import tracemalloc

    plain = [s for s in SCENARIOS.values() if not s.stream and s.provider in providers]
    streamed = [s for s in SCENARIOS.values() if s.stream and s.provider in providers]
    # Nineteen plain calls to one streamed one, the providers and the streams taking turns.
    mix = [plain[i % len(plain)] for i in range(19)]
    if streamed:
        mix = [*mix, streamed[0], *mix, streamed[-1]]
    samples = []
    gc.collect()
    start_rss = _rss_kib()
    t0 = time.perf_counter()
    for i in range(n):
        call(mix[i % len(mix)])
        if (i + 1) % (n // 10) == 0:
            gc.collect()
            samples.append([i + 1, _rss_kib()])
    seconds = time.perf_counter() - t0
    traced_calls = max(1, n // 10)
    tracemalloc.start(8)
    # Exported first, so that the batch queues' contents are not counted as growth.
    pipeline.flush()
    gc.collect()
    snap0 = tracemalloc.take_snapshot()
    for i in range(traced_calls):
        call(mix[i % len(mix)])
    pipeline.flush()
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    tracemalloc.stop()
    by_file = snap1.compare_to(snap0, "filename")
    growth_total = sum(s.size_diff for s in by_file)
    ours = sum(s.size_diff for s in by_file if "multi_llm_otel" in str(s.traceback))
    top = [
        {
            "file": str(s.traceback).split("site-packages/")[-1],
            "kib": round(s.size_diff / 1024, 1),
            "count": s.count_diff,
        }
        for s in by_file[:8]
    ]
    return {
        "calls": n,
        "seconds": seconds,
        "rss_start_kib": start_rss,
        "rss_samples": samples,
        "traced_calls": traced_calls,
        "traced_growth_kib": round(growth_total / 1024, 1),
        "traced_growth_ours_kib": round(ours / 1024, 1),
        "traced_top": top,
    }


def main() -> None:
    name, port = sys.argv[1], int(sys.argv[2])
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from bench.configs import CONFIGS, setup

    providers = CONFIGS[name].providers

    def answer(obj: Any) -> None:
        proto.write(json.dumps(obj) + "\n")

    t0 = time.perf_counter()
    try:
        pipeline, call = setup(name, port)
        for scenario in SCENARIOS.values():
            if scenario.provider in providers:
                for _ in range(WARMUP):
                    call(scenario)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        answer({"ready": False, "error": f"{type(exc).__name__}: {exc}"[:500]})
        return
    answer({"ready": True, "setup_s": time.perf_counter() - t0, "pid": os.getpid()})
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "verify":
            answer(verify(pipeline, call, providers))
        elif op == "block":
            answer(block(call, cmd["scenario"], cmd["n"]))
        elif op == "memory":
            answer(memory(pipeline, call, cmd["n"], providers))
        elif op == "quit":
            answer({"bye": True})
            break
    pipeline.flush()


if __name__ == "__main__":
    main()
