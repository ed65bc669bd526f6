"""An instrumented SDK method called inside another call of ours is part of that call.

``@llm_call def answer(q): return client.chat.completions.create(...).choices[0].message.content``
with ``instrument()`` active is one LLM call, not two. The inner method records nothing of its
own: it tells the outer call what it sees (the client, so the provider and server; the request's
model and parameters; the response) and the outer call, which alone has a span, reports them. A
function that returns only the text of the answer then still reports the model and the tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from multi_llm_otel import _diagnostics, providers
from multi_llm_otel._invocation import request_from_kwargs
from multi_llm_otel._json_value import _clean_str

if TYPE_CHECKING:
    from multi_llm_otel._invocation import Call

# The last response an inner method returned, with the call it belongs to. Set in the outer
# function's own context, so the outer wrapper reads it after the function returns.
_inner_response: ContextVar[tuple[Call, object] | None] = ContextVar("multi_llm_otel.inner_response", default=None)


def response_of(call: Call, result: object) -> object:
    """What ``call`` reads its response from: ``result``, unless that is no response (the text of
    the answer, say) and an inner SDK method returned one."""
    seen = _inner_response.get()
    if seen is None or seen[0] is not call:
        return result
    _inner_response.set(None)
    return result if providers.for_response(result) is not None else seen[1]


def before_inner(outer: Call, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Give ``outer`` the client and the request an inner SDK method was called with."""
    try:
        owner = args[0] if args else None
        extractor = providers.for_client(owner)
        if extractor is None:
            return
        if outer.extractor is None:
            outer.extractor = extractor
        request = request_from_kwargs(extractor, kwargs)
        if outer.model is None and request.model:
            _set_model(outer, request.model)
        if outer.provider is None and outer.fallback_provider is None:
            _set_server(outer, extractor, owner)
    except Exception as exc:  # noqa: BLE001 - the SDK call goes ahead regardless
        _diagnostics.report("instrumentation_failed", str(exc), exc)


def after_inner(outer: Call, result: object) -> None:
    """Keep the response an inner SDK method returned for ``outer`` (not a stream: the outer call
    watches the stream it returns, and a stream consumed inside the function is not seen)."""
    try:
        if providers.for_response(result) is not None:
            _inner_response.set((outer, result))
    except Exception as exc:  # noqa: BLE001
        _diagnostics.report("instrumentation_failed", str(exc), exc)


def _set_model(call: Call, model: str) -> None:
    call.model = model
    call.metric_attrs["gen_ai.request.model"] = model
    if call.span is not None:
        call.span.set_attribute("gen_ai.request.model", model)
        call.span.update_name(_clean_str(f"{call.operation} {model}"))


def _set_server(call: Call, extractor: providers.Extractor, owner: object) -> None:
    name, address, port = providers.provider_from_base_url(extractor.base_url(owner), "")
    call.fallback_provider = f"{extractor.name}_compatible" if address else extractor.name
    extra: dict[str, Any] = {}
    if name:
        call.provider = name
        extra["gen_ai.provider.name"] = name
    if address:
        extra["server.address"] = address
    if port:
        extra["server.port"] = port
    call.metric_attrs.update(extra)
    if call.span is not None and extra:
        call.span.set_attributes(extra)
