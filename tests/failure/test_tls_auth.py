"""OTLP over TLS with a bearer token, configured only through the standard variables.

The Collector (sink.yaml + sink-tls-auth.yaml) accepts OTLP only over TLS with
``Authorization: Bearer <token>`` (the ``bearertokenauth`` extension). The application is
configured by the environment alone: ``OTEL_EXPORTER_OTLP_ENDPOINT=https://...``,
``OTEL_EXPORTER_OTLP_CERTIFICATE`` (the CA to trust) and ``OTEL_EXPORTER_OTLP_HEADERS``
(``authorization=Bearer%20<token>``, URL-encoded as the specification says). A wrong token, or
no trusted CA, delivers nothing and is counted as failed exports.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
from tests.collector._procs import wait_until
from tests.failure._harness import HERE, SINK_CONFIG, App, SinkCollector, phase_counts

pytestmark = pytest.mark.collector

TOKEN = "tok-failure-tests-3f9a"
ROUNDS = 50


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it as its CA)."""
    import shutil

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "server.crt", root / "server.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def collector(
    otelcol: Path, certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SinkCollector]:
    cert, key = certificate
    env = {"MLO_AUTH_TOKEN": TOKEN, "MLO_TLS_CERT_FILE": str(cert), "MLO_TLS_KEY_FILE": str(key)}
    root = tmp_path_factory.mktemp("tls-sink")
    with SinkCollector(otelcol, root, [SINK_CONFIG, HERE / "sink-tls-auth.yaml"], env) as sink:
        yield sink


def env_for(collector: SinkCollector, protocol: str, cert: Path | None, token: str) -> dict[str, str]:
    port = collector.grpc_port if protocol == "grpc" else collector.http_port
    env = {
        "OTEL_SERVICE_NAME": f"failure-tls-{protocol}-{token[-4:]}-{cert is not None}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"https://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer%20{token}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
    }
    if cert is not None:
        env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = str(cert)
    # Set in many container images (and CI): requests would let it override the exporter's
    # CA file; configure() makes the OTLP variable win.
    env["REQUESTS_CA_BUNDLE"] = certifi.where()
    return env


def run(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    with App({}, env, tmp_path / "app.log") as app:
        assert app.ready["exporters"] == {"traces": "otlp", "logs": "otlp", "metrics": "otlp"}
        app("mixed", phase="p", n=ROUNDS)
        app("flush")
        stats: dict[str, Any] = app("stats")
        app.close()
    return stats


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_tls_and_bearer_token_from_the_environment_deliver(
    collector: SinkCollector, certificate: tuple[Path, Path], tmp_path: Path, protocol: str
) -> None:
    env = env_for(collector, protocol, certificate[0], TOKEN)
    stats = run(env, tmp_path)
    assert not any(k.startswith("export_failed") for k in stats), stats
    service = env["OTEL_SERVICE_NAME"]
    counts = wait_until(
        lambda: (
            (c := phase_counts(collector.requests(), service))["spans"]["p"] >= ROUNDS
            and c["events"]["p"] >= ROUNDS
            and c["call_logs"]["p"] >= 2 * ROUNDS
            and c
        ),
        15,
        "delivery over TLS",
        collector.server,
    )
    assert counts["event_records"]["p"] == ROUNDS
    assert counts["call_logs"]["p"] == 2 * ROUNDS


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize("case", ["wrong_token", "untrusted_certificate"])
def test_rejected_exports_are_counted_and_nothing_arrives(
    collector: SinkCollector,
    certificate: tuple[Path, Path],
    tmp_path: Path,
    figures: Callable[..., None],
    protocol: str,
    case: str,
) -> None:
    if case == "wrong_token":
        env = env_for(collector, protocol, certificate[0], "tok-wrong-0000")
    else:
        env = env_for(collector, protocol, None, TOKEN)
    stats = run(env, tmp_path)
    assert stats["export_failed_logs"] == 3 * ROUNDS
    assert stats["export_failed_spans"] == ROUNDS
    counts = phase_counts(collector.requests(), env["OTEL_SERVICE_NAME"])
    assert counts["event_records"]["p"] == 0
    assert counts["spans"]["p"] == 0
    log = (tmp_path / "app.log").read_text()
    assert log.count("multi-llm-otel: export_failed_logs") == 1
    figures(stats={k: v for k, v in stats.items() if k.startswith("export_failed")})
