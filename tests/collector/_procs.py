"""Helpers of the tests that run real servers: reading what the Collector, Jaeger and
Prometheus exported.

Starting and stopping the servers lives in ``tests/_servers.py``; its names are re-exported
here because the test modules import them from this module.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from tests._servers import LOOPBACK as LOOPBACK
from tests._servers import REPO as REPO
from tests._servers import Server as Server
from tests._servers import free_port as free_port
from tests._servers import free_ports as free_ports
from tests._servers import http_ok as http_ok
from tests._servers import port_open as port_open
from tests._servers import running as running
from tests._servers import wait_until as wait_until


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def get_text(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def read_otlp_json_lines(path: Path) -> list[dict[str, Any]]:
    """The file exporter's output: one OTLP JSON export request per line.

    A line still being written (no newline yet) is left for the next read.
    """
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def otlp_log_records(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten OTLP JSON log export requests; each record gets its resource under ``_resource``."""
    records = []
    for req in requests:
        for rl in req.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    records.append({**rec, "_resource": rl.get("resource", {})})
    return records


def otlp_spans(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spans = []
    for req in requests:
        for rs in req.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                spans.extend(ss.get("spans", []))
    return spans


def any_value(value: dict[str, Any]) -> Any:
    """Decode an OTLP JSON AnyValue into a Python value (int64 arrives as a string)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes_dict(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes_dict(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    # Protobuf JSON leaves out empty strings, the empty key included.
    return {kv.get("key", ""): any_value(kv.get("value", {})) for kv in attributes}


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def prometheus_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of the Prometheus text format as (metric name, labels, value)."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        labels = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(match[2] or "")}
        samples.append((match[1], labels, float(match[3])))
    return samples


def sample_sum(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items()))
