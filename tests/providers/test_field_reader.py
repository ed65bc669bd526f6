"""``field_reader`` reads what ``get_field`` reads, once per object instead of once per name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pydantic
import pytest

from multi_llm_otel.providers._base import field_reader, get_field


class Usage(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    prompt_tokens: int | None = None
    total: int = 0


class Strict(pydantic.BaseModel):
    prompt_tokens: int = 3


class Plain:
    def __init__(self) -> None:
        self.prompt_tokens = 5

    @property
    def computed(self) -> int:
        return 9


class Frozen(Mapping[str, object]):
    def __getitem__(self, key: str) -> object:
        if key == "prompt_tokens":
            return 7
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(["prompt_tokens"])

    def __len__(self) -> int:
        return 1


NAMES = ("prompt_tokens", "total", "timings", "computed", "absent")


@pytest.mark.parametrize(
    "obj",
    [
        {"prompt_tokens": 1, "timings": {"x": 1}},
        Usage(prompt_tokens=2, timings={"t": 1}),
        Usage.model_validate({"prompt_tokens": 4, "total": 6}),
        Strict(),
        Plain(),
        Frozen(),
        None,
    ],
    ids=["dict", "pydantic-extras", "pydantic-no-extras", "pydantic-strict", "plain-object", "mapping", "none"],
)
def test_it_agrees_with_get_field(obj: object) -> None:
    read = field_reader(obj)
    assert {name: read(name) for name in NAMES} == {name: get_field(obj, name) for name in NAMES}


def test_declared_fields_win_over_extras_of_the_same_name() -> None:
    usage = Usage(prompt_tokens=2, timings=1)
    usage.__pydantic_extra__["prompt_tokens"] = 99  # type: ignore[index]
    assert field_reader(usage)("prompt_tokens") == get_field(usage, "prompt_tokens") == 2
