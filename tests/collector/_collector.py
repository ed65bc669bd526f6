"""Running the project's Collector with its real configs on free loopback ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.collector._procs import LOOPBACK, REPO, Server, free_ports, http_ok, wait_until

CONFIG_DIR = REPO / "collector-config"


@dataclass
class CollectorEnv:
    """Every MLO_* variable the agent configs read, pointed at ``root`` and free ports."""

    root: Path
    jaeger_otlp_grpc: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grpc, http, health, prom, telemetry, unused = free_ports(6)
        self.otlp_grpc_port = grpc
        self.otlp_http_port = http
        self.health_port = health
        self.prometheus_port = prom
        self.telemetry_port = telemetry
        # Nothing listens here: a config whose traces go nowhere in a test still needs an address.
        self.jaeger_otlp_grpc = self.jaeger_otlp_grpc or f"{LOOPBACK}:{unused}"
        self.user_file = self.root / "out" / "user-events.jsonl"
        self.system_file = self.root / "out" / "system-events.jsonl"
        self.state_dir = self.root / "state"

    def as_env(self) -> dict[str, str]:
        return {
            "MLO_OTLP_GRPC_ENDPOINT": f"{LOOPBACK}:{self.otlp_grpc_port}",
            "MLO_OTLP_HTTP_ENDPOINT": f"{LOOPBACK}:{self.otlp_http_port}",
            "MLO_HEALTH_ENDPOINT": f"{LOOPBACK}:{self.health_port}",
            "MLO_PROMETHEUS_ENDPOINT": f"{LOOPBACK}:{self.prometheus_port}",
            "MLO_TELEMETRY_HOST": LOOPBACK,
            "MLO_TELEMETRY_PORT": str(self.telemetry_port),
            "MLO_JAEGER_OTLP_ENDPOINT": self.jaeger_otlp_grpc,
            "MLO_USER_EVENTS_FILE": str(self.user_file),
            "MLO_SYSTEM_EVENTS_FILE": str(self.system_file),
            "MLO_STATE_DIR": str(self.state_dir),
            "MLO_ENVIRONMENT": "test",
            # Short flushes keep the test's polling short; they change no result.
            "MLO_BATCH_TIMEOUT": "200ms",
            "MLO_FILE_FLUSH_INTERVAL": "200ms",
            **self.extra,
        }

    @property
    def otlp_http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.otlp_http_port}"

    @property
    def prometheus_metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.prometheus_port}/metrics"

    @property
    def telemetry_metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.telemetry_port}/metrics"


def collector_server(otelcol: Path, configs: list[str], env: CollectorEnv) -> Server:
    argv: list[str | Path] = [otelcol]
    argv += [f"--config={CONFIG_DIR / name}" for name in configs]
    return Server("otelcol", argv, env.root / "otelcol.log", env=env.as_env(), cwd=env.root)


def wait_healthy(server: Server, env: CollectorEnv, timeout: float = 60.0) -> None:
    wait_until(lambda: http_ok(f"http://{LOOPBACK}:{env.health_port}/"), timeout, "Collector health check", server)
