"""The package's public surface, and what ``import multi_llm_otel`` costs a program."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import types

import pytest

import multi_llm_otel

# Names the package module binds for its own use: typing helpers, not API.
HELPERS = {"annotations", "TYPE_CHECKING", "Any"}


def test_all_is_sorted_and_unique() -> None:
    assert multi_llm_otel.__all__ == sorted(set(multi_llm_otel.__all__))


def test_every_public_name_in_the_module_is_exported() -> None:
    """Like httpx's test_exported_members: nothing public-looking is left out of __all__."""
    public = {
        name
        for name, value in vars(multi_llm_otel).items()
        if not name.startswith("_")
        and name not in HELPERS
        and not (isinstance(value, types.ModuleType) and name != "event_types")
    }
    assert public <= set(multi_llm_otel.__all__), public - set(multi_llm_otel.__all__)


@pytest.mark.parametrize("name", multi_llm_otel.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(multi_llm_otel, name)
    assert value is not None
    if name != "__version__":
        assert getattr(value, "__module__", getattr(value, "__name__", "")).startswith("multi_llm_otel"), value
    assert name in dir(multi_llm_otel)


def test_star_import_binds_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from multi_llm_otel import *", namespace)
    assert sorted(n for n in namespace if n != "__builtins__") == multi_llm_otel.__all__
    for name in multi_llm_otel.__all__:
        assert namespace[name] is getattr(multi_llm_otel, name)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = multi_llm_otel.no_such_name
    assert not hasattr(multi_llm_otel, "no_such_name")


def test_the_version_is_the_distributions() -> None:
    assert multi_llm_otel.__version__ == importlib.metadata.version("multi-llm-otel")


def test_the_main_names_are_there() -> None:
    # What users port from the Rust crate and what the README uses.
    for name in ("BusinessEvent", "EventScope", "event_types", "emit", "configure", "bind_scope", "stats"):
        assert name in multi_llm_otel.__all__


def modules_after(code: str) -> list[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def heavy(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in prefixes or m.startswith(prefixes)]


PROVIDER_SDKS = ("openai", "anthropic", "ollama", "lmstudio")


def test_importing_the_package_loads_no_opentelemetry_and_no_provider_sdk() -> None:
    loaded = modules_after("import multi_llm_otel")
    assert "multi_llm_otel" in loaded
    assert heavy(loaded, ("opentelemetry",)) == []
    assert heavy(loaded, PROVIDER_SDKS) == []
    assert "opentelemetry.sdk" not in loaded


def test_using_the_event_model_loads_no_opentelemetry() -> None:
    loaded = modules_after(
        "import multi_llm_otel\n"
        "e = multi_llm_otel.BusinessEvent.new(multi_llm_otel.event_types.LLM_REQUEST).with_metadata('m', {1})\n"
        "multi_llm_otel.BusinessEvent.from_json(e.to_json())\n"
        "with multi_llm_otel.bind_scope(multi_llm_otel.EventScope.user('u')): pass\n"
        "multi_llm_otel.stats()"
    )
    assert heavy(loaded, ("opentelemetry",)) == []
    assert heavy(loaded, PROVIDER_SDKS) == []


def test_the_lazy_names_load_opentelemetry_on_first_use() -> None:
    # The check above is meaningful only if the same program does load it when asked to.
    loaded = modules_after("import multi_llm_otel\nmulti_llm_otel.emit")
    assert "opentelemetry.trace" in loaded
    assert heavy(loaded, PROVIDER_SDKS) == []
