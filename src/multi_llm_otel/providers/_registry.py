"""The ordered list of extractors the decorator asks, and how an extractor joins it.

Precedence: extractors are asked in list order and the first that owns an object reads it.
``register`` appends, or inserts right ahead of the extractor named by ``before``. Objects of
an SDK are told apart by their classes, so order matters only for plain dicts of JSON, which
several providers' shapes can match: the built-in ``openai`` extractor claims every
OpenAI-shaped dict (``choices``, ``object``), so an extractor for OpenAI-shaped data registers
``before="openai"``. Registering a name again replaces the earlier extractor of that name.

Third-party packages may instead declare an entry point in the ``multi_llm_otel.providers``
group; those load once, on the first look-up, never at import.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Mapping
from typing import Any

from multi_llm_otel import _diagnostics
from multi_llm_otel.providers._base import Extractor, bound_owner

ENTRY_POINT_GROUP = "multi_llm_otel.providers"

_lock = threading.RLock()
_extractors: tuple[Extractor, ...] = ()
_owners: dict[str, tuple[tuple[Extractor, Callable[[Any], bool]], ...]] = {}
# Answers remembered per class while every extractor decides by class (``decides_by_class``):
# a look-up runs on every call, a scan asks each extractor in turn. Replaced with the list.
_by_class: dict[str, dict[type, Extractor | None]] | None = None
# Classes remembered per kind of look-up, at most: a program that makes classes at run time
# must not grow this without bound.
_CLASSES_REMEMBERED = 512
_UNKNOWN: Any = object()
# "pending" until the first look-up, "loading" while the entry points load, then "done".
_plugins = "pending"


def register(extractor: Extractor, *, before: str | None = None) -> Extractor:
    """Add ``extractor`` to the ones the decorator asks, and return it.

    It goes last, or right ahead of the extractor named ``before`` (a ``ValueError`` if none
    has that name). An extractor already registered under the same name is replaced: at its
    own place when ``before`` is not given.
    """
    if not isinstance(extractor, Extractor):
        raise TypeError(f"register() takes an Extractor instance, not {type(extractor).__name__}")
    name = extractor.name
    if not isinstance(name, str) or not name:
        raise ValueError(f"{type(extractor).__name__} needs a non-empty string name")
    with _lock:
        current = list(_extractors)
        old = next((i for i, e in enumerate(current) if e.name == name), None)
        if before is None and old is not None:
            current[old] = extractor
        else:
            if old is not None:
                del current[old]
            if before is None:
                current.append(extractor)
            else:
                index = next((i for i, e in enumerate(current) if e.name == before), None)
                if index is None:
                    raise ValueError(f"no extractor named {before!r} is registered")
                current.insert(index, extractor)
        _install(tuple(current))
    return extractor


def _install(extractors: tuple[Extractor, ...]) -> None:
    """Replaced whole, never mutated: look-ups iterate a snapshot without taking the lock.
    The ownership tests are bound once here, not looked up by name on every call."""
    global _extractors, _owners, _by_class
    _owners = {method: tuple((e, getattr(e, method)) for e in extractors) for method in _FAILURE_KINDS}
    _by_class = {method: {} for method in _FAILURE_KINDS} if all(e.decides_by_class for e in extractors) else None
    _extractors = extractors


def unregister(name: str) -> Extractor | None:
    """Remove the extractor registered as ``name``; returns it, or ``None`` if there was none."""
    with _lock:
        found = next((e for e in _extractors if e.name == name), None)
        if found is not None:
            _install(tuple(e for e in _extractors if e is not found))
        return found


def registered() -> tuple[Extractor, ...]:
    """The extractors in the order they are asked (entry points loaded first)."""
    if _plugins != "done":
        _load_plugins()
    return _extractors


def get(name: str) -> Extractor | None:
    return next((e for e in registered() if e.name == name), None)


def _load_plugins() -> None:
    global _plugins
    with _lock:
        # "loading": a plugin that looks something up while it registers must not recurse.
        if _plugins != "pending":
            return
        _plugins = "loading"
        try:
            # Imported here: ``importlib.metadata`` costs more to import than the extractors.
            from importlib.metadata import entry_points

            for point in entry_points(group=ENTRY_POINT_GROUP):
                _load_plugin(point.name, point.load)
        except Exception as exc:  # noqa: BLE001 - broken package metadata must not stop a call
            _diagnostics.report("provider_plugin_failed", f"reading entry points: {exc}", exc)
        finally:
            _plugins = "done"


def _load_plugin(name: str, load: object) -> None:
    try:
        target = load()  # type: ignore[operator]
        if isinstance(target, Extractor):
            register(target)
        elif isinstance(target, type) and issubclass(target, Extractor):
            register(target())
        elif callable(target):
            # A function that calls register() itself, to choose its place.
            target()
        else:
            raise TypeError(f"it names a {type(target).__name__}, not an Extractor or a function")
    except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the others
        _diagnostics.report("provider_plugin_failed", f"entry point {name!r}: {exc}", exc)


_FAILURE_KINDS = {
    "owns_client": "client_unreadable",
    "owns_response": "response_unreadable",
    "owns_stream": "response_unreadable",
    "owns_error": "error_unreadable",
}


def _first(method: str, obj: object, cls: type) -> Extractor | None:
    """The first extractor whose ``method`` owns ``obj``; ``cls`` is the class that decides."""
    if _plugins != "done":
        _load_plugins()
    memo = _by_class
    if memo is None:
        return _scan(method, obj)[0]
    answers = memo[method]
    found = answers.get(cls, _UNKNOWN)
    if found is not _UNKNOWN:
        return found  # type: ignore[no-any-return]
    found, certain = _scan(method, obj)
    if certain and _class_decides(cls):
        if len(answers) >= _CLASSES_REMEMBERED:
            answers.clear()
        answers[cls] = found
    return found


def _scan(method: str, obj: object) -> tuple[Extractor | None, bool]:
    """The owner and whether every extractor answered. One that raises (a third-party one
    meeting an object it did not expect) is skipped, so the others still get their turn; the
    object is reported once, not per extractor."""
    failed = False
    for extractor, owns in _owners[method]:
        try:
            if owns(obj):
                return extractor, not failed
        except Exception as exc:  # noqa: BLE001
            if not failed:
                failed = True
                _diagnostics.report(_FAILURE_KINDS[method], f"{extractor.name}.{method}: {exc}", exc)
    return None, not failed


def _class_decides(cls: type) -> bool:
    """Whether ownership of a ``cls`` instance follows from ``cls``: not for built-in types
    (generators, functions, modules are told apart by their contents) nor for JSON-shaped
    mappings and sequences, whose keys decide."""
    try:
        return cls.__module__ != "builtins" and not issubclass(cls, (Mapping, list, tuple, types.ModuleType))
    except Exception:  # noqa: BLE001 - a class with an odd metaclass is asked every time
        return False


def for_client(obj: object) -> Extractor | None:
    return _first("owns_client", obj, type(bound_owner(obj)))


def for_response(obj: object) -> Extractor | None:
    return _first("owns_response", obj, type(obj))


def for_stream(obj: object) -> Extractor | None:
    return _first("owns_stream", obj, type(obj))


def for_error(exc: BaseException) -> Extractor | None:
    return _first("owns_error", exc, type(exc))
