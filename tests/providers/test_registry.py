"""The public provider interface: a third-party extractor joins with ``register()`` alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import multi_llm_otel
from multi_llm_otel import llm_call, providers
from multi_llm_otel.providers import (
    ErrorInfo,
    Extractor,
    RequestInfo,
    ResponseInfo,
    _registry,
    as_int,
    as_str,
    get_field,
    get_path,
)
from multi_llm_otel.testing import Captured, capture


@pytest.fixture(autouse=True)
def _restore_registry() -> Iterator[None]:
    saved = _registry._extractors
    multi_llm_otel.reset_stats()
    yield
    _registry._install(saved)


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    with capture() as captured:
        yield captured


class AcmeResponse:
    """An SDK object of a provider the library has never heard of."""

    def __init__(self, text: str, prompt: int, answer: int, cached: int, done: bool = True) -> None:
        self.id = "acme-1"
        self.engine = "acme-large"
        self.text = text
        self.meter = {"in": prompt, "out": answer, "cached": cached}
        self.done = done


class AcmeError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"acme says no: {reason}")
        self.status = status
        self.reason = reason


class AcmeClient:
    def ask(self, **kwargs: Any) -> AcmeResponse:
        return AcmeResponse("hello", prompt=100, answer=5, cached=60)


class AcmeExtractor(Extractor):
    name = "acme"

    def owns_client(self, obj: object) -> bool:
        return isinstance(obj, AcmeClient)

    def owns_response(self, obj: object) -> bool:
        return isinstance(obj, AcmeResponse) or (isinstance(obj, Mapping) and "meter" in obj)

    def response(self, obj: object) -> ResponseInfo:
        meter = get_field(obj, "meter")
        cached = as_int(get_field(meter, "cached"))
        return ResponseInfo(
            response_model=as_str(get_field(obj, "engine")),
            response_id=as_str(get_field(obj, "id")),
            input_tokens=as_int(get_field(meter, "in")),
            output_tokens=as_int(get_field(meter, "out")),
            cache_read_tokens=cached,
            caching_reported=cached is not None,
            finish_reasons=["done"] if get_field(obj, "done") is True else [],
            output_text=as_str(get_field(obj, "text")),
        )

    def owns_error(self, exc: BaseException) -> bool:
        return isinstance(exc, AcmeError)

    def error(self, exc: BaseException) -> ErrorInfo:
        assert isinstance(exc, AcmeError)
        return ErrorInfo(error_type="AcmeError", status_code=exc.status, error_code=exc.reason)

    def request(self, kwargs: Mapping[str, object]) -> RequestInfo:
        return RequestInfo(model=as_str(kwargs.get("engine")), max_tokens=as_int(get_path(kwargs, "limits", "out")))


def names() -> list[str]:
    return [e.name for e in providers.registered()]


def test_builtins_are_registered_in_their_documented_order() -> None:
    assert names()[-2:] == ["litellm", "openai"]
    assert {"anthropic", "lmstudio", "ollama", "gcp.gen_ai"} <= set(names()[:-2])


def test_register_appends_or_goes_before_a_named_one() -> None:
    acme = providers.register(AcmeExtractor())
    assert names()[-1] == "acme"
    assert providers.get("acme") is acme

    class Early(AcmeExtractor):
        name = "early"

    providers.register(Early(), before="anthropic")
    assert names().index("early") == names().index("anthropic") - 1


def test_registering_a_name_again_replaces_it_in_place() -> None:
    position = names().index("ollama")
    replacement = type("MyOllama", (Extractor,), {"name": "ollama"})()
    providers.register(replacement)
    assert names().index("ollama") == position
    assert providers.get("ollama") is replacement
    assert len([n for n in names() if n == "ollama"]) == 1


def test_bad_registrations_are_refused() -> None:
    with pytest.raises(TypeError):
        providers.register(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        providers.register(Extractor())
    with pytest.raises(ValueError, match="nobody"):
        providers.register(AcmeExtractor(), before="nobody")
    assert "acme" not in names()


def test_unregister() -> None:
    acme = providers.register(AcmeExtractor())
    assert providers.unregister("acme") is acme
    assert providers.unregister("acme") is None
    assert providers.for_response(AcmeResponse("x", 1, 1, 0)) is None


def test_a_registered_extractor_serves_the_decorator(telemetry: Captured) -> None:
    providers.register(AcmeExtractor())

    @llm_call
    def ask(client: AcmeClient, **kwargs: Any) -> AcmeResponse:
        return client.ask(**kwargs)

    # The client among the arguments picks the extractor that reads the request.
    result = ask(AcmeClient(), engine="acme-large", limits={"out": 5})
    assert isinstance(result, AcmeResponse)
    (span,) = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.provider.name"] == "acme"
    assert attrs["gen_ai.request.model"] == "acme-large"
    assert attrs["gen_ai.request.max_tokens"] == 5
    assert attrs["gen_ai.usage.input_tokens"] == 100
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 60
    assert attrs["gen_ai.response.finish_reasons"] == ("done",)
    assert telemetry.event_names() == ["llm_request", "llm_response", "cache_hit"]


def test_the_default_accumulator_merges_a_generator_functions_chunks(telemetry: Captured) -> None:
    providers.register(AcmeExtractor())

    @llm_call(model="acme-large")
    def stream() -> Iterator[AcmeResponse]:
        yield AcmeResponse("Hel", prompt=100, answer=1, cached=0, done=False)
        yield AcmeResponse("lo", prompt=100, answer=2, cached=0, done=True)

    assert [c.text for c in stream()] == ["Hel", "lo"]
    (record,) = telemetry.logs("llm_response")
    reply = dict(record.attributes or {})
    assert reply["output_tokens"] == 2
    assert reply["finish_reasons"] == ("done",)
    assert reply["chunk_count"] == 2
    assert reply["completed"] is True


def test_its_errors_are_read_by_it(telemetry: Captured) -> None:
    providers.register(AcmeExtractor())

    @llm_call(model="acme-large")
    def ask() -> None:
        raise AcmeError(429, "quota")

    with pytest.raises(AcmeError):
        ask()
    (record,) = telemetry.logs("llm_error")
    error = dict(record.attributes or {})
    assert (error["error_type"], error["status_code"], error["error_code"]) == ("AcmeError", 429, "quota")


def test_a_raising_extractor_is_skipped_and_the_others_still_answer() -> None:
    class Broken(Extractor):
        name = "broken"

        def owns_response(self, obj: object) -> bool:
            raise RuntimeError("broken plugin")

    providers.register(Broken(), before="anthropic")
    assert providers.for_response({"type": "message", "content": []}) is providers.get("anthropic")
    assert multi_llm_otel.stats()["response_unreadable"] == 1


class Ticket:
    """An object whose owner depends on its contents, not its class."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor


class TicketExtractor(Extractor):
    name = "ticket"

    def owns_response(self, obj: object) -> bool:
        return isinstance(obj, Ticket) and obj.vendor == "acme"


def test_answers_are_remembered_per_class_only_while_every_extractor_decides_by_class() -> None:
    import openai

    completion = openai.types.chat.ChatCompletion.model_construct(object="chat.completion", choices=[])
    assert providers.for_response(completion) is providers.get("openai")
    assert _registry._by_class is not None
    assert _registry._by_class["owns_response"][type(completion)] is providers.get("openai")
    # One extractor that looks at contents: from then on every object is asked about afresh.
    ticket = providers.register(TicketExtractor())
    assert _registry._by_class is None
    assert providers.for_response(Ticket("other")) is None
    assert providers.for_response(Ticket("acme")) is ticket
    assert providers.for_response(completion) is providers.get("openai")
    providers.unregister("ticket")
    assert _registry._by_class is not None


def test_json_shaped_values_are_always_asked_about_afresh() -> None:
    openai_json = {"object": "chat.completion", "choices": []}
    anthropic_json = {"type": "message", "content": []}
    assert providers.for_response(openai_json) is providers.get("openai")
    assert providers.for_response(anthropic_json) is providers.get("anthropic")
    assert providers.for_response([{"type": "message_start", "message": {}}]) is providers.get("anthropic")
    assert providers.for_response([openai_json]) is None
    assert _registry._by_class is not None
    assert dict not in _registry._by_class["owns_response"]
    assert list not in _registry._by_class["owns_response"]


def test_the_class_memory_is_bounded() -> None:
    for n in range(_registry._CLASSES_REMEMBERED + 10):
        assert providers.for_response(type(f"Made{n}", (), {})()) is None
    assert _registry._by_class is not None
    assert len(_registry._by_class["owns_response"]) <= _registry._CLASSES_REMEMBERED


def test_a_raising_extractors_answer_is_not_remembered() -> None:
    class Flaky(Extractor):
        name = "flaky"
        decides_by_class = True
        calls = 0

        def owns_response(self, obj: object) -> bool:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("first look fails")
            return isinstance(obj, AcmeResponse)

    flaky = providers.register(Flaky(), before="openai")
    response = AcmeResponse("x", 1, 1, 0)
    assert providers.for_response(response) is None
    assert providers.for_response(response) is flaky


def test_the_base_class_defaults_own_nothing() -> None:
    base = Extractor()
    for obj in ({"choices": []}, object(), "text"):
        assert not base.owns_client(obj)
        assert not base.owns_response(obj)
        assert not base.owns_stream(obj)
    assert not base.owns_error(ValueError("x"))
    error = base.error(type("Boom", (Exception,), {"status_code": 503})("key sk-abcdefghijklmnopqrstuv"))
    assert (error.error_type, error.status_code) == ("Boom", 503)
    assert error.message is not None
    assert "sk-abcdefghijklmnopqrstuv" not in error.message
    request = base.request({"model": "m", "max_tokens": 9, "temperature": 0.5, "stream": True})
    assert (request.model, request.max_tokens, request.temperature, request.stream) == ("m", 9, 0.5, True)


PLUGIN = """
from multi_llm_otel import providers

class PluginExtractor(providers.Extractor):
    name = "plugin"

    def owns_response(self, obj):
        return isinstance(obj, dict) and obj.get("plugin") is True

def install():
    providers.register(PluginExtractor(), before="openai")
"""


def test_an_entry_point_plugin_loads_on_first_use_and_picks_its_place(tmp_path: Path) -> None:
    (tmp_path / "acme_plugin.py").write_text(PLUGIN)
    dist = tmp_path / "acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[multi_llm_otel.providers]\nacme = acme_plugin:install\n")
    code = textwrap.dedent(
        """
        import sys
        from multi_llm_otel import providers
        print("acme_plugin" in sys.modules)
        names = [e.name for e in providers.registered()]
        print(names.index("plugin") == names.index("openai") - 1)
        print(providers.for_response({"plugin": True, "choices": []}).name)
        """
    )
    assert _python(code, tmp_path).split() == ["False", "True", "plugin"]


def test_a_broken_entry_point_is_reported_not_raised(tmp_path: Path) -> None:
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[multi_llm_otel.providers]\nbroken = no_such_module:thing\n")
    code = "import multi_llm_otel as m, multi_llm_otel.providers as p\nprint(len(p.registered()) > 4, m.stats())"
    assert _python(code, tmp_path).strip() == "True {'provider_plugin_failed': 1}"


def _python(code: str, path: Path) -> str:
    """What ``code`` prints in a fresh interpreter that finds packages in ``path``."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(path), "PATH": "/usr/bin:/bin"},
    ).stdout


def test_plain_data_arguments_are_never_taken_for_clients() -> None:
    from multi_llm_otel._provider_choice import find_client

    class Greedy(Extractor):
        name = "greedy"

        def owns_client(self, obj: object) -> bool:
            return True

    providers.register(Greedy(), before="openai")
    client = AcmeClient()
    data = ("gpt-4o-mini", 64, 0.2, True, None, b"x", [{"role": "user"}], {"a": 1}, ("t",))
    assert find_client(None, (*data, client)) == (providers.get("greedy"), client)
