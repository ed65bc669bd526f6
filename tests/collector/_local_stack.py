"""``scripts/local-stack`` run as a user runs it, every port moved to a free one.

``LocalStack.start()`` launches the script in its own process group, waits for its ``ready``
line, and reads the URLs it prints; ``stop()`` sends SIGTERM as Ctrl-C's stand-in and returns
the script's exit code; ``kill()`` is the clean-up of last resort.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.collector._procs import LOOPBACK, REPO, free_ports, port_open, wait_until

SCRIPT = REPO / "scripts" / "local-stack"

# A terminal starts its foreground job with SIGINT at its default action. A test run started in
# the background (``nohup``, ``&`` in a script, some CI runners) has it ignored, and bash can
# neither trap nor restore a signal ignored when it starts: the script would then never see
# the Ctrl-C a user's terminal sends. So the script starts as from a terminal.
_AS_FROM_A_TERMINAL = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])",
]


@dataclass
class LocalStack:
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, root: Path, *args: str, ui_assets: Path | None = None, timeout: float = 300) -> LocalStack:
        names = ["otlp_grpc", "otlp_http", "health", "exporter", "telemetry", "jaeger_otlp"]
        names += ["jaeger_otlp_http", "jaeger_query", "jaeger_query_grpc", "jaeger_health", "prometheus"]
        stack = cls(root, ports=dict(zip(names, free_ports(len(names)), strict=True)))
        p = stack.ports
        env = {
            **os.environ,
            "MLO_LOCAL_STACK_DIR": str(root / "data"),
            "MLO_OTLP_GRPC_ENDPOINT": f"{LOOPBACK}:{p['otlp_grpc']}",
            "MLO_OTLP_HTTP_ENDPOINT": f"{LOOPBACK}:{p['otlp_http']}",
            "MLO_HEALTH_ENDPOINT": f"{LOOPBACK}:{p['health']}",
            "MLO_PROMETHEUS_ENDPOINT": f"{LOOPBACK}:{p['exporter']}",
            "MLO_TELEMETRY_PORT": str(p["telemetry"]),
            "MLO_JAEGER_OTLP_ENDPOINT": f"{LOOPBACK}:{p['jaeger_otlp']}",
            "JAEGER_QUERY_HTTP_ENDPOINT": f"{LOOPBACK}:{p['jaeger_query']}",
            "JAEGER_QUERY_GRPC_ENDPOINT": f"{LOOPBACK}:{p['jaeger_query_grpc']}",
            "JAEGER_HEALTH_ENDPOINT": f"{LOOPBACK}:{p['jaeger_health']}",
            "JAEGER_OTLP_HTTP_ENDPOINT": f"{LOOPBACK}:{p['jaeger_otlp_http']}",
            "PROMETHEUS_LISTEN_ADDRESS": f"{LOOPBACK}:{p['prometheus']}",
            "MLO_SCRAPE_INTERVAL": "1s",
            "MLO_BATCH_TIMEOUT": "200ms",
            # A user who runs the stack from the shell where their application's OTLP settings
            # are exported: anything Jaeger traced about itself would then reach the agent.
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{LOOPBACK}:{p['otlp_grpc']}",
            "OTEL_TRACES_EXPORTER": "otlp",
        }
        if ui_assets is not None:
            env["JAEGER_UI_ASSETS"] = str(ui_assets)
        root.mkdir(parents=True, exist_ok=True)
        with open(stack.stdout_path, "wb") as out, open(stack.stderr_path, "wb") as err:
            stack.proc = subprocess.Popen(
                [*_AS_FROM_A_TERMINAL, "bash", str(SCRIPT), *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        try:
            wait_until(stack._ready, timeout, "local-stack to print 'ready'")
        except BaseException:
            stack.kill()
            raise
        return stack

    @property
    def stdout_path(self) -> Path:
        return self.root / "local-stack.out"

    @property
    def stderr_path(self) -> Path:
        return self.root / "local-stack.err"

    @property
    def banner(self) -> str:
        return self.stdout_path.read_text()

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"local-stack exited {self.proc.returncode}:\n{self.stderr_path.read_text()[-4000:]}")
        return "ready" in self.banner.splitlines()

    @property
    def otlp_http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['otlp_http']}"

    @property
    def jaeger_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['jaeger_query']}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['prometheus']}"

    def listening(self) -> list[str]:
        """The stack's ports that still accept connections."""
        return [name for name, port in self.ports.items() if port_open(port)]

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM to the script alone, as a user's kill would; its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """The clean-up of last resort: SIGTERM to the script, whose trap stops the servers
        (each runs in its own session); if it does not end, the servers and it are killed."""
        if self.proc is None or self.proc.poll() is not None:
            return
        servers = children(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            for pid in [*servers.values(), self.proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(10)


def ignores_sigint(pid: int) -> bool:
    """Whether process ``pid`` has SIGINT set to be ignored."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    raise LookupError(f"no SigIgn line for process {pid}")


def children(pid: int) -> dict[str, int]:
    """The direct children of ``pid`` by command name."""
    found = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, KeyError, ValueError):
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            if int(fields["PPid"]) == pid:
                found[fields["Name"].strip()] = int(fields["Pid"])
    return found
