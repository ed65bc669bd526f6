"""Reading one environment variable at a time: a value that cannot be used becomes a
``Problem`` naming it and the default used instead, never an exception."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["EnvReader", "Problem", "parse_pairs"]


@dataclass(frozen=True)
class Problem:
    """A setting that cannot be used as given, and what is used instead."""

    variable: str
    value: str
    reason: str
    fallback: str

    def __str__(self) -> str:
        return f"{self.variable}={self.value!r} {self.reason}; using {self.fallback}"


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``k=v,k2=v2`` as the OTel variables write headers and resource attributes (URL-encoded)."""
    pairs = []
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs.append((unquote(key.strip()), unquote(value.strip())))
    return pairs


class EnvReader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[Problem] = []

    def text(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def first(self, *names: str) -> tuple[str, str] | None:
        """The first of ``names`` that is set, with its value."""
        return next(((n, self.text(n)) for n in names if self.text(n)), None)

    def problem(self, name: str, value: str, reason: str, fallback: object) -> None:
        # One problem per variable, however many signals read it.
        if not any(p.variable == name for p in self.problems):
            self.problems.append(Problem(name, value, reason, str(fallback)))

    def integer(self, name: str, default: int, minimum: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        kind = "a positive integer" if minimum > 0 else "a non-negative integer"
        try:
            value = int(raw)
        except ValueError:
            self.problem(name, raw, f"is not {kind}", f"the default {default}")
            return default
        if value < minimum:
            self.problem(name, raw, f"is not {kind}", f"the default {default}")
            return default
        return value

    def optional_limit(self, name: str, default: int | None, shown: str = "") -> int | None:
        """An attribute limit: a non-negative integer; unset leaves ``default``."""
        raw = self.text(name)
        if not raw:
            return default
        shown = shown or ("no limit" if default is None else f"the default {default}")
        try:
            value = int(raw)
        except ValueError:
            self.problem(name, raw, "is not a non-negative integer", shown)
            return default
        if value < 0:
            self.problem(name, raw, "is not a non-negative integer", shown)
            return default
        return value

    def seconds(self, names: tuple[str, ...], default: float) -> float:
        found = self.first(*names)
        if found is None:
            return default
        name, raw = found
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 < value < float("inf"):
            self.problem(name, raw, "is not a positive number of seconds", f"the default {default:g} s")
            return default
        return value
