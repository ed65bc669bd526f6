"""The command as a whole: help for every subcommand, version, light import, broken pipes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.cli._helpers import clean_env, cli

from multi_llm_otel import __version__
from multi_llm_otel.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"multi-llm-otel {__version__}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["demo", "ingest", "check", "OTEL_EXPORTER_OTLP_ENDPOINT", "exit codes"]),
        (["demo"], ["--base-url", "--api", "--model", "--max-tokens", "--export", "exit codes"]),
        (
            ["ingest"],
            [
                "PATH",
                "--follow",
                "--follow-timeout",
                "--max-line-bytes",
                "--max-line-values",
                "--no-progress",
                '"scope":{"User":"u1"}',
                "No span",
                "exit codes",
                "128+N",
            ],
        ),
        (["check"], ["--timeout", "never their names or values", "exit codes", "4 a setting cannot be used"]),
    ],
)
def test_help_is_complete(argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_importing_the_package_does_not_load_the_command_line() -> None:
    code = (
        "import sys, multi_llm_otel; print(sorted(m for m in ('multi_llm_otel.cli', 'argparse') if m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_a_reader_that_goes_away_ends_the_demo_quietly() -> None:
    process = subprocess.Popen(cli("demo"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    assert process.stdout is not None
    assert process.stdout.readline().startswith(b"multi-llm-otel demo:")
    process.stdout.close()
    assert process.wait(30) == 0
    assert process.stderr is not None
    assert b"Traceback" not in process.stderr.read()
    process.stderr.close()
