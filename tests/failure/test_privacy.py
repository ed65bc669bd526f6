"""Privacy: prompt and completion text only when the user opts in, bounded when they do; user
ids hashed with a key when asked, so the raw id is nowhere in what is exported."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.collector._procs import wait_until
from tests.failure._exported import exported_text
from tests.failure._harness import App, SinkCollector, arrived_logs, arrived_spans

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, bind_scope, llm_call
from multi_llm_otel._content_capture import ENV, MAX_CHARS
from multi_llm_otel.testing import capture

PROMPT = "PROMPT-MARKER-7c1e"
COMPLETION = "COMPLETION-MARKER-91ab"
TRUNCATED = "…[truncated]"


def openai_answer(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-p",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def openai_chunks(text: str) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "m"}
    for i in range(0, len(text), 4096):
        yield {**base, "choices": [{"index": 0, "delta": {"content": text[i : i + 4096]}, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


def run_calls(option: bool | None, prompt: str, completion: str) -> str:
    """A plain call, a stream and a failing call; returns all that would be exported."""

    @llm_call(capture_content=option)
    def ask(**kwargs: Any) -> dict[str, Any]:
        return openai_answer(completion)

    @llm_call(capture_content=option)
    def stream(**kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from openai_chunks(completion)

    @llm_call(capture_content=option)
    def fail(**kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("upstream said no")

    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt}]
    with capture() as captured:
        ask(model="m", messages=messages)
        list(stream(model="m", messages=messages, stream=True))
        with pytest.raises(RuntimeError):
            fail(model="m", messages=messages)
        assert len(captured.spans()) == 3
        return exported_text(captured)


@pytest.mark.parametrize("env", [None, "true", "false"])
@pytest.mark.parametrize("option", [None, True, False])
def test_content_only_when_opted_in(monkeypatch: pytest.MonkeyPatch, env: str | None, option: bool | None) -> None:
    if env is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, env)
    text = run_calls(option, PROMPT, COMPLETION)
    # The argument wins; without it, the standard variable decides; by default: off.
    expected = option if option is not None else env == "true"
    assert (PROMPT in text) is expected
    assert (COMPLETION in text) is expected


def test_content_is_bounded_when_opted_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    prompt = PROMPT + "p" * 200_000
    completion = COMPLETION + "c" * 200_000

    @llm_call(capture_content=True)
    def ask(**kwargs: Any) -> dict[str, Any]:
        return openai_answer(completion)

    @llm_call(capture_content=True)
    def stream(**kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from openai_chunks(completion)

    with capture() as captured:
        ask(model="m", messages=[{"role": "user", "content": prompt}])
        list(stream(model="m", messages=[{"role": "user", "content": prompt}], stream=True))
        texts = [
            value
            for record in captured.logs()
            for value in [*dict(record.attributes or {}).values(), *dict(record.body or {}).values()]  # type: ignore[call-overload]
            if isinstance(value, str)
        ]
        texts += [v for e in captured.span_events() for v in dict(e.attributes or {}).values() if isinstance(v, str)]
    content = [t for t in texts if PROMPT in t or COMPLETION in t]
    assert len(content) >= 8  # prompt and completion, attribute and body, log and span event, twice
    assert max(len(t) for t in content) <= MAX_CHARS + len(TRUNCATED)
    assert all(t.endswith(TRUNCATED) for t in content)


HASH_KEY = b"k3y-for-tests"
RAW_USER = "alice.raw-id@example.com"


def test_user_ids_hashed_with_a_key_appear_nowhere_raw() -> None:
    @llm_call(provider="openai")
    def ask(**kwargs: Any) -> dict[str, Any]:
        multi_llm_otel.emit(BusinessEvent.new("custom").with_metadata("k", 1))
        return openai_answer("ok")

    with capture(user_id_hash_key=HASH_KEY) as captured:
        with bind_scope(EventScope.user(RAW_USER)):
            ask(model="m", messages=[{"role": "user", "content": "hi"}])
        multi_llm_otel.emit(BusinessEvent.new("explicit"), EventScope.user(RAW_USER))
        text = exported_text(captured)
        users = {dict(r.attributes or {}).get("user.id") for r in captured.logs()}
    digest = "hmac-sha256:" + hmac.new(HASH_KEY, RAW_USER.encode(), "sha256").hexdigest()
    assert users == {digest}
    assert RAW_USER not in text
    assert "alice" not in text
    assert digest in text


@pytest.mark.collector
def test_user_id_hash_key_from_the_environment_covers_the_resource_too(otelcol: Path, tmp_path: Path) -> None:
    """``MULTI_LLM_OTEL_USER_ID_HASH_KEY`` alone: events in a bound user scope and a process
    configured for one user (its Resource carries ``user.id``) export only the hash."""
    service = "failure-user-hash"
    with SinkCollector(otelcol, tmp_path / "sink") as collector:
        env = {"MULTI_LLM_OTEL_USER_ID_HASH_KEY": HASH_KEY.decode()}
        options = {"service_name": service, "endpoint": collector.http_url, "user_scope": RAW_USER}
        with App(options, env, tmp_path / "app.log") as app:
            app("as_user", user=RAW_USER, phase="p", n=20)
            app("mixed", phase="q", n=20)
            app.close()

        def everything() -> bool:
            requests = collector.requests()
            return len(arrived_spans(requests, service)) >= 40 and len(arrived_logs(requests, service)) >= 120

        wait_until(everything, 15, "the spans and log records", collector.server)
        raw = collector.out.read_text()
        logs = arrived_logs(collector.requests(), service)
    digest = "hmac-sha256:" + hmac.new(HASH_KEY, RAW_USER.encode(), "sha256").hexdigest()
    assert len(logs) == 120
    assert {rec["attrs"].get("user.id") for rec in logs} == {digest}
    resource_users = {
        a["value"]["stringValue"]
        for line in collector.requests()
        for group in (*line.get("resourceLogs", []), *line.get("resourceSpans", []))
        for a in group["resource"].get("attributes", [])
        if a["key"] == "user.id"
    }
    assert resource_users == {digest}
    assert RAW_USER not in raw
    assert "alice" not in raw
    assert json.dumps(RAW_USER)[1:-1] not in raw
