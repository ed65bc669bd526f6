"""A real Rust service's events (the multi-llm crate's own providers against llama-server)
through ``multi-llm-otel ingest``, compared with the decorator's events for the same calls."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from tests.cli._helpers import clean_env, run, sink_records
from tests.llm._assertions import MODEL
from tests.rust._producer import CALLS, LLM_PATH, MAX_TOKENS, PROMPT, SESSION, USER, RustRun, produce

from multi_llm_otel import EventScope, bind_scope, llm_call
from multi_llm_otel._serde_lines import parse_events
from multi_llm_otel.testing import capture

pytestmark = [pytest.mark.llm, pytest.mark.rust]

TOKEN_NAMES = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")


def _ingest(tmp_path: Path, lines: list[str]) -> list[dict[str, Any]]:
    path = tmp_path / "rust.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    result = run("ingest", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    assert result.returncode == 0, result.stderr
    return sink_records(sink, "log")


def test_the_crate_emits_what_the_docs_say(rust_events: RustRun) -> None:
    events = rust_events.events()
    assert all(e["scope"] == {"User": USER} for e in events)
    kinds = [(e["event"]["metadata"]["provider"], e["event"]["event_type"]) for e in events]
    assert Counter(kinds) == {
        ("openai", "llm_request"): CALLS,
        ("openai", "llm_response"): CALLS,
        ("anthropic", "llm_request"): CALLS,
        ("anthropic", "llm_response"): CALLS,
    }
    for e in events:
        meta = e["event"]["metadata"]
        if e["event"]["event_type"] == "llm_response":
            assert meta["session_id"] == SESSION
            assert isinstance(meta["duration_ms"], int)
            assert meta["output_tokens"] <= MAX_TOKENS
        if meta["provider"] == "anthropic":
            assert meta["llm_path"] == LLM_PATH


def test_ingest_maps_the_crates_events_with_totals_and_derived_cache_events(
    rust_events: RustRun, tmp_path: Path
) -> None:
    records = _ingest(tmp_path, rust_events.lines)
    responses = [e["event"] for e in rust_events.events() if e["event"]["event_type"] == "llm_response"]
    with_cache = [r for r in responses if {"cache_read_tokens", "cache_creation_tokens"} & set(r["metadata"])]
    assert with_cache, "llama-server reports cache_read_input_tokens on its Anthropic API"
    assert len(records) == len(rust_events.lines) + len(with_cache)
    by_id = {r["attributes"]["multi_llm.event.id"]: r for r in records}
    for record in records:
        attrs = record["attributes"]
        assert (attrs["multi_llm.event.scope"], attrs["user.id"]) == ("user", USER)
        assert attrs["gen_ai.provider.name"] in ("openai", "anthropic")
    for response in responses:
        meta = response["metadata"]
        attrs = by_id[response["id"]]["attributes"]
        cached = meta.get("cache_read_tokens", 0) + meta.get("cache_creation_tokens", 0)
        assert attrs["gen_ai.usage.input_tokens"] == meta["input_tokens"] + cached
        assert attrs["input_tokens"] == meta["input_tokens"], "the crate's raw value is kept"
        assert attrs["gen_ai.usage.output_tokens"] == meta["output_tokens"]
        assert attrs["session.id"] == SESSION
    derived = [r for r in records if r["attributes"].get("derived") is True]
    assert len(derived) == len(with_cache)
    for record in derived:
        attrs = record["attributes"]
        source = next(r for r in with_cache if r["id"] == attrs["derived_from"])
        read = source["metadata"].get("cache_read_tokens", 0)
        assert record["event_name"] == ("cache_hit" if read > 0 else "cache_miss")
        assert attrs["cache_read_tokens"] == read
        assert attrs["gen_ai.usage.input_tokens"] == by_id[source["id"]]["attributes"]["gen_ai.usage.input_tokens"]
        assert attrs["gen_ai.provider.name"] == "anthropic"


def test_a_line_holding_an_array_of_events_is_ingested_whole(
    rust_service: Path, llama_server: str, tmp_path: Path
) -> None:
    run_ = produce(rust_service, llama_server, "--array")
    arrays = [json.loads(line) for line in run_.lines]
    assert all(isinstance(a, list) and len(a) == 2 for a in arrays), "request and response of each call"
    records = _ingest(tmp_path, run_.lines)
    ids = {r["attributes"]["multi_llm.event.id"] for r in records}
    assert {e["id"] for a in arrays for e in a} <= ids
    # A bare event has no scope: the crate's API treats it as system scope.
    assert {r["attributes"]["multi_llm.event.scope"] for r in records} == {"system"}


def _decorator_calls(llama_server: str) -> dict[str, list[dict[str, Any]]]:
    """The same requests through @llm_call on the official SDKs; llm_response attributes by the
    crate provider that made the same calls. The decorator names the server that answered
    (``llama.cpp``, ``anthropic_compatible``), the crate the provider it used: the values differ."""

    @llm_call
    def chat(client: openai.OpenAI) -> Any:
        return client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS, temperature=0
        )

    @llm_call
    def message(client: anthropic.Anthropic) -> Any:
        # This SDK has no temperature argument; the crate sends one, so it goes in the body.
        return client.messages.create(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=MAX_TOKENS,
            extra_body={"temperature": 0},
        )

    with (
        capture() as captured,
        bind_scope(EventScope.user(USER)),
        openai.OpenAI(base_url=f"{llama_server}/v1", api_key="not-a-key") as oa,
        anthropic.Anthropic(base_url=llama_server, api_key="not-a-key") as an,
    ):
        for _ in range(CALLS):
            chat(oa)
        for _ in range(CALLS):
            message(an)
        records = captured.logs("llm_response")
    attrs = [dict(record.attributes or {}) for record in records]
    return {"openai": attrs[:CALLS], "anthropic": attrs[CALLS:]}


def test_the_same_calls_through_llm_call_give_the_same_names_and_token_totals(
    rust_events: RustRun, llama_server: str
) -> None:
    rust: dict[str, list[dict[str, Any]]] = {}
    with capture() as captured:
        for line in rust_events.lines:
            for event, scope in parse_events(line):
                captured.emitter.emit(event, scope)
        for record in captured.logs("llm_response"):
            attrs = dict(record.attributes or {})
            rust.setdefault(str(attrs["gen_ai.provider.name"]), []).append(attrs)
    python = _decorator_calls(llama_server)
    assert sorted(rust) == sorted(python) == ["anthropic", "openai"]
    for provider in rust:
        rust_names = {k for a in rust[provider] for k in a if k.startswith("gen_ai.")}
        python_names = {k for a in python[provider] for k in a if k.startswith("gen_ai.")}
        assert rust_names <= python_names, (provider, rust_names - python_names)
        for name in TOKEN_NAMES:
            assert sum(a[name] for a in rust[provider]) == sum(a[name] for a in python[provider]), (provider, name)
