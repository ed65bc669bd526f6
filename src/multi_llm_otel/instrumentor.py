"""The OpenTelemetry instrumentor: what ``opentelemetry-instrument python app.py`` loads through
the ``opentelemetry_instrumentor`` entry point (install the ``instrument`` extra).

Under the launcher with no OpenTelemetry distro, nothing else sets up the SDK, so instrumenting
also runs ``multi_llm_otel.configure()``: OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or a signal's
endpoint) is set, else the JSON-lines sink (``MULTI_LLM_OTEL_SINK``). Providers a distro already
installed are kept; ``configure()`` only fills the missing ones. ``instrument(configure=False)``
skips it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from multi_llm_otel import _instrument

__all__ = ["MultiLlmOtelInstrumentor"]


class MultiLlmOtelInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``MultiLlmOtelInstrumentor().instrument(scope=..., capture_content=..., configure=True)``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        # Any subset of the SDKs will do; the absent ones are skipped.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        if kwargs.get("configure", True):
            from multi_llm_otel._setup import _configured, configure

            if not _configured:
                configure()
        _instrument.instrument(scope=kwargs.get("scope"), capture_content=kwargs.get("capture_content"))

    def _uninstrument(self, **kwargs: Any) -> None:
        _instrument.uninstrument()
