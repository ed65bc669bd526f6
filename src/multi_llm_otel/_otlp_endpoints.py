"""Where each signal goes over OTLP: the endpoint, headers variable, timeout and compression
of one signal, resolved as the OpenTelemetry exporters resolve them, and checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from multi_llm_otel._env_reader import EnvReader

__all__ = ["GRPC_DEFAULT", "HTTP_DEFAULT", "OTLP_PATHS", "Endpoint", "otlp_endpoint"]

OTLP_PATHS: Final = {"traces": "v1/traces", "logs": "v1/logs", "metrics": "v1/metrics"}
HTTP_DEFAULT: Final = "http://localhost:4318"
GRPC_DEFAULT: Final = "http://localhost:4317"


@dataclass(frozen=True)
class Endpoint:
    """Where one signal goes over OTLP, and with what per-request settings."""

    url: str
    source: str
    headers_variable: str | None
    timeout: float
    compression: str


def _url_error(url: str, grpc: bool) -> str | None:
    """Why ``url`` cannot be an OTLP endpoint, or None. gRPC also takes ``host:port``."""
    try:
        parts = urlsplit(url if "://" in url or not grpc else "http://" + url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "is not an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    return None


def otlp_endpoint(r: EnvReader, signal: str, protocol: str, given: str | None) -> Endpoint:
    upper = signal.upper()
    grpc = protocol == "grpc"
    default = GRPC_DEFAULT if grpc else f"{HTTP_DEFAULT}/{OTLP_PATHS[signal]}"
    per_signal = f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"
    if given is not None:
        name, raw = "configure(endpoint=...)", given
        url = given if grpc else f"{given.rstrip('/')}/{OTLP_PATHS[signal]}"
        source = name if grpc else f"{name} + /{OTLP_PATHS[signal]}"
    elif r.text(per_signal):
        name, raw = per_signal, r.text(per_signal)
        url, source = raw, per_signal
    elif r.text("OTEL_EXPORTER_OTLP_ENDPOINT"):
        name, raw = "OTEL_EXPORTER_OTLP_ENDPOINT", r.text("OTEL_EXPORTER_OTLP_ENDPOINT")
        url = raw if grpc else f"{raw.rstrip('/')}/{OTLP_PATHS[signal]}"
        source = name if grpc else f"{name} + /{OTLP_PATHS[signal]}"
    else:
        name, raw, url, source = "", "", default, "default"
    error = _url_error(url, grpc) if name else None
    if error is not None:
        shown = default if grpc or name == per_signal else HTTP_DEFAULT
        r.problem(name, raw, error, f"the default {shown}")
        url, source = default, f"default, {name} is invalid"
    compression_found = r.first(f"OTEL_EXPORTER_OTLP_{upper}_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")
    compression = "none"
    if compression_found is not None:
        cname, craw = compression_found
        allowed = ("gzip", "none") if grpc else ("gzip", "deflate", "none")
        if craw.lower() in allowed:
            compression = craw.lower()
        else:
            r.problem(cname, craw, f"is not one of {', '.join(allowed)} ({protocol})", "none")
    headers = r.first(f"OTEL_EXPORTER_OTLP_{upper}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
    timeout = r.seconds((f"OTEL_EXPORTER_OTLP_{upper}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"), 10.0)
    return Endpoint(url, source, headers[0] if headers else None, timeout, compression)
