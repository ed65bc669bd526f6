"""The OpenTelemetry instrumentor: what ``opentelemetry-instrument python app.py`` loads through
the ``opentelemetry_instrumentor`` entry point (install the ``instrument`` extra).

Under the launcher with no OpenTelemetry distro, nothing else sets up the SDK, so instrumenting
also runs ``multi_llm_otel.configure()``: OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or a signal's
endpoint) is set, else the JSON-lines sink (``MULTI_LLM_OTEL_SINK``). Providers a distro already
installed are kept; ``configure()`` only fills the missing ones. ``instrument(configure=False)``
skips it, and so does giving providers, as to other instrumentors:
``instrument(tracer_provider=..., logger_provider=..., meter_provider=...)`` (the global ones
stand in for those not given).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from multi_llm_otel import _emitter, _instrument

_PROVIDERS = ("tracer_provider", "logger_provider", "meter_provider")

__all__ = ["MultiLlmOtelInstrumentor"]


class MultiLlmOtelInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``MultiLlmOtelInstrumentor().instrument(scope=..., capture_content=..., configure=True)``."""

    # The emitters that given providers replaced; class-wide, as the instrumentor is a singleton.
    _replaced: ClassVar[list[_emitter.Emitter | None]] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        # Any subset of the SDKs will do; the absent ones are skipped.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        given = {name: kwargs[name] for name in _PROVIDERS if kwargs.get(name) is not None}
        if given:
            self._replaced.append(_emitter.install(_emitter.Emitter(**given)))
        elif kwargs.get("configure", True):
            from multi_llm_otel._setup import _configured, configure

            if not _configured:
                configure()
        _instrument.instrument(scope=kwargs.get("scope"), capture_content=kwargs.get("capture_content"))

    def _uninstrument(self, **kwargs: Any) -> None:
        _instrument.uninstrument()
        while self._replaced:
            _emitter.restore(self._replaced.pop())
