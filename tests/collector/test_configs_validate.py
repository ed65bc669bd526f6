"""Every Collector config, alone or with the overlays it is meant for, passes the real
Collector's ``validate``; the manifest builds exactly the components they use; the Grafana
stack's files (not run here: Grafana, Loki and Tempo are AGPL) are checked statically.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.collector._metrics import KNOWN_METRICS
from tests.collector._procs import REPO

pytestmark = pytest.mark.collector

CONFIG_DIR = REPO / "collector-config"
GRAFANA = CONFIG_DIR / "grafana"

# Each deployment shape, as its README command line combines the files.
COMBINATIONS = {
    "agent": ["agent.yaml"],
    "agent+persistent-queue": ["agent.yaml", "agent-persistent-queue.yaml"],
    "agent+tls-auth": ["agent.yaml", "agent-tls-auth.yaml"],
    "agent+filelog": ["agent.yaml", "filelog-ingest.yaml"],
    "agent+all-overlays": ["agent.yaml", "agent-persistent-queue.yaml", "agent-tls-auth.yaml", "filelog-ingest.yaml"],
    "agent-to-gateway": ["agent-to-gateway.yaml"],
    "gateway": ["gateway.yaml"],
    "grafana": ["agent.yaml", "grafana/agent-grafana.yaml"],
    "grafana+persistent-queue": [
        "agent.yaml",
        "agent-persistent-queue.yaml",
        "grafana/agent-grafana.yaml",
        "grafana/persistent-queue.yaml",
    ],
}

# Files under collector-config/ that are not Collector configs.
NOT_COLLECTOR_CONFIGS = {
    "builder-config.yaml",
    "grafana/docker-compose.yaml",
    "grafana/tempo.yaml",
    "grafana/loki.yaml",
    "grafana/provisioning/datasources/datasources.yaml",
    "grafana/provisioning/dashboards/dashboards.yaml",
    "local/jaeger.yaml",  # Jaeger's config, validated by Jaeger in test_local_stack.py
}

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")


def _defaults_only_env() -> dict[str, str]:
    """The environment without MLO_* variables, so each config's defaults are what is validated."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MLO_")}


@pytest.mark.parametrize("files", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_config_validates(otelcol: Path, files: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [otelcol, "validate", *(f"--config={CONFIG_DIR / f}" for f in files)],
        capture_output=True,
        text=True,
        env=_defaults_only_env(),
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_every_collector_config_is_validated() -> None:
    on_disk = {str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob("*.yaml")} - NOT_COLLECTOR_CONFIGS
    validated = {f for files in COMBINATIONS.values() for f in files}
    assert on_disk == validated


def _used_component_types() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for name in {f for files in COMBINATIONS.values() for f in files}:
        config = yaml.safe_load((CONFIG_DIR / name).read_text())
        for kind in KINDS:
            used[kind] |= {component_id.split("/")[0] for component_id in config.get(kind) or {}}
    return used


def test_manifest_builds_exactly_the_components_the_configs_use(otelcol: Path) -> None:
    listing = subprocess.run([otelcol, "components"], capture_output=True, text=True, check=True, timeout=60)
    built = yaml.safe_load(listing.stdout)
    for kind, used in _used_component_types().items():
        assert {c["name"] for c in built.get(kind) or []} == used, kind


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return [p for p in panels if p.get("type") != "row"]


def _provisioned_datasources() -> dict[str, str]:
    provisioning = yaml.safe_load((GRAFANA / "provisioning/datasources/datasources.yaml").read_text())
    return {ds["uid"]: ds["type"] for ds in provisioning["datasources"]}


def test_dashboard_queries_use_provisioned_datasources_and_known_metrics() -> None:
    dashboards = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert dashboards
    datasources = _provisioned_datasources()
    assert set(datasources.values()) >= {"prometheus", "jaeger", "tempo", "loki"}
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"]
        assert dashboard["title"]
        panels = _panels(dashboard)
        assert panels
        queries = [v["definition"] for v in dashboard.get("templating", {}).get("list", []) if "definition" in v]
        for panel in panels:
            ds = panel.get("datasource")
            assert ds, panel["title"]
            assert datasources.get(ds["uid"]) == ds["type"] == "prometheus", panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target.get("datasource", ds)["uid"] == ds["uid"]
                queries.append(target["expr"])
        for query in queries:
            metrics = _series_names(query)
            assert metrics, f"no metric in {query!r}"
            assert metrics <= KNOWN_METRICS, f"unknown metrics {metrics - KNOWN_METRICS} in {query!r}"


def _series_names(query: str) -> set[str]:
    """Identifiers of a query that name series: a selector follows, or it is label_values' first argument."""
    selected = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", query))
    selected |= set(re.findall(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", query))
    return selected


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((GRAFANA / "docker-compose.yaml").read_text())
    return loaded


def test_compose_file_structure() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) >= {"collector", "jaeger", "prometheus", "tempo", "loki", "grafana"}
    named_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert ":" in str(service.get("image")), f"{name}: an image with a pinned tag"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} published beyond loopback"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (GRAFANA / source).exists(), f"{name}: {source} is not in the repository"
            else:
                assert source in named_volumes, f"{name}: undeclared volume {source}"
        for dependency in service.get("depends_on", []):
            assert dependency in services
    # The Collector in the stack runs the very configs validated above.
    mounted = {v.split(":")[0] for v in services["collector"]["volumes"]}
    assert {"../agent.yaml", "./agent-grafana.yaml"} <= mounted


def test_compose_file_matches_the_compose_spec(tmp_path: Path) -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (it carries the compose-spec schema offline)")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(GRAFANA / "docker-compose.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_passes_promtool(prometheus: Path) -> None:
    promtool = shutil.which("promtool") or str(prometheus.with_name("promtool"))
    result = subprocess.run(
        [promtool, "check", "config", str(GRAFANA / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["tempo.yaml", "loki.yaml", "provisioning/dashboards/dashboards.yaml"])
def test_grafana_stack_files_parse(name: str) -> None:
    assert isinstance(yaml.safe_load((GRAFANA / name).read_text()), dict)
