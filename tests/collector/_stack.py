"""The real observability stack of the end-to-end tests: Jaeger, the agent Collector and
Prometheus, each on free loopback ports with its data in a temporary directory.

``running_stack()`` starts all three and stops them afterwards, whatever happens between;
``tests/collector/conftest.py`` turns it into a session fixture, and other test packages
can use it the same way.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests._servers import jaeger_process as start_jaeger
from tests._servers import prometheus_process
from tests.collector._collector import CollectorEnv, collector_server
from tests.collector._procs import LOOPBACK, Server, get_json, http_ok, running


@dataclass
class Jaeger:
    otlp_grpc: str
    query_url: str

    def traces(self, service: str, start_min: str, start_max: str) -> list[dict[str, Any]]:
        """Every stored span of ``service`` started in the window, as OTLP JSON resource spans."""
        query = urllib.parse.urlencode(
            {
                "query.service_name": service,
                "query.start_time_min": start_min,
                "query.start_time_max": start_max,
                "query.num_traces": 10_000,
                # Spans exactly as stored, without Jaeger's clock-skew or deduplication fixes.
                "query.raw_traces": "true",
            }
        )
        try:
            body = get_json(f"{self.query_url}/api/v3/traces?{query}")
        except OSError as exc:
            if getattr(exc, "code", None) == 404:  # Jaeger's answer while it has no match yet
                return []
            raise
        resource_spans: list[dict[str, Any]] = body.get("result", {}).get("resourceSpans", [])
        return resource_spans


@dataclass
class Prometheus:
    url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        body = get_json(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None


@dataclass
class Stack:
    jaeger: Jaeger
    collector: CollectorEnv
    prometheus: Prometheus
    servers: dict[str, Server]

    def check_alive(self) -> None:
        for server in self.servers.values():
            server.check_alive()


def jaeger_process(jaeger_bin: Path, root: Path) -> tuple[Server, Jaeger, Callable[[], bool]]:
    """A Jaeger all-in-one (memory storage) on free ports, not yet started, and its readiness check."""
    server, otlp_grpc, query_url, ready = start_jaeger(jaeger_bin, root)
    return server, Jaeger(otlp_grpc, query_url), ready


@contextlib.contextmanager
def running_stack(otelcol: Path, jaeger_bin: Path, prometheus_bin: Path, root: Path) -> Iterator[Stack]:
    """Jaeger <- agent Collector (agent.yaml) -> Prometheus, all on loopback."""
    jaeger_server, jaeger, jaeger_ready = jaeger_process(jaeger_bin, root)
    collector_env = CollectorEnv(root / "collector", jaeger_otlp_grpc=jaeger.otlp_grpc)
    collector_env.root.mkdir(parents=True, exist_ok=True)
    prometheus_server, prom_url, prometheus_ready = prometheus_process(
        prometheus_bin, root / "prometheus", [f"{LOOPBACK}:{collector_env.prometheus_port}"]
    )
    collector = collector_server(otelcol, ["agent.yaml"], collector_env)
    with (
        running(jaeger_server, jaeger_ready),
        running(collector, lambda: http_ok(f"http://{LOOPBACK}:{collector_env.health_port}/")),
        running(prometheus_server, prometheus_ready),
    ):
        yield Stack(
            jaeger,
            collector_env,
            Prometheus(prom_url),
            {"jaeger": jaeger_server, "otelcol": collector, "prometheus": prometheus_server},
        )
