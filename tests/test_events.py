"""The event model: BusinessEvent, EventScope, event_types, and the metadata rule of _json_value."""

from __future__ import annotations

import enum
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, event_types
from multi_llm_otel._events import uuid_text
from multi_llm_otel._json_value import MAX_DEPTH


def health_warnings(caplog: pytest.LogCaptureFixture, kind: str | None = None) -> list[str]:
    """The library's self-diagnostic warnings, optionally only those about ``kind``."""
    messages = [r.getMessage() for r in caplog.records if r.name == "multi_llm_otel" and r.levelno == logging.WARNING]
    return [m for m in messages if kind is None or f": {kind}" in m]


def is_json_object(metadata: object) -> bool:
    """True when ``metadata`` is what serde_json would accept: strict JSON, valid UTF-8."""
    if not isinstance(metadata, dict):
        return False
    text = json.dumps(metadata, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")  # raises on a lone surrogate
    return bool(json.loads(text) == metadata)


# --- BusinessEvent ---------------------------------------------------------------------------


def test_new_makes_a_v4_id_an_aware_utc_time_and_empty_metadata() -> None:
    before = datetime.now(timezone.utc)
    event = BusinessEvent.new(event_types.LLM_REQUEST)
    after = datetime.now(timezone.utc)

    assert isinstance(event.id, uuid.UUID)
    assert event.id.version == 4
    assert event.id.variant == uuid.RFC_4122
    assert event.event_type == "llm_request"
    assert event.metadata == {}
    assert event.created_at.tzinfo is not None
    assert event.created_at.utcoffset() == timedelta(0)
    assert before <= event.created_at <= after


def test_new_ids_are_unique() -> None:
    ids = {BusinessEvent.new("x").id for _ in range(1000)}
    assert len(ids) == 1000


def test_new_ids_behave_as_any_uuid() -> None:
    import copy
    import pickle

    made = BusinessEvent.new("x").id
    parsed = uuid.UUID(str(made))
    assert (made, hash(made), made.bytes, made.version) == (parsed, hash(parsed), parsed.bytes, 4)
    assert pickle.loads(pickle.dumps(made)) == made
    assert copy.deepcopy(made) == made
    with pytest.raises(TypeError):
        made.int = 0  # type: ignore[misc]
    # All 122 random bits vary: no bit outside the version and variant is stuck.
    ored, anded = 0, (1 << 128) - 1
    for _ in range(200):
        value = BusinessEvent.new("x").id.int
        ored, anded = ored | value, anded & value
    assert bin(ored ^ anded).count("1") == 122


@given(st.uuids())
def test_an_ids_text_is_its_str(value: uuid.UUID) -> None:
    assert uuid_text(value) == str(value)
    made = BusinessEvent.new("x").id
    assert uuid_text(made) == str(made)


def test_ids_ignore_the_applications_random_seed_and_differ_in_a_forked_child() -> None:
    import os
    import random

    random.seed(7)
    first = BusinessEvent.new("x").id
    random.seed(7)
    assert BusinessEvent.new("x").id != first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, str(BusinessEvent.new("x").id).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    in_child = uuid.UUID(os.read(read, 64).decode())
    os.close(read)
    assert in_child != BusinessEvent.new("x").id


def test_with_metadata_chains_as_in_the_rust_crate() -> None:
    event = BusinessEvent.new(event_types.LLM_REQUEST)
    same = event.with_metadata("model", "gpt-4").with_metadata("prompt_tokens", 150)

    assert same is event
    assert event.metadata == {"model": "gpt-4", "prompt_tokens": 150}


def test_with_metadata_replaces_an_existing_key() -> None:
    event = BusinessEvent.new("x").with_metadata("k", 1).with_metadata("k", "two")
    assert event.metadata == {"k": "two"}


def test_with_metadata_does_not_alias_the_callers_value() -> None:
    value: dict[str, Any] = {"a": [1, 2]}
    event = BusinessEvent.new("x").with_metadata("k", value)
    value["a"].append(3)
    value["b"] = 4
    assert event.metadata == {"k": {"a": [1, 2]}}


def test_constructor_takes_the_four_fields() -> None:
    event_id = uuid.uuid4()
    moment = datetime(2026, 11, 26, 19, 11, 18, 123456, tzinfo=timezone.utc)
    event = BusinessEvent(event_id, "llm_response", {"model": "gpt-4"}, moment)
    assert (event.id, event.event_type, event.metadata, event.created_at) == (
        event_id,
        "llm_response",
        {"model": "gpt-4"},
        moment,
    )


def test_constructor_accepts_an_id_string_and_any_utc_tzinfo() -> None:
    from zoneinfo import ZoneInfo

    event_id = uuid.uuid4()
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("UTC"))
    event = BusinessEvent(str(event_id), "x", {}, moment)  # type: ignore[arg-type]
    assert event.id == event_id
    assert event.created_at == moment
    assert event.created_at.tzinfo is timezone.utc


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"id": "not-a-uuid"}, "id"),
        ({"id": 42}, "id"),
        ({"event_type": 7}, "event_type"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"created_at": datetime(2026, 1, 1)}, "created_at"),  # noqa: DTZ001 - the naive case under test
        ({"created_at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))}, "created_at"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_constructor_rejects_bad_fields_naming_them(kwargs: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "event_type": "x",
        "metadata": {},
        "created_at": datetime.now(timezone.utc),
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{field}\b"):
        BusinessEvent(**fields)


def test_constructor_applies_the_metadata_rule(caplog: pytest.LogCaptureFixture) -> None:
    event = BusinessEvent(uuid.uuid4(), "x", {"ok": 1, "bad": {1, 2}, 3: "key"}, datetime.now(timezone.utc))  # type: ignore[dict-item]
    assert event.metadata == {"ok": 1}
    assert multi_llm_otel.stats() == {"metadata_value_rejected": 1, "metadata_key_rejected": 1}


def test_equality_is_by_value() -> None:
    event_id = uuid.uuid4()
    moment = datetime.now(timezone.utc)
    a = BusinessEvent(event_id, "x", {"k": [1, {"n": None}]}, moment)
    b = BusinessEvent(event_id, "x", {"k": [1, {"n": None}]}, moment)
    assert a == b
    assert a is not b
    assert a != BusinessEvent(event_id, "x", {"k": [1]}, moment)
    assert a != BusinessEvent(event_id, "y", {"k": [1, {"n": None}]}, moment)
    assert a != BusinessEvent(uuid.uuid4(), "x", {"k": [1, {"n": None}]}, moment)
    assert a != BusinessEvent(event_id, "x", {"k": [1, {"n": None}]}, moment + timedelta(microseconds=1))
    assert a != a.to_dict()  # type: ignore[comparison-overlap]
    assert BusinessEvent.new("x") != BusinessEvent.new("x")


def test_event_types_are_spelled_as_the_rust_crate_spells_them() -> None:
    assert event_types.LLM_REQUEST == "llm_request"
    assert event_types.LLM_RESPONSE == "llm_response"
    assert event_types.LLM_ERROR == "llm_error"
    assert event_types.CACHE_HIT == "cache_hit"
    assert event_types.CACHE_MISS == "cache_miss"
    assert event_types.ERROR == "error"
    assert sorted(event_types.__all__) == sorted(n for n in vars(event_types) if n.isupper())


# --- EventScope -----------------------------------------------------------------------------


def test_scope_user_and_system() -> None:
    user = EventScope.user("user_123")
    system = EventScope.system()
    assert user.user_id == "user_123"
    assert user.is_user
    assert user.kind == "user"
    assert system.user_id is None
    assert not system.is_user
    assert system.kind == "system"
    assert repr(user) == "EventScope.user('user_123')"
    assert repr(system) == "EventScope.system()"


def test_scope_is_hashable_and_equal_by_value() -> None:
    assert EventScope.user("a") == EventScope.user("a")
    assert EventScope.user("a") != EventScope.user("b")
    assert EventScope.user("a") != EventScope.system()
    assert EventScope.system() == EventScope.system()
    assert hash(EventScope.user("a")) == hash(EventScope.user("a"))
    assert len({EventScope.user("a"), EventScope.user("a"), EventScope.system(), EventScope.system()}) == 2
    by_scope = {EventScope.user("a"): 1, EventScope.system(): 2}
    assert by_scope[EventScope.user("a")] == 1
    assert by_scope[EventScope.system()] == 2


def test_scope_is_immutable() -> None:
    scope = EventScope.user("a")
    with pytest.raises(AttributeError):
        scope.user_id = "b"  # type: ignore[misc]


def test_scope_user_id_must_be_a_string() -> None:
    with pytest.raises(ValueError, match=r"^user_id"):
        EventScope.user(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scope", "text"),
    [(EventScope.user("user_123"), '{"User":"user_123"}'), (EventScope.system(), '"System"')],
)
def test_scope_json_is_serdes_default_enum_encoding(scope: EventScope, text: str) -> None:
    assert json.dumps(scope.to_json_value(), separators=(",", ":")) == text
    assert EventScope.from_json_value(json.loads(text)) == scope
    assert EventScope.from_json_value(scope.to_json_value()) == scope


def test_the_system_scope_is_also_read_in_serdes_map_form() -> None:
    assert EventScope.from_json_value({"System": None}) == EventScope.system()


@pytest.mark.parametrize(
    "value",
    [
        "system",
        "User",
        "",
        None,
        1,
        True,
        ["User", "a"],
        {"User": 1},
        {"User": None},
        {"user": "a"},
        {"User": "a", "System": None},
        {},
    ],
)
def test_scope_bad_json_forms_are_value_errors(value: object) -> None:
    with pytest.raises(ValueError, match=r"^scope"):
        EventScope.from_json_value(value)


# --- The metadata rule ----------------------------------------------------------------------


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (False, False),
        (0, 0),
        (-5, -5),
        (2**80, 2**80),
        (1.5, 1.5),
        (-0.0, -0.0),
        ("text", "text"),
        ("héllo ✓ 😀", "héllo ✓ 😀"),
        ([1, "a", None], [1, "a", None]),
        ((1, 2), [1, 2]),
        ({"a": {"b": [1, {"c": 2.5}]}}, {"a": {"b": [1, {"c": 2.5}]}}),
        ([], []),
        ({}, {}),
    ],
)
def test_json_values_are_kept(value: object, expected: object) -> None:
    event = BusinessEvent.new("x").with_metadata("k", value)
    assert event.metadata == {"k": expected}
    assert type(event.metadata["k"]) is type(expected)
    assert multi_llm_otel.stats() == {}


def test_subclasses_of_json_scalars_become_the_plain_types() -> None:
    event = BusinessEvent.new("x").with_metadata("enum", Color.RED).with_metadata("name", Name("n"))
    assert event.metadata == {"enum": 1, "name": "n"}
    assert type(event.metadata["enum"]) is int
    assert type(event.metadata["name"]) is str
    assert is_json_object(event.metadata)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_become_null_as_serde_json_writes_them(
    value: float, caplog: pytest.LogCaptureFixture
) -> None:
    event = BusinessEvent.new("x").with_metadata("k", value).with_metadata("nested", [1.0, value, {"v": value}])
    assert event.metadata == {"k": None, "nested": [1.0, None, {"v": None}]}
    assert is_json_object(event.metadata)
    assert multi_llm_otel.stats() == {"metadata_non_finite_float": 3}
    assert len(health_warnings(caplog, "metadata_non_finite_float")) == 1


def test_non_string_mapping_keys_are_written_as_json_writes_them() -> None:
    value: dict[Any, str] = {7: "int", 2.5: "float", True: "bool", None: "none", "s": "str"}
    event = BusinessEvent.new("x").with_metadata("k", value).with_metadata("f", {False: 0, -3: 1})
    assert event.metadata["k"] == json.loads(json.dumps(value))
    assert event.metadata["k"] == {"7": "int", "2.5": "float", "true": "bool", "null": "none", "s": "str"}
    assert event.metadata["f"] == {"false": 0, "-3": 1}


def test_a_mapping_key_json_cannot_write_rejects_the_whole_value(caplog: pytest.LogCaptureFixture) -> None:
    event = BusinessEvent.new("x").with_metadata("k", {"fine": 1, (1, 2): "tuple key"})
    assert event.metadata == {}
    assert multi_llm_otel.stats() == {"metadata_value_rejected": 1}
    assert len(health_warnings(caplog, "metadata_value_rejected")) == 1


def test_non_string_top_level_keys_are_skipped_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    event = BusinessEvent.new("x").with_metadata(1, "a").with_metadata(None, "b")  # type: ignore[arg-type]
    event.with_metadata("ok", True)
    assert event.metadata == {"ok": True}
    assert multi_llm_otel.stats() == {"metadata_key_rejected": 2}
    assert len(health_warnings(caplog, "metadata_key_rejected")) == 1


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def cyclic_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def cyclic_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["inner"] = {"back": value}
    return value


class RaisingMapping(Mapping[str, int]):
    def __getitem__(self, key: str) -> int:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iteration fails")

    def __len__(self) -> int:
        return 1


class RaisingList(list[int]):
    def __iter__(self) -> Iterator[int]:
        raise RuntimeError("iteration fails")


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        frozenset({"a"}),
        b"bytes",
        bytearray(b"bytes"),
        memoryview(b"bytes"),
        object(),
        1 + 2j,
        Decimal("1.5"),
        Fraction(1, 3),
        datetime.now(timezone.utc),
        date(2026, 1, 1),
        uuid.uuid4(),
        range(3),
        (x for x in range(3)),
        cyclic_list(),
        cyclic_dict(),
        nested(MAX_DEPTH + 1),
        {"deep": nested(MAX_DEPTH)},
        [1, 2, {3}],
        {"a": {"b": b"inner bytes"}},
        RaisingMapping(),
        RaisingList([1]),
    ],
    ids=lambda v: type(v).__name__,
)
def test_values_json_cannot_represent_are_skipped_and_reported(value: object, caplog: pytest.LogCaptureFixture) -> None:
    event = BusinessEvent.new("x").with_metadata("before", 1)
    event.with_metadata("k", value).with_metadata("after", 2)

    assert event.metadata == {"before": 1, "after": 2}
    assert is_json_object(event.metadata)
    assert multi_llm_otel.stats() == {"metadata_value_rejected": 1}
    assert len(health_warnings(caplog)) == 1
    assert len(health_warnings(caplog, "metadata_value_rejected")) == 1


def test_a_rejected_value_keeps_the_previous_value_of_the_key() -> None:
    event = BusinessEvent.new("x").with_metadata("k", 1).with_metadata("k", {1, 2})
    assert event.metadata == {"k": 1}


def test_nesting_up_to_max_depth_is_kept() -> None:
    event = BusinessEvent.new("x").with_metadata("k", nested(MAX_DEPTH))
    assert event.metadata == {"k": nested(MAX_DEPTH)}
    assert multi_llm_otel.stats() == {}


def test_each_kind_is_counted_every_time_but_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    event = BusinessEvent.new("x")
    for i in range(5):
        event.with_metadata(f"k{i}", {i})
    event.with_metadata("nan", float("nan"))
    assert event.metadata == {"nan": None}
    assert multi_llm_otel.stats() == {"metadata_value_rejected": 5, "metadata_non_finite_float": 1}
    assert len(health_warnings(caplog, "metadata_value_rejected")) == 1
    assert len(health_warnings(caplog, "metadata_non_finite_float")) == 1
    assert all("multi_llm_otel.stats()" in m for m in health_warnings(caplog))

    multi_llm_otel.reset_stats()
    assert multi_llm_otel.stats() == {}
    event.with_metadata("again", {1})
    assert multi_llm_otel.stats() == {"metadata_value_rejected": 1}
    assert len(health_warnings(caplog, "metadata_value_rejected")) == 2, "reset_stats re-arms the warning"


def test_lone_surrogates_are_replaced_in_values_and_keys(caplog: pytest.LogCaptureFixture) -> None:
    event = BusinessEvent.new("x")
    event.with_metadata("v", "a\ud800b").with_metadata("k\udfff", 1).with_metadata("n", {"x\udc00": ["\udbff"]})
    assert event.metadata == {"v": "a\ufffdb", "k\ufffd": 1, "n": {"x\ufffd": ["\ufffd"]}}
    assert is_json_object(event.metadata)
    assert BusinessEvent.from_json(event.to_json()) == event
    assert multi_llm_otel.stats()["metadata_text_replaced"] == 4
    assert len(health_warnings(caplog, "metadata_text_replaced")) == 1


def test_valid_surrogate_pairs_are_not_touched() -> None:
    event = BusinessEvent.new("x").with_metadata("emoji", "\U0001f600")
    assert event.metadata == {"emoji": "😀"}
    assert multi_llm_otel.stats() == {}


def test_a_lone_surrogate_in_the_event_type_is_replaced() -> None:
    event = BusinessEvent.new("llm\ud800")
    assert event.event_type == "llm\ufffd"
    assert BusinessEvent(uuid.uuid4(), "a\udc00", {}, datetime.now(timezone.utc)).event_type == "a\ufffd"
    event.to_json().encode("utf-8")


# --- Property: with_metadata never raises, and metadata stays a JSON object ----------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)

# Text including lone surrogates, which st.text() leaves out by default.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
any_text = st.lists(st.characters() | surrogates, max_size=8).map("".join)
hashable = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    any_text,
    st.binary(max_size=4),
    st.tuples(st.integers(), any_text),
    st.frozensets(st.integers(), max_size=3),
)
python_scalars = st.one_of(
    hashable,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [int, float, complex, bytes, bytearray, Decimal, Fraction, datetime, date, uuid.UUID, range]
    ).flatmap(st.from_type),
    st.builds(object),
    st.builds(Color, st.just(1)),
    st.builds(Name, any_text),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(hashable, inner, max_size=4),
        st.sets(hashable, max_size=3),
    )


python_values = st.recursive(python_scalars, _containers, max_leaves=20)


@st.composite
def possibly_cyclic(draw: st.DrawFn) -> Any:
    value = draw(python_values)
    if draw(st.booleans()):
        container: Any = draw(st.sampled_from(["list", "dict"]))
        if container == "list":
            value = [value]
            value.append(value)
        else:
            value = {"v": value}
            value["self"] = [value]
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.one_of(any_text, hashable), value=possibly_cyclic())
def test_with_metadata_never_raises_and_metadata_stays_json(key: object, value: object) -> None:
    event = BusinessEvent.new("x").with_metadata("before", 1)
    returned = event.with_metadata(key, value)  # type: ignore[arg-type]
    assert returned is event
    assert event.metadata["before"] == 1
    assert is_json_object(event.metadata)
    assert BusinessEvent.from_json(event.to_json()) == event


@settings(max_examples=300, deadline=None)
@given(key=st.text(), value=json_values)
def test_json_values_are_kept_exactly(key: str, value: Any) -> None:
    event = BusinessEvent.new("x").with_metadata(key, value)
    assert event.metadata == {key: value}
    assert json.dumps(event.metadata, sort_keys=True) == json.dumps({key: value}, sort_keys=True)
