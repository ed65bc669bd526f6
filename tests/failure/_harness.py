"""Shared pieces of the failure tests: a real Collector writing to a file, the application
child process that talks to it, and reading what arrived.

Every ``configure()`` scenario runs in a child process (``tests/failure/_app.py``): the
OpenTelemetry globals can be set once per process, and exit, signals and fork are the things
under test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from tests.collector._procs import (
    LOOPBACK,
    REPO,
    Server,
    attributes_dict,
    free_ports,
    http_ok,
    wait_until,
)

HERE = Path(__file__).resolve().parent
SINK_CONFIG = HERE / "sink.yaml"

# Children get no inherited OTEL_* / MULTI_LLM_OTEL_* settings, and the repository importable.
_CLEAN_PREFIXES = ("OTEL_", "MULTI_LLM_OTEL_")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEAN_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class SinkCollector:
    """The real Collector, by default with ``sink.yaml``: OTLP on free loopback ports,
    everything to one JSON-lines file. ``kill()`` is ``kill -9``; ``start()`` again reuses the
    ports, the file and any state directory."""

    def __init__(
        self,
        otelcol: Path,
        root: Path,
        configs: Sequence[Path] = (SINK_CONFIG,),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.otelcol = otelcol
        self.root = root
        self.configs = list(configs)
        self.grpc_port, self.http_port, self.health_port = free_ports(3)
        self.out = root / "out.jsonl"
        self.extra_env = dict(extra_env or {})
        self.server: Server | None = None
        self.starts = 0

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"http://{LOOPBACK}:{self.grpc_port}"

    def env(self) -> dict[str, str]:
        return {
            "MLO_GRPC_PORT": str(self.grpc_port),
            "MLO_HTTP_PORT": str(self.http_port),
            "MLO_HEALTH_PORT": str(self.health_port),
            "MLO_OUT_FILE": str(self.out),
            **self.extra_env,
        }

    def start(self) -> float:
        """Start and wait until healthy; returns the seconds that took."""
        self.starts += 1
        started = time.perf_counter()
        self.server = Server(
            f"otelcol-{self.root.name}-{self.starts}",
            [self.otelcol, *(f"--config={c}" for c in self.configs)],
            self.root / f"otelcol-{self.starts}.log",
            env=self.env(),
            cwd=self.root,
        ).start()
        wait_until(lambda: http_ok(f"http://{LOOPBACK}:{self.health_port}/"), 30, "Collector health", self.server)
        return time.perf_counter() - started

    def kill(self) -> None:
        """``kill -9``: no flush, no goodbye."""
        assert self.server is not None
        assert self.server.proc is not None
        os.kill(self.server.proc.pid, signal.SIGKILL)
        self.server.proc.wait(10)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def requests(self) -> list[dict[str, Any]]:
        return read_export_lines(self.out)

    def __enter__(self) -> SinkCollector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_export_lines(path: Path) -> list[dict[str, Any]]:
    """The file exporter's output, one OTLP JSON export request per line.

    A Collector killed with ``kill -9`` can leave a torn last line, and the next Collector
    appends right after it: such a line is the torn prefix followed by a whole request, of
    which only the whole request is kept. A last line without its newline is left for later.
    """
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    found = []
    for line in complete.splitlines():
        if not line.strip():
            continue
        try:
            found.append(json.loads(line))
            continue
        except json.JSONDecodeError:
            pass
        start = line.find('{"resource', 1)
        while start != -1:
            try:
                found.append(json.loads(line[start:]))
                break
            except json.JSONDecodeError:
                start = line.find('{"resource', start + 1)
    return found


def service_of(resource: dict[str, Any]) -> str | None:
    return attributes_dict(resource.get("attributes", [])).get("service.name")


def arrived_logs(requests: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    """Log records of ``service``, each with its attributes decoded under ``attrs``."""
    found = []
    for req in requests:
        for rl in req.get("resourceLogs", []):
            if service_of(rl.get("resource", {})) != service:
                continue
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    found.append({**rec, "attrs": attributes_dict(rec.get("attributes", []))})
    return found


def arrived_spans(requests: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    found = []
    for req in requests:
        for rs in req.get("resourceSpans", []):
            if service_of(rs.get("resource", {})) != service:
                continue
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    found.append({**span, "attrs": attributes_dict(span.get("attributes", []))})
    return found


def arrived_metrics(requests: list[dict[str, Any]], service: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for req in requests:
        for rm in req.get("resourceMetrics", []):
            if service_of(rm.get("resource", {})) != service:
                continue
            for sm in rm.get("scopeMetrics", []):
                for metric in sm.get("metrics", []):
                    body = next((v for v in metric.values() if isinstance(v, dict) and "dataPoints" in v), {})
                    found.setdefault(metric["name"], []).extend(body.get("dataPoints", []))
    return found


def phase_counts(requests: list[dict[str, Any]], service: str) -> dict[str, Counter[str]]:
    """What arrived per phase: custom events (``phase`` attribute, counted once per distinct
    ``seq`` as ``events`` and in total as ``event_records``), the calls' log records and spans
    (their model is ``m-<phase>``)."""
    events: Counter[str] = Counter()
    records: Counter[str] = Counter()
    seen: set[tuple[str, int]] = set()
    call_logs: Counter[str] = Counter()
    spans: Counter[str] = Counter()
    for rec in arrived_logs(requests, service):
        attrs = rec["attrs"]
        if "phase" in attrs:
            records[attrs["phase"]] += 1
            key = (attrs["phase"], attrs["seq"])
            if key not in seen:
                seen.add(key)
                events[attrs["phase"]] += 1
        elif str(attrs.get("model", "")).startswith("m-"):
            call_logs[attrs["model"][2:]] += 1
    for span in arrived_spans(requests, service):
        model = str(span["attrs"].get("gen_ai.request.model", ""))
        if model.startswith("m-"):
            spans[model[2:]] += 1
    return {"events": events, "event_records": records, "call_logs": call_logs, "spans": spans}


class App:
    """The application under test in a child process, driven one JSON command per line."""

    def __init__(
        self,
        configure: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.log = log
        self._stderr: IO[bytes] | None = open(log, "ab") if log is not None else None  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.failure._app", "serve", json.dumps(dict(configure))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr if self._stderr is not None else subprocess.DEVNULL,
            env=child_env(env),
            cwd=REPO,
            text=True,
        )
        self.ready = self._read()

    def stderr_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log is not None else ""

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise AssertionError(f"the app exited ({self.proc.returncode}); stderr tail:\n{self.stderr_tail()}")
        return json.loads(line)

    def send(self, op: str, **args: Any) -> None:
        """Send a command without waiting for its answer (``answer()`` reads it)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.proc.stdin.flush()

    def answer(self) -> Any:
        result = self._read()
        if isinstance(result, dict) and "error" in result:
            raise AssertionError(f"the app failed: {result['error']}\n{self.stderr_tail()}")
        return result

    def __call__(self, op: str, **args: Any) -> Any:
        self.send(op, **args)
        return self.answer()

    def close(self, timeout: float = 60) -> tuple[int, float]:
        """Close stdin: the app returns from ``main`` and the interpreter exits normally
        (``atexit`` runs). Returns the exit code and the seconds from ``main`` returning to the
        process being gone (the interpreter's exit, ``atexit`` included)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        line = self.proc.stdout.readline()
        returned = json.loads(line).get("main_returned_at") if line.strip() else None
        code = self.proc.wait(timeout)
        gone = time.time()
        self._close_log()
        return code, (gone - returned) if returned else float("nan")

    def _close_log(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None and not stream.closed:
                stream.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_log()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
