"""``multi-llm-otel check``: the configuration ``configure()`` derives from the ``OTEL_*``
variables, and whether the OTLP endpoint it would export to answers.

Header names and values are never printed: names can reveal the kind of credential and values
are the credential. Endpoints are shown without user info and query values for the same reason.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

from multi_llm_otel._env_reader import parse_pairs
from multi_llm_otel._settings import SIGNALS, Endpoint, Settings, resolve
from multi_llm_otel.cli._exit import ExitCode
from multi_llm_otel.cli._reporting import redact_url

__all__ = ["command"]


@dataclass
class Outcome:
    ok: bool
    message: str


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _headers(target: Endpoint) -> dict[str, str]:
    return dict(parse_pairs(_env(target.headers_variable))) if target.headers_variable else {}


def _tls_context(signal_name: str) -> ssl.SSLContext:
    def setting(kind: str) -> str:
        return _env(f"OTEL_EXPORTER_OTLP_{signal_name.upper()}_{kind}") or _env(f"OTEL_EXPORTER_OTLP_{kind}")

    context = ssl.create_default_context(cafile=setting("CERTIFICATE") or None)
    if setting("CLIENT_CERTIFICATE"):
        context.load_cert_chain(setting("CLIENT_CERTIFICATE"), setting("CLIENT_KEY") or None)
    return context


def _status_outcome(status: int, elapsed_ms: float) -> Outcome:
    took = f"({elapsed_ms:.0f} ms)"
    if 200 <= status < 300:
        return Outcome(True, f"reachable: HTTP {status} to an empty OTLP export request {took}")
    if status == 400:
        return Outcome(True, f"reachable: HTTP 400 to an empty export request, as some receivers answer {took}")
    if status in (401, 403):
        return Outcome(False, f"answers, but refuses the credentials (HTTP {status}): check the OTLP headers variable")
    if status == 404:
        return Outcome(False, "answers, but has no OTLP receiver at this path (HTTP 404): check the endpoint")
    if status in (429, 502, 503, 504):
        return Outcome(
            False, f"answers, but is busy or unavailable (HTTP {status}): exports would be retried, then dropped"
        )
    return Outcome(False, f"answers with HTTP {status}: exports to it would fail")


def probe_http(signal: str, target: Endpoint, timeout: float) -> Outcome:
    """POST an empty export request: a Collector accepts it as zero items, and it exercises
    the path, the TLS set-up and the credentials exactly as an export would."""
    headers = {"Content-Type": "application/x-protobuf", **_headers(target)}
    request = urllib.request.Request(target.url, data=b"", headers=headers, method="POST")  # noqa: S310 - the user's own endpoint
    try:
        context = _tls_context(signal) if target.url.lower().startswith("https:") else None
    except (OSError, ssl.SSLError) as exc:
        return Outcome(False, f"the TLS files cannot be used: {exc}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310 - as above
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except urllib.error.URLError as exc:
        return Outcome(False, f"unreachable: {_reason(exc.reason)}")
    except (OSError, ValueError) as exc:
        return Outcome(False, f"unreachable: {_reason(exc)}")
    return _status_outcome(status, (time.monotonic() - started) * 1000)


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "no answer before the timeout"
    if isinstance(reason, socket.gaierror):
        return f"the host name does not resolve ({reason.strerror})"
    if isinstance(reason, ssl.SSLError):
        return f"TLS failed ({reason.reason or reason})"
    return str(reason) or type(reason).__name__


def probe_grpc(target: Endpoint, timeout: float) -> Outcome:
    """A TCP connect to the gRPC endpoint. The gRPC service behind the port is not called, so
    a port that accepts connections but serves something else still passes: said in the output."""
    url = target.url if "://" in target.url else "http://" + target.url
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 4317
    except ValueError as exc:
        return Outcome(False, f"not a valid endpoint: {exc}")
    if not host:
        return Outcome(False, "not a valid endpoint: no host")
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return Outcome(False, f"unreachable: {_reason(exc)}")
    took = (time.monotonic() - started) * 1000
    return Outcome(True, f"reachable: TCP connection accepted ({took:.0f} ms); the gRPC service itself was not called")


def _sampler(settings: Settings) -> str:
    sampler = settings.sampler
    if sampler.source == "default":
        return f"{sampler.name} (default)"
    if sampler.name.endswith("traceidratio"):
        return f"{sampler.name} with ratio {sampler.ratio} ({sampler.source})"
    return f"{sampler.name} ({sampler.source})"


Line = Callable[[str, str], None]


def _exporters(settings: Settings, line: Line) -> None:
    why = "an OTLP endpoint is set" if settings.otlp else "no OTLP endpoint is set"
    line("exporters", "  ".join(f"{s}: {settings.exporters[s]}" for s in SIGNALS) + f"   ({why})")
    if "console" not in settings.exporters.values():
        return
    if settings.sink_source == "MULTI_LLM_OTEL_SINK":
        line("console sink", f"JSON lines to {settings.sink} (MULTI_LLM_OTEL_SINK)")
    else:
        line("console sink", "JSON lines to the program's stderr (the ingest command: stdout)")


def _otlp(settings: Settings, line: Line) -> None:
    line("protocol", f"{settings.protocol} ({settings.protocol_source})")
    for number, (signal, target) in enumerate(settings.endpoints.items()):
        line("endpoint" if number == 0 else "", f"{signal:<8} {redact_url(target.url)}   ({target.source})")
    notes = [f"{v}: {n} set" for v, n in settings.header_counts.items()]
    line("headers", ("; ".join(notes) + " (names and values hidden)") if notes else "none")
    timeouts = sorted({t.timeout for t in settings.endpoints.values()}) or [10.0]
    line("export timeout", ", ".join(f"{t:g} s" for t in timeouts) + " per export request")


def _batches(settings: Settings, line: Line) -> None:
    for name, batch in (("spans", settings.spans), ("log records", settings.logs)):
        line(
            "batches" if name == "spans" else "",
            f"{name}: queue {batch.max_queue_size:,}, {batch.max_export_batch_size:,} per export,"
            f" every {batch.schedule_delay_millis:,} ms",
        )
    line("", f"metrics: every {settings.metric_export_interval_millis:,} ms")


def _resource(settings: Settings, line: Line) -> None:
    if settings.service_name:
        line("service.name", f"{settings.service_name} ({settings.service_name_source})")
    else:
        line("service.name", "not set: each program's configure() name (ingest: multi-llm-otel-ingest)")
    others = [f"{k}={v}" for k, v in settings.resource_attributes if k != "service.name"]
    line("resource", ", ".join(others) + " (OTEL_RESOURCE_ATTRIBUTES)" if others else "no extra attributes")
    line("sampler", _sampler(settings))
    line(
        "span events",
        "events also on their spans (the span event bridge)"
        if settings.span_events
        else "off: events are log records only (MULTI_LLM_OTEL_SPAN_EVENTS / span_events=False)",
    )
    hashed = settings.user_id_hash_key is not None
    line(
        "user ids",
        "exported as HMAC-SHA-256 hashes (MULTI_LLM_OTEL_USER_ID_HASH_KEY)" if hashed else "exported as they are",
    )
    if settings.sdk_disabled:
        line("disabled", "OTEL_SDK_DISABLED=true: the SDK records and exports nothing")


def _reachability(settings: Settings, timeout: float, out: IO[str]) -> bool:
    out.write(f"reachability (timeout {timeout:g} s)\n")
    grpc = settings.protocol == "grpc"
    probed: dict[str, Outcome] = {}
    for signal, target in settings.endpoints.items():
        key = target.url if grpc else f"{target.url} {target.headers_variable}"
        if key not in probed:
            probed[key] = probe_grpc(target, timeout) if grpc else probe_http(signal, target, timeout)
        out.write(f"  {signal:<8} {redact_url(target.url)}: {probed[key].message}\n")
    return all(o.ok for o in probed.values())


def command(timeout: float, out: IO[str]) -> int:
    """Exit codes: 0 every OTLP endpoint answers, or nothing is configured; 1 one does not;
    4 a setting cannot be used (configure() would warn and use its default)."""

    def line(label: str, text: str) -> None:
        out.write(f"{label:<16}{text}\n")

    settings = resolve()
    out.write("multi-llm-otel check: the telemetry set-up configure() derives from the environment\n\n")
    _exporters(settings, line)
    if settings.endpoints:
        _otlp(settings, line)
    _batches(settings, line)
    _resource(settings, line)
    for note in settings.notes:
        line("ignored", note)
    out.write("\n")
    for problem in settings.problems:
        out.write(f"error: {problem}\n")
    if settings.problems:
        out.write("\n")

    reachable = True
    if settings.endpoints:
        reachable = _reachability(settings, timeout, out)
    else:
        out.write(
            "nothing to check: no signal exports over OTLP. This is the embedded default: telemetry is\n"
            "written as JSON lines, no server needed. Set OTEL_EXPORTER_OTLP_ENDPOINT (for example\n"
            "http://localhost:4318) to export to a Collector.\n"
        )
    if settings.problems:
        count = len(settings.problems)
        out.write(f"\nresult: INVALID SETTINGS: {count} setting{'s' if count != 1 else ''} cannot be used (above).\n")
        return ExitCode.INVALID_SETTINGS
    if not reachable:
        out.write("\nresult: UNREACHABLE: telemetry sent now would be retried, then dropped.\n")
        return ExitCode.PROBLEM
    if settings.endpoints:
        out.write("\nresult: the OTLP endpoint answers.\n")
    return ExitCode.OK
