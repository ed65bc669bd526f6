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
from dataclasses import dataclass
from typing import IO, Final
from urllib.parse import unquote, urlsplit, urlunsplit

from multi_llm_otel._setup import _PATHS, _SIGNALS, _exporter_kind, _otlp_endpoint_set

__all__ = ["command", "describe_otlp", "redact_url"]

_HTTP_DEFAULT: Final = "http://localhost:4318"
_GRPC_DEFAULT: Final = "http://localhost:4317"
_SAMPLERS: Final = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)


@dataclass
class Target:
    signal: str
    url: str
    source: str
    headers_var: str | None


@dataclass
class Outcome:
    ok: bool
    message: str


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def redact_url(url: str) -> str:
    """The endpoint without credentials: user info and query values become ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = (
        "&".join(p.split("=", 1)[0] + "=***" if "=" in p else p for p in parts.query.split("&")) if parts.query else ""
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _parse_pairs(text: str) -> list[tuple[str, str]]:
    """``k=v,k2=v2`` as the OTel variables write headers and resource attributes (values URL-encoded)."""
    pairs = []
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs.append((unquote(key.strip()), unquote(value.strip())))
    return pairs


def _protocol() -> tuple[str, str]:
    raw = _env("OTEL_EXPORTER_OTLP_PROTOCOL").lower()
    if not raw:
        return "http/protobuf", "default; set OTEL_EXPORTER_OTLP_PROTOCOL=grpc for gRPC"
    if raw in ("grpc", "http/protobuf"):
        return raw, "OTEL_EXPORTER_OTLP_PROTOCOL"
    return (
        "http/protobuf",
        f"OTEL_EXPORTER_OTLP_PROTOCOL={raw!r} is not supported by the Python SDK; configure() falls back",
    )


def _target(signal_name: str, protocol: str) -> Target:
    per_signal = f"OTEL_EXPORTER_OTLP_{signal_name.upper()}_ENDPOINT"
    headers_var = next(
        (v for v in (f"OTEL_EXPORTER_OTLP_{signal_name.upper()}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS") if _env(v)),
        None,
    )
    if _env(per_signal):
        return Target(signal_name, _env(per_signal), per_signal, headers_var)
    base = _env("OTEL_EXPORTER_OTLP_ENDPOINT")
    if protocol == "grpc":
        return Target(
            signal_name, base or _GRPC_DEFAULT, "OTEL_EXPORTER_OTLP_ENDPOINT" if base else "default", headers_var
        )
    url = f"{(base or _HTTP_DEFAULT).removesuffix('/')}/{_PATHS[signal_name]}"
    source = f"OTEL_EXPORTER_OTLP_ENDPOINT + /{_PATHS[signal_name]}" if base else "default"
    return Target(signal_name, url, source, headers_var)


def describe_otlp(signal_name: str) -> str:
    """Where ``signal_name`` goes over OTLP, as configure() resolves it, without credentials."""
    protocol = _protocol()[0]
    return f"OTLP {protocol} {redact_url(_target(signal_name, protocol).url)}"


def _headers(target: Target) -> dict[str, str]:
    return dict(_parse_pairs(_env(target.headers_var))) if target.headers_var else {}


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


def probe_http(target: Target, timeout: float) -> Outcome:
    """POST an empty export request: a Collector accepts it as zero items, and it exercises
    the path, the TLS set-up and the credentials exactly as an export would."""
    headers = {"Content-Type": "application/x-protobuf", **_headers(target)}
    request = urllib.request.Request(target.url, data=b"", headers=headers, method="POST")  # noqa: S310 - the user's own endpoint
    context = _tls_context(target.signal) if target.url.lower().startswith("https:") else None
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


def probe_grpc(target: Target, timeout: float) -> Outcome:
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


def _sampler() -> str:
    name = _env("OTEL_TRACES_SAMPLER").lower()
    if not name:
        return "parentbased_always_on (default)"
    if name not in _SAMPLERS:
        return f"{name!r} is unknown to the SDK, which uses parentbased_always_on instead"
    if not name.endswith("traceidratio"):
        return f"{name} (OTEL_TRACES_SAMPLER)"
    arg = _env("OTEL_TRACES_SAMPLER_ARG")
    try:
        ratio = float(arg)
    except ValueError:
        return (
            f"{name} with ratio 1.0 (OTEL_TRACES_SAMPLER_ARG={arg!r} is not a number)"
            if arg
            else f"{name} with ratio 1.0"
        )
    return f"{name} with ratio {ratio} (OTEL_TRACES_SAMPLER_ARG)"


def command(timeout: float, out: IO[str]) -> int:
    """Exit codes: 0 every OTLP endpoint answers, or nothing is configured; 1 one does not."""

    def line(label: str, text: str) -> None:
        out.write(f"{label:<16}{text}\n")

    out.write("multi-llm-otel check: the telemetry set-up configure() derives from the environment\n\n")
    otlp = _otlp_endpoint_set()
    kinds = {s: _exporter_kind(s, otlp) for s in _SIGNALS}
    why = "an OTLP endpoint is set" if otlp else "no OTLP endpoint is set"
    line("exporters", "  ".join(f"{s}: {kinds[s]}" for s in _SIGNALS) + f"   ({why})")
    for s in _SIGNALS:
        raw = _env(f"OTEL_{s.upper()}_EXPORTER")
        if raw and raw.lower() not in ("otlp", "console", "none"):
            line("", f"ignored: OTEL_{s.upper()}_EXPORTER={raw!r} (configure() knows otlp, console and none)")
    if "console" in kinds.values():
        sink = _env("MULTI_LLM_OTEL_SINK")
        line(
            "console sink",
            f"JSON lines to {sink} (MULTI_LLM_OTEL_SINK)"
            if sink
            else "JSON lines to the program's stderr (the ingest command: stdout)",
        )

    protocol, protocol_note = _protocol()
    line("protocol", f"{protocol} ({protocol_note})")
    ignored = [v for s in _SIGNALS if _env(v := f"OTEL_EXPORTER_OTLP_{s.upper()}_PROTOCOL")]
    if ignored:
        line("", f"ignored: {', '.join(ignored)} (configure() uses one protocol for every signal)")
    targets = [_target(s, protocol) for s in _SIGNALS if kinds[s] == "otlp"]
    for target in targets:
        line(
            "endpoint" if target is targets[0] else "",
            f"{target.signal:<8} {redact_url(target.url)}   ({target.source})",
        )
    header_vars = ["OTEL_EXPORTER_OTLP_HEADERS"] + [f"OTEL_EXPORTER_OTLP_{s.upper()}_HEADERS" for s in _SIGNALS]
    header_notes = [f"{v}: {len(_parse_pairs(_env(v)))} set" for v in header_vars if _env(v)]
    line("headers", ("; ".join(header_notes) + " (names and values hidden)") if header_notes else "none")
    timeout_env = _env("OTEL_EXPORTER_OTLP_TIMEOUT")
    line(
        "export timeout",
        f"{timeout_env} s (OTEL_EXPORTER_OTLP_TIMEOUT)" if timeout_env else "10 s per export (default)",
    )

    attributes = _parse_pairs(_env("OTEL_RESOURCE_ATTRIBUTES"))
    service = _env("OTEL_SERVICE_NAME")
    from_attrs = next((v for k, v in attributes if k == "service.name"), None)
    if service:
        line("service.name", f"{service} (OTEL_SERVICE_NAME)")
    elif from_attrs:
        line("service.name", f"{from_attrs} (OTEL_RESOURCE_ATTRIBUTES)")
    else:
        line("service.name", "not set: each program's configure() name (ingest: multi-llm-otel-ingest)")
    others = [f"{k}={v}" for k, v in attributes if k != "service.name"]
    line("resource", ", ".join(others) + " (OTEL_RESOURCE_ATTRIBUTES)" if others else "no extra attributes")
    line("sampler", _sampler())
    hashed = bool(_env("MULTI_LLM_OTEL_USER_ID_HASH_KEY"))
    line(
        "user ids",
        "exported as HMAC-SHA-256 hashes (MULTI_LLM_OTEL_USER_ID_HASH_KEY)" if hashed else "exported as they are",
    )
    if _env("OTEL_SDK_DISABLED").lower() == "true":
        line("disabled", "OTEL_SDK_DISABLED=true: the SDK records and exports nothing")
    out.write("\n")

    if not targets:
        out.write(
            "nothing to check: no signal exports over OTLP. This is the embedded default: telemetry is\n"
            "written as JSON lines, no server needed. Set OTEL_EXPORTER_OTLP_ENDPOINT (for example\n"
            "http://localhost:4318) to export to a Collector.\n"
        )
        return 0

    out.write(f"reachability (timeout {timeout:g} s)\n")
    probed: dict[str, Outcome] = {}
    for target in targets:
        key = target.url if protocol == "grpc" else f"{target.url} {target.headers_var}"
        if key not in probed:
            probed[key] = probe_grpc(target, timeout) if protocol == "grpc" else probe_http(target, timeout)
        out.write(f"  {target.signal:<8} {redact_url(target.url)}: {probed[key].message}\n")
    failed = [o for o in probed.values() if not o.ok]
    if failed:
        out.write("\nresult: UNREACHABLE: telemetry sent now would be retried, then dropped.\n")
        return 1
    out.write("\nresult: the OTLP endpoint answers.\n")
    return 0
