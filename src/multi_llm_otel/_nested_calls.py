"""An instrumented SDK method called inside another call of ours is part of that call.

``@llm_call def answer(q): return client.chat.completions.create(...).choices[0].message.content``
with ``instrument()`` active is one LLM call, not two. The inner method records nothing of its
own: it tells the outer call what it sees (the client, so the provider and server; the model the
request names; the response) and the outer call, which alone has a span, reports them. A function
that returns only the text of the answer then still reports the model and the tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from multi_llm_otel import _attribute_names as names
from multi_llm_otel import providers
from multi_llm_otel._guard import contained
from multi_llm_otel._provider_choice import read_request
from multi_llm_otel._request_observer import observe_requests
from multi_llm_otel.providers._base import remember_client_secrets

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
    with contained():
        owner = args[0] if args else None
        extractor = providers.for_client(owner)
        if extractor is None:
            return
        choice = outer.choice
        if choice.extractor is None:
            # As if the client had been found when the call started (ProviderChoice does the same).
            remember_client_secrets(owner)
            observe_requests(owner)
            _set_server(outer, extractor, owner)
        choice.adopt(extractor)
        request = read_request(extractor, kwargs)
        if request.model:
            outer.observe_model(request.model)


def after_inner(outer: Call, result: object) -> None:
    """Keep the response an inner SDK method returned for ``outer`` (not a stream: the outer call
    watches the stream it returns, and a stream consumed inside the function is not seen)."""
    with contained():
        if providers.for_response(result) is not None:
            _inner_response.set((outer, result))


def _set_server(call: Call, extractor: providers.Extractor, owner: object) -> None:
    choice, record = call.choice, call.record
    name, address, port = providers.provider_from_base_url(extractor.base_url(owner), "")
    choice.fallback = f"{extractor.name}_compatible" if address else extractor.name
    attrs: dict[str, Any] = {}
    if name and choice.provider is None:
        choice.provider = record.provider = attrs[names.PROVIDER_NAME] = name
    if address:
        choice.address = record.server_address = attrs[names.SERVER_ADDRESS] = address
    if port:
        choice.port = record.server_port = attrs[names.SERVER_PORT] = port
    if call.span is not None and attrs:
        call.span.set_attributes(attrs)
