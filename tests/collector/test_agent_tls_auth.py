"""agent-tls-auth.yaml on the real Collector: OTLP only over TLS and only with a valid bearer
token; the library, set up through the standard OTLP environment variables, gets through."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from tests.collector._collector import CollectorEnv, collector_server, wait_healthy
from tests.collector._procs import REPO, otlp_log_records, read_otlp_json_lines, wait_until

pytestmark = pytest.mark.collector

TOKEN = "s3cr3t-token-for-tests"


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    steps = (
        f"req -x509 -newkey rsa:2048 -nodes -keyout {ca_key} -out {ca} -days 1 -subj /CN=test-ca",
        f"req -newkey rsa:2048 -nodes -keyout {key} -out {csr} -subj /CN=127.0.0.1",
        f"x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -out {cert} -days 1 -extfile {ext}",
    )
    for step in steps:
        subprocess.run(["openssl", *step.split()], check=True, capture_output=True, timeout=60)
    return ca, cert, key


def _post_logs(url: str, ca: Path, token: str | None) -> int:
    request = urllib.request.Request(url, data=b"{}", headers={"Content-Type": "application/json"}, method="POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_otlp_needs_tls_and_a_valid_token(otelcol: Path, tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN} # the test client\n")
    env = CollectorEnv(
        tmp_path,
        extra={"MLO_TLS_CERT_FILE": str(cert), "MLO_TLS_KEY_FILE": str(key), "MLO_AUTH_TOKEN_FILE": str(tokens)},
    )
    server = collector_server(otelcol, ["agent.yaml", "agent-tls-auth.yaml"], env)
    https = f"https://127.0.0.1:{env.otlp_http_port}"
    with server:
        wait_healthy(server, env)
        assert _post_logs(f"{https}/v1/logs", ca, None) == 401
        assert _post_logs(f"{https}/v1/logs", ca, "wrong-token") == 401
        assert _post_logs(f"{https}/v1/logs", ca, TOKEN) == 200
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{env.otlp_http_port}/v1/logs", data=b"{}", timeout=5)

        app_env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {TOKEN}",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": str(ca),
        }
        service = f"tls-{uuid.uuid4().hex[:8]}"
        app = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.collector._app",
                "--endpoint",
                https,
                "--service",
                service,
                "--burst",
                "6",
                "burst",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=app_env,
            check=False,
            timeout=120,
        )
        assert app.returncode == 0, app.stderr[-4000:]
        sent = json.loads(app.stdout)
        assert sent["stats"] == {}

        def arrived() -> int:
            requests = read_otlp_json_lines(env.user_file) + read_otlp_json_lines(env.system_file)
            return len(otlp_log_records(requests)) >= len(sent["logs"])

        wait_until(arrived, 60, "the application's events behind TLS and auth", server)
