"""Process management for tests that run real servers (Collector, Jaeger, Prometheus).

Every server binds to 127.0.0.1 on a port picked here, writes its output to a log file
whose tail is shown when it fails, and is stopped (terminate, then kill) even when the
test fails. Waits are polls against a deadline: they bound a test, they never measure it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on the loopback address.

    The sockets stay open until all are chosen so the kernel cannot hand out one port twice.
    """
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def build_binary(script: Path) -> Path:
    """Run a build script that prints a binary's path as its last line of stdout.

    Skips only when the Go toolchain is absent (the scripts need it); any other failure is
    a test failure, with the script's output in the message.
    """
    if shutil.which("go") is None:
        pytest.skip(f"the Go toolchain (go) is not on PATH: {script.name} cannot build")
    return run_install_script(script)


def run_install_script(script: Path) -> Path:
    result = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{script} exited {result.returncode}\n--- stderr (tail) ---\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    lines = result.stdout.strip().splitlines()
    if not lines:
        pytest.fail(f"{script} printed no path", pytrace=False)
    path = Path(lines[-1])
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{script} printed {path}, which is not an executable file", pytrace=False)
    return path


class Server:
    """One child process with its output in ``log``; use as a context manager."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def stop(self, grace: float = 15.0) -> int | None:
        """Ask the process to exit (SIGTERM lets the Collector flush), kill it if it will not."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def check_alive(self) -> None:
        if not self.running():
            code = None if self.proc is None else self.proc.returncode
            raise AssertionError(f"{self.name} exited ({code}); log tail:\n{self.log_tail()}")

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(server: Server, ready: Callable[[], bool], timeout: float = 60.0) -> Iterator[Server]:
    """Start ``server``, wait until ``ready()`` holds, and always stop it afterwards."""
    server.start()
    try:
        wait_until(ready, timeout, f"{server.name} to become ready", server)
        yield server
    finally:
        server.stop()


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    server: Server | None = None,
    interval: float = 0.2,
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if server is not None:
            server.check_alive()
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, AssertionError, KeyError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_error!r}" if last_error else ""
            logs = f"\n{server.name} log tail:\n{server.log_tail()}" if server else ""
            raise AssertionError(f"timed out waiting for {what}{detail}{logs}")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError):
        return False


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def get_text(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def read_otlp_json_lines(path: Path) -> list[dict[str, Any]]:
    """The file exporter's output: one OTLP JSON export request per line.

    A line still being written (no newline yet) is left for the next read.
    """
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def otlp_log_records(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten OTLP JSON log export requests; each record gets its resource under ``_resource``."""
    records = []
    for req in requests:
        for rl in req.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    records.append({**rec, "_resource": rl.get("resource", {})})
    return records


def otlp_spans(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spans = []
    for req in requests:
        for rs in req.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                spans.extend(ss.get("spans", []))
    return spans


def any_value(value: dict[str, Any]) -> Any:
    """Decode an OTLP JSON AnyValue into a Python value (int64 arrives as a string)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes_dict(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes_dict(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    # Protobuf JSON leaves out empty strings, the empty key included.
    return {kv.get("key", ""): any_value(kv.get("value", {})) for kv in attributes}


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def prometheus_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of the Prometheus text format as (metric name, labels, value)."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        labels = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(match[2] or "")}
        samples.append((match[1], labels, float(match[3])))
    return samples


def sample_sum(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items()))
