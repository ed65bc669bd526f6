"""The one place that starts the test bed's external servers: llama-server, the Collector,
Jaeger and Prometheus, for every test package and for the build scripts' own checks
(scripts/prove-binary.py starts each binary exactly as the tests do).

Every server binds to 127.0.0.1 on a port picked here, writes its output to a log file
whose tail is shown when it fails, and is stopped (terminate, then kill) even when the
test fails. Waits are polls against a deadline: they bound a test, they never measure it.
Standard library only: the build scripts run this before the test environment exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
JAEGER_CONFIG = REPO / "tests" / "collector" / "jaeger.yaml"
T = TypeVar("T")


# Every port handed out in this test session: once its probe socket is closed the kernel may
# hand the same port out again before the server it was meant for has bound it (seen in CI: two
# Collectors of the gateway test given one port).
_handed_out: set[int] = set()


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on the loopback address, none handed out before in this
    session. The sockets stay open until all are chosen so the kernel cannot hand out one twice."""
    socks = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            socks.append(sock)
            port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                ports.append(port)
        return ports
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


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
            status: int = resp.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError):
        return False


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def post_json(url: str, body: Mapping[str, Any], timeout: float) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())


# --- The test bed's servers, started the same way by the tests and by the build scripts ------


def llama_server_process(
    root: Path, model: Path, log: Path, extra_args: Sequence[str] = ()
) -> tuple[Server, str, Callable[[], bool]]:
    """llama-server from a scripts/build-llama-server.sh folder, not yet started: the server,
    its base URL (``http://127.0.0.1:<port>``) and its readiness check."""
    port = free_port()
    argv: list[str | Path] = [root / "bin" / "llama-server", "-m", model, "--host", LOOPBACK, "--port", str(port)]
    # The GGUF carries no chat template; this one makes the server parse tool calls.
    argv += ["--ctx-size", "4096", "--jinja", "--chat-template-file", root / "chat-template.jinja", *extra_args]
    base = f"http://{LOOPBACK}:{port}"
    return Server("llama-server", argv, log), base, lambda: http_ok(f"{base}/health")


def jaeger_process(jaeger_bin: Path, root: Path) -> tuple[Server, str, str, Callable[[], bool]]:
    """A Jaeger all-in-one (memory storage) on free ports, not yet started: the server, its OTLP
    gRPC address, its query URL and its readiness check."""
    j_grpc, j_http, j_query, j_query_grpc, j_health = free_ports(5)
    env = {
        "JAEGER_OTLP_GRPC_PORT": str(j_grpc),
        "JAEGER_OTLP_HTTP_PORT": str(j_http),
        "JAEGER_QUERY_HTTP_PORT": str(j_query),
        "JAEGER_QUERY_GRPC_PORT": str(j_query_grpc),
        "JAEGER_HEALTH_PORT": str(j_health),
        # Jaeger would otherwise export its own traces to whatever listens on 4317.
        "OTEL_TRACES_EXPORTER": "none",
    }
    server = Server("jaeger", [jaeger_bin, "--config", JAEGER_CONFIG], root / "jaeger.log", env=env)
    ready = lambda: http_ok(f"http://{LOOPBACK}:{j_health}/status")  # noqa: E731
    return server, f"{LOOPBACK}:{j_grpc}", f"http://{LOOPBACK}:{j_query}", ready


def prometheus_process(
    prometheus_bin: Path, root: Path, scrape_targets: Sequence[str] = ()
) -> tuple[Server, str, Callable[[], bool]]:
    """Prometheus on a free port with its data under ``root``, scraping ``scrape_targets`` every
    second, not yet started: the server, its URL and its readiness check."""
    (port,) = free_ports(1)
    root.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}}
    if scrape_targets:
        config["scrape_configs"] = [
            {"job_name": "multi-llm-otel", "honor_labels": True, "static_configs": [{"targets": list(scrape_targets)}]}
        ]
    (root / "prometheus.yml").write_text(json.dumps(config))
    server = Server(
        "prometheus",
        [
            prometheus_bin,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        root / "prometheus.log",
    )
    url = f"http://{LOOPBACK}:{port}"
    return server, url, lambda: http_ok(f"{url}/-/ready")
