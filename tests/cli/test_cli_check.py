"""``multi-llm-otel check``: the effective configuration, credentials hidden, and reachability."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tests.cli._helpers import FakeReceiver, clean_env, closed_port, run

from multi_llm_otel.cli import main

pytestmark = pytest.mark.usefixtures("no_otel_env")

SECRET_HEADERS = "authorization=Bearer%20s3cr3t-t0ken,x-tenant-key=tenant-abc"


def test_nothing_configured_is_the_embedded_default_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "traces: console  logs: console  metrics: console" in out
    assert "nothing to check" in out
    assert "embedded default" in out


def test_closed_port_is_unreachable_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    assert main(["check", "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert f"traces   http://127.0.0.1:{port}/v1/traces: unreachable: connection refused" in out
    assert "result: UNREACHABLE" in out


def test_a_receiver_that_answers_is_reachable_and_gets_the_headers_but_they_are_never_printed(
    receiver: FakeReceiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", SECRET_HEADERS)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    for secret in ("s3cr3t", "Bearer", "authorization", "tenant-abc", "x-tenant-key"):
        assert secret not in out.lower()
    assert "OTEL_EXPORTER_OTLP_HEADERS: 2 set (names and values hidden)" in out
    assert "checkout (OTEL_SERVICE_NAME)" in out
    assert "deployment.environment=prod" in out
    assert "parentbased_traceidratio with ratio 0.25" in out
    assert out.count("reachable: HTTP 200") == 3
    assert "result: the OTLP endpoint answers." in out
    assert sorted(r.path for r in receiver.requests) == ["/v1/logs", "/v1/metrics", "/v1/traces"]
    for request in receiver.requests:
        assert request.headers["content-type"] == "application/x-protobuf"
        assert request.headers["authorization"] == "Bearer s3cr3t-t0ken"


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "refuses the credentials"), (404, "no OTLP receiver at this path"), (503, "busy or unavailable")],
)
def test_a_receiver_that_refuses_exits_1(
    receiver: FakeReceiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: int,
    message: str,
) -> None:
    receiver.status = status
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", f"{receiver.url}/custom/logs")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"logs     {receiver.url}/custom/logs: answers" in out
    assert message in out
    assert [r.path for r in receiver.requests] == ["/custom/logs"]


def test_grpc_is_a_tcp_connect(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"127.0.0.1:{closed_port()}")
    assert main(["check", "--timeout", "2"]) == 1
    assert "connection refused" in capsys.readouterr().out
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{listener.getsockname()[1]}")
        assert main(["check", "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert "grpc (OTEL_EXPORTER_OTLP_PROTOCOL)" in out
    assert out.count("TCP connection accepted") == 3
    assert "the gRPC service itself was not called" in out


def test_credentials_in_the_endpoint_are_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_ENDPOINT", f"http://user:hunter2@127.0.0.1:{closed_port()}/otlp?token=abc123"
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=zzz")
    assert main(["check", "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert "abc123" not in out
    assert "zzz" not in out
    assert "http://***@127.0.0.1:" in out
    assert "token=***" in out


def test_as_a_subprocess() -> None:
    result = run("check", env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}"))
    assert result.returncode == 1
    assert "UNREACHABLE" in result.stdout
    assert run("check").returncode == 0


def test_settings_configure_cannot_use_are_errors_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "0")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "-1")
    monkeypatch.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "abc")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "0")
    monkeypatch.setenv("MULTI_LLM_OTEL_SINK", str(tmp_path))
    assert main(["check"]) == 4
    out = capsys.readouterr().out
    assert "error: OTEL_BSP_MAX_QUEUE_SIZE='0' is not a positive integer; using the default 2048" in out
    assert "error: OTEL_BLRP_SCHEDULE_DELAY='-1' is not a positive integer; using the default 1000" in out
    assert "error: OTEL_ATTRIBUTE_COUNT_LIMIT='abc' is not a non-negative integer; using the default 128" in out
    assert "error: OTEL_METRIC_EXPORT_INTERVAL='0'" in out
    assert f"error: MULTI_LLM_OTEL_SINK='{tmp_path}' is a directory; using the program's stderr" in out
    assert "result: INVALID SETTINGS: 5 settings cannot be used" in out
    assert "spans: queue 2,048, 512 per export, every 5,000 ms" in out, "the default configure() uses instead"


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_an_unparsable_endpoint_is_an_error_not_a_crash(protocol: str) -> None:
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://[::1", OTEL_EXPORTER_OTLP_PROTOCOL=protocol)
    result = run("check", "--timeout", "1", env=env)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: OTEL_EXPORTER_OTLP_ENDPOINT='http://[::1' is not a valid URL" in result.stdout
    default = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
    assert f"using the default {default}\n" in result.stdout


def test_a_per_signal_protocol_is_shown_as_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    assert main(["check"]) == 0
    assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL is ignored" in capsys.readouterr().out


def test_a_missing_ca_file_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"https://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(tmp_path / "missing-ca.pem"))
    assert main(["check", "--timeout", "1"]) == 1
    assert "the TLS files cannot be used" in capsys.readouterr().out
