"""The real observability stack of the end-to-end tests: Jaeger, the agent Collector and
Prometheus, each on free loopback ports with its data in a temporary directory.

``running_stack()`` starts all three and stops them afterwards, whatever happens between;
``tests/collector/conftest.py`` turns it into a session fixture, and other test packages
can use it the same way.
"""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.collector._collector import CollectorEnv, collector_server
from tests.collector._procs import LOOPBACK, REPO, Server, free_ports, get_json, http_ok, running

JAEGER_CONFIG = REPO / "tests" / "collector" / "jaeger.yaml"


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
    jaeger = Jaeger(f"{LOOPBACK}:{j_grpc}", f"http://{LOOPBACK}:{j_query}")
    return server, jaeger, lambda: http_ok(f"http://{LOOPBACK}:{j_health}/status")


@contextlib.contextmanager
def running_stack(otelcol: Path, jaeger_bin: Path, prometheus_bin: Path, root: Path) -> Iterator[Stack]:
    """Jaeger <- agent Collector (agent.yaml) -> Prometheus, all on loopback."""
    jaeger_server, jaeger, jaeger_ready = jaeger_process(jaeger_bin, root)
    (prom_port,) = free_ports(1)
    collector_env = CollectorEnv(root / "collector", jaeger_otlp_grpc=jaeger.otlp_grpc)
    collector_env.root.mkdir(parents=True, exist_ok=True)
    prom_dir = root / "prometheus"
    prom_dir.mkdir()
    (prom_dir / "prometheus.yml").write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "multi-llm-otel",
                        "honor_labels": True,
                        "static_configs": [{"targets": [f"{LOOPBACK}:{collector_env.prometheus_port}"]}],
                    }
                ],
            }
        )
    )
    prometheus_server = Server(
        "prometheus",
        [
            prometheus_bin,
            f"--config.file={prom_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{prom_port}",
        ],
        root / "prometheus.log",
    )
    collector = collector_server(otelcol, ["agent.yaml"], collector_env)
    prom_url = f"http://{LOOPBACK}:{prom_port}"
    with (
        running(jaeger_server, jaeger_ready),
        running(collector, lambda: http_ok(f"http://{LOOPBACK}:{collector_env.health_port}/")),
        running(prometheus_server, lambda: http_ok(f"{prom_url}/-/ready")),
    ):
        yield Stack(
            jaeger,
            collector_env,
            Prometheus(prom_url),
            {"jaeger": jaeger_server, "otelcol": collector, "prometheus": prometheus_server},
        )
