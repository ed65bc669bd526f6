"""The one place that decides which extractor reads a call and which provider it is named after.

At the start the client decides, when one is found (an option, the SDK method's own client, an
argument, a closure variable or module global the function uses); a stream or the first item
a generator yields may supply the extractor later; at the end, a call whose provider is still
unknown is named from the extractor that read its response or error.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from multi_llm_otel import providers
from multi_llm_otel._guard import never_raise
from multi_llm_otel._request_observer import observe_requests
from multi_llm_otel.providers import Extractor, RequestInfo
from multi_llm_otel.providers._base import instance_attrs, remember_client_secrets


class ProviderChoice:
    """The extractor of a call and what its client said about the provider."""

    __slots__ = ("address", "extractor", "fallback", "port", "provider")

    def __init__(self, option: str | None, extractor: Extractor | None, client: object) -> None:
        self.extractor = extractor
        self.provider = option
        self.fallback: str | None = None
        self.address: str | None = None
        self.port: int | None = None
        if extractor is not None:
            _prepare(client)
            name, self.address, self.port = providers.provider_from_base_url(extractor.base_url(client), "")
            self.provider = option or name or None
            # A server we cannot name from its URL speaks the SDK's protocol; that does not make
            # it that vendor. The response may still name it (llama.cpp does).
            self.fallback = f"{extractor.name}_compatible" if self.address else extractor.name

    def adopt(self, extractor: Extractor) -> None:
        """A stream (or a generator's first item) showed which SDK's objects the call returns."""
        if self.extractor is None:
            self.extractor = extractor

    def settle(self, reader: Extractor | None, server_hint: str | None) -> str | None:
        """The provider's name once the call ended, read by ``reader``; ``None`` when it was
        known from the start or nothing names it."""
        if self.provider is not None or reader is None:
            return None
        self.provider = server_hint or self.fallback or reader.name
        return self.provider


# Clients whose key is remembered and whose HTTP client is observed: once per client.
_prepared: weakref.WeakSet[object] = weakref.WeakSet()


def _prepare(client: object) -> None:
    try:
        if client in _prepared:
            return
        _prepared.add(client)
    except TypeError:  # not hashable or not weakly referable: prepared on every call
        pass
    remember_client_secrets(client)
    observe_requests(client)


@never_raise("request_unreadable", RequestInfo)
def read_request(extractor: Extractor | None, kwargs: Mapping[str, object]) -> RequestInfo:
    """The request parameters; unreadable ones must not stop the call."""
    reader = extractor if extractor is not None else providers.get("openai") or providers.Extractor()
    return reader.request(kwargs)


# Arguments that are plain data (the model name, the messages, the sampling parameters) are
# never clients and hold none: they are passed over without asking every extractor.
_DATA: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes, list, dict, tuple})


def find_client(explicit: object, candidates: Iterable[object]) -> tuple[Extractor | None, object]:
    """The first client among ``explicit`` and ``candidates``, or held by one of them as an
    attribute (``self.llm``, ``agent.client``)."""
    if explicit is not None:
        extractor = providers.for_client(explicit)
        if extractor is not None:
            return extractor, explicit
    for value in candidates:
        if type(value) in _DATA:
            continue
        extractor = providers.for_client(value)
        if extractor is not None:
            return extractor, value
        held = _held_client(value)
        if held is not None:
            return held
    return None, None


# An application object is looked into this far for a client it holds.
_ATTRIBUTES_LOOKED_AT = 32


def _held_client(value: object) -> tuple[Extractor, object] | None:
    """A client in ``value``'s instance attributes, ``client`` first. Read from the instance
    dictionary, so no property or ``__getattr__`` of the application's runs."""
    attrs = instance_attrs(value)
    if not attrs:
        return None
    inner = attrs.get("client")
    if inner is not None:
        extractor = providers.for_client(inner)
        if extractor is not None:
            return extractor, inner
    for inner in itertools.islice(attrs.values(), _ATTRIBUTES_LOOKED_AT):
        if type(inner) in _DATA:
            continue
        extractor = providers.for_client(inner)
        if extractor is not None:
            return extractor, inner
    return None


def _is_client(value: object) -> bool:
    return providers.for_client(value) is not None or _held_client(value) is not None


def locate_client(func: Callable[..., Any]) -> Callable[[], object] | None:
    """A reader for a client ``func`` uses without taking it as an argument: a closure variable
    or a module global it names (the usual ``client = OpenAI()`` at module level)."""
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    for cell in getattr(func, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:
            continue
        if _is_client(contents):
            return functools.partial(getattr, cell, "cell_contents")
    namespace = getattr(func, "__globals__", {})
    for name in code.co_names:
        if _is_client(namespace.get(name)):
            return functools.partial(namespace.get, name)
    return None
