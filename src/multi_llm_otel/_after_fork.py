"""What a process made by ``fork()`` must not share with its parent."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["on_fork_in_child", "renew_http_connections"]


def _weakly(method: Callable[[], object]) -> Callable[[], None]:
    weak = weakref.WeakMethod(method)

    def call() -> None:
        bound = weak()
        if bound is not None:
            bound()

    return call


def on_fork_in_child(
    method: Callable[[], object],
    before: Callable[[], object] | None = None,
    after_in_parent: Callable[[], object] | None = None,
) -> None:
    """Call the bound ``method`` in every child forked from now on (and ``before`` /
    ``after_in_parent`` around the fork in the parent), for as long as its object lives: the
    registration cannot be undone, so it holds the object weakly."""
    if not hasattr(os, "register_at_fork"):
        return
    if before is not None and after_in_parent is not None:
        os.register_at_fork(before=_weakly(before), after_in_parent=_weakly(after_in_parent))
    os.register_at_fork(after_in_child=_weakly(method))


def renew_http_connections(exporter: Any) -> bool:
    """Give an OTLP/HTTP exporter's ``requests`` session new, empty connection pools.

    A child inherits the parent's kept-alive sockets: both processes would then write their
    requests to, and read their answers from, one connection, and batches are lost. The
    session object itself is kept (its headers, credentials, CA and proxies stay as the
    exporter set them); each adapter is rebuilt the way ``requests`` rebuilds one on
    unpickling, which leaves the inherited sockets to the parent. False when the exporter has
    no such session (gRPC, the JSON-lines sink)."""
    session = getattr(getattr(getattr(exporter, "_client", None), "_transport", None), "_session", None)
    adapters = getattr(session, "adapters", None)
    if not adapters:
        return False
    from requests.adapters import HTTPAdapter

    for adapter in adapters.values():
        if isinstance(adapter, HTTPAdapter):
            adapter.__setstate__(adapter.__getstate__())
    return True
