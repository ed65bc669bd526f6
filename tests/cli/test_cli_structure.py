"""The command line's shape: no module borrows another module's private names, none is too long."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "src" / "multi_llm_otel" / "cli"
MODULES = sorted(CLI.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_private_name_is_imported_from_another_module(path: Path) -> None:
    borrowed = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        # A private module is fine (the package's layout); a private name inside one is not.
        if alias.name.startswith("_")
        and not alias.name.startswith("__")
        and not (CLI.parent / f"{alias.name}.py").exists()
    ]
    assert borrowed == []


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400
