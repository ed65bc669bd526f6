"""Throughput through OTLP/HTTP to the real Collector from one process, and what a 10-second
Collector outage costs.

The driver (``python -m bench.throughput --llm-port PORT``) builds or finds the project's
Collector (``collector-config/build.sh``), starts it with ``bench/collector.yaml`` (an OTLP/HTTP
receiver and file exporters), and runs load processes (``--role load``), each one process with
``multi_llm_otel.configure(endpoint=...)`` making ``@llm_call`` calls as fast as it can:

- ``sdk``: the official OpenAI SDK against the mock server (what an application pays per call);
- ``direct``: a decorated function returning a Chat Completion as JSON, no HTTP at all (the
  ceiling of the library plus the SDK export pipeline in one process);
- ``sdk`` with an outage: the Collector is killed with SIGKILL 10 s into a 30 s run and
  started again 10 s later (same ports, same output files); once at full speed and once at a
  steady 100 calls/s.

Sent is counted exactly in the load process (a span processor and a log processor that count
what ends); received is what the Collector's file exporters wrote; reported is what the SDK
and ``multi_llm_otel.stats()`` said. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_collector() -> str:
    out = subprocess.run(
        ["bash", str(REPO / "collector-config" / "build.sh")], capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        raise RuntimeError(f"collector-config/build.sh failed: {out.stderr[-800:]}")
    return out.stdout.strip().splitlines()[-1]


class Collector:
    def __init__(self, binary: str, logdir: Path) -> None:
        self.binary = binary
        self.env = {
            **os.environ,
            "BENCH_HEALTH_ENDPOINT": f"127.0.0.1:{free_port()}",
            "BENCH_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
            "BENCH_TELEMETRY_PORT": str(free_port()),
        }
        self.endpoint = f"http://{self.env['BENCH_OTLP_HTTP_ENDPOINT']}"
        self.log = open(logdir / "collector.log", "a")  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, out_dir: Path) -> None:
        # A fresh directory per Collector process: a line the killed one left half-written
        # must not swallow the first line of the next one.
        out_dir.mkdir(parents=True, exist_ok=True)
        self.env["BENCH_OUT_DIR"] = str(out_dir)
        self.proc = subprocess.Popen(
            [self.binary, f"--config={HERE / 'collector.yaml'}"], env=self.env, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.env['BENCH_HEALTH_ENDPOINT']}/", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the Collector did not become healthy in 30 s")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def telemetry(self) -> dict[str, float]:
        wanted = ("otelcol_receiver_accepted", "otelcol_receiver_refused", "otelcol_receiver_failed")
        found: dict[str, float] = {}
        try:
            url = f"http://127.0.0.1:{self.env['BENCH_TELEMETRY_PORT']}/metrics"
            with urllib.request.urlopen(url, timeout=5) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith(wanted):
                        name = line.split("{", 1)[0].split(" ", 1)[0]
                        found[name] = found.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        except OSError:
            pass
        return found

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def count_received(out_dir: Path) -> dict[str, int]:
    counts = {"spans": 0, "span_events": 0, "logs": 0, "unreadable_lines": 0}
    for name, key in [(p, "spans") for p in out_dir.glob("*/traces.jsonl")] + [
        (p, "logs") for p in out_dir.glob("*/logs.jsonl")
    ]:
        path = name
        if not path.exists():
            continue
        with open(path) as fh:
            for line in fh:
                try:
                    doc = json.loads(line)
                except ValueError:
                    counts["unreadable_lines"] += 1
                    continue
                if key == "spans":
                    for rs in doc.get("resourceSpans", []):
                        for ss in rs.get("scopeSpans", []):
                            for span in ss.get("spans", []):
                                counts["spans"] += 1
                                counts["span_events"] += len(span.get("events", []))
                else:
                    for rl in doc.get("resourceLogs", []):
                        for sl in rl.get("scopeLogs", []):
                            counts["logs"] += len(sl.get("logRecords", []))
    return counts


def drive(
    binary: str, logdir: Path, llm_port: int, mode: str, seconds: float, outage: tuple[float, float] | None, rate: float
) -> dict[str, Any]:
    out_dir = Path(tempfile.mkdtemp(prefix="bench-collector-"))
    collector = Collector(binary, logdir)
    collector.start(out_dir / "1")
    cmd = [sys.executable, "-m", "bench.throughput", "--role", "load", "--mode", mode, "--seconds", str(seconds)]
    cmd += ["--endpoint", collector.endpoint, "--llm-port", str(llm_port), "--rate", str(rate)]
    events: list[str] = []
    telemetry_before_kill: dict[str, float] = {}
    with open(logdir / f"load-{mode}-{int(seconds)}s{'-outage' if outage else ''}.log", "w") as err:
        load = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        assert load.stdout is not None
        line = load.stdout.readline()
        if not line.startswith("STARTED"):
            raise RuntimeError(f"load process did not start: {line!r}")
        t0 = time.monotonic()
        if outage is not None:
            time.sleep(max(0.0, outage[0] - (time.monotonic() - t0)))
            telemetry_before_kill = collector.telemetry()
            collector.kill9()
            events.append(f"Collector killed (SIGKILL) at {time.monotonic() - t0:.1f} s")
            time.sleep(max(0.0, outage[1] - (time.monotonic() - t0)))
            collector.start(out_dir / "2")
            events.append(f"Collector restarted and healthy at {time.monotonic() - t0:.1f} s")
        out = load.stdout.read()
        load.wait()
    time.sleep(1.5)  # the file exporters flush every 200 ms
    telemetry_end = collector.telemetry()
    collector.stop()
    received = count_received(out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    try:
        sent = json.loads(out)
    except ValueError:
        sent = {"error": out[-500:]}
    return {
        "mode": mode,
        "seconds": seconds,
        "rate_limit_per_s": rate or None,
        "outage": outage,
        "events": events,
        "sent": sent,
        "received": received,
        "collector_before_kill": telemetry_before_kill,
        "collector_at_end": telemetry_end,
    }


# -- the load process ------------------------------------------------------------------------


def load(mode: str, seconds: float, endpoint: str, llm_port: int, rate: float) -> None:
    import multi_llm_otel
    from bench.mockserver import openai_completion
    from multi_llm_otel import configure, llm_call

    telemetry = configure("multi-llm-otel-bench", endpoint=endpoint, shutdown_timeout=60.0, handle_sigterm=False)
    counted = {"spans": 0, "span_events": 0, "logs": 0}

    class SpanCounter:
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            pass

        def on_end(self, span: Any) -> None:
            counted["spans"] += 1
            counted["span_events"] += len(span.events)

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

        def _on_ending(self, span: Any) -> None:
            pass

    class LogCounter:
        def on_emit(self, log_record: Any) -> None:
            counted["logs"] += 1

        def emit(self, log_record: Any) -> None:
            counted["logs"] += 1

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    telemetry.tracer_provider.add_span_processor(SpanCounter())
    telemetry.logger_provider.add_log_record_processor(LogCounter())

    if mode == "sdk":
        import openai

        client = openai.OpenAI(base_url=f"http://127.0.0.1:{llm_port}/v1", api_key="sk-bench", max_retries=0)

        @llm_call
        def ask(client: Any, **kwargs: Any) -> Any:
            return client.chat.completions.create(**kwargs)

        def one() -> None:
            ask(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=64)

    else:
        response = json.loads(openai_completion())

        @llm_call(provider="openai", model="gpt-4o-mini")
        def answer(**kwargs: Any) -> Any:
            return response

        def one() -> None:
            answer(model="gpt-4o-mini", max_tokens=64)

    one()
    print("STARTED", flush=True)
    calls = 0
    start = time.monotonic()
    deadline = start + seconds
    interval = 1.0 / rate if rate else 0.0
    per_second: list[int] = []
    next_mark = start + 1
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if now >= next_mark:
            per_second.append(calls)
            next_mark += 1
        one()
        calls += 1
        if interval:
            pause = start + calls * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    elapsed = time.monotonic() - start
    flush_start = time.monotonic()
    flushed = telemetry.shutdown()
    flush_s = time.monotonic() - flush_start
    result = {
        "calls": calls + 1,
        "elapsed_s": elapsed,
        "calls_per_s": calls / elapsed,
        "created": counted,
        "shutdown_in_time": flushed,
        "shutdown_s": flush_s,
        "stats": multi_llm_otel.stats(),
        "cumulative_calls_each_second": per_second,
    }
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="driver", choices=["driver", "load"])
    parser.add_argument("--mode", default="sdk", choices=["sdk", "direct"])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--llm-port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--logdir", default=tempfile.gettempdir())
    parser.add_argument("--quick", action="store_true", help="short runs (for trying the harness)")
    args = parser.parse_args()
    if args.role == "load":
        load(args.mode, args.seconds, args.endpoint, args.llm_port, args.rate)
        return
    logdir = Path(args.logdir)
    try:
        binary = find_collector()
    except Exception as exc:
        print(json.dumps({"error": f"no Collector: {exc}"}))
        return
    k = 0.2 if args.quick else 1.0
    runs = []
    plan: list[tuple[str, float, tuple[float, float] | None, float]] = [
        ("sdk", 15 * k, None, 0.0),
        ("direct", 10 * k, None, 0.0),
        ("sdk", 30 * k, (10 * k, 20 * k), 0.0),
        ("sdk", 30 * k, (10 * k, 20 * k), 100.0),
    ]
    for mode, seconds, outage, rate in plan:
        try:
            runs.append(drive(binary, logdir, args.llm_port, mode, seconds, outage, rate))
        except Exception as exc:
            runs.append({"mode": mode, "outage": outage, "error": f"{type(exc).__name__}: {exc}"})
        print(f"[throughput] {json.dumps(runs[-1])[:300]}", file=sys.stderr, flush=True)
    print(json.dumps({"collector": binary, "runs": runs}))


if __name__ == "__main__":
    main()
