"""The benchmark harness works: the mock server answers the real SDKs, and the baseline, floor,
@llm_call and instrument() workers set up, produce telemetry and time a tiny block. No timing is
asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ("baseline", "floor", "ours", "ours-instrument")
SCENARIOS = {"openai", "openai-stream", "anthropic", "anthropic-stream"}

# It runs the benchmark's load workers against their mock server: long, so out of the fast tier.
pytestmark = pytest.mark.stress


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["ANTHROPIC_OPEN_TELEMETRY"] = "false"
    env["BENCH_WARMUP"] = "1"
    return env


def _ask(proc: subprocess.Popen[str], cmd: dict[str, object]) -> dict[str, object]:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(json.dumps(cmd) + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline() or "{}")  # type: ignore[no-any-return]


@contextmanager
def _mock_server() -> Iterator[int]:
    """The bench's mock server, running for the block; its port."""
    with subprocess.Popen(
        [sys.executable, "-m", "bench.mockserver"], cwd=REPO, stdout=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            yield int(server.stdout.readline().split()[1])
        finally:
            server.terminate()


def test_workers_produce_telemetry_and_time_a_block(tmp_path: Path) -> None:
    with ExitStack() as stack:
        server = stack.enter_context(
            subprocess.Popen([sys.executable, "-m", "bench.mockserver"], cwd=REPO, stdout=subprocess.PIPE, text=True)
        )
        stack.callback(server.terminate)
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("PORT "), line
        port = line.split()[1]
        # Started together: they import the SDKs in parallel.
        workers = {}
        for config in CONFIGS:
            log = stack.enter_context(open(tmp_path / f"{config}.log", "w"))
            workers[config] = stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.worker", config, port],
                    cwd=REPO,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    env=_env(),
                )
            )
        for config, proc in workers.items():
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline() or "{}")
            assert ready.get("ready"), (config, ready, (tmp_path / f"{config}.log").read_text()[-3000:])
            checked = _ask(proc, {"op": "verify"})
            assert set(checked) == SCENARIOS
            for scenario, found in checked.items():
                assert isinstance(found, dict)
                assert found["error"] is None, (config, scenario, found)
                produced = (found["spans"], found["span_events"], found["logs"])
                # Nothing without instrumentation; else one span, and llm_request, llm_response and
                # cache_hit each as a span event and as a log record.
                assert produced == ((0, 0, 0) if config == "baseline" else (1, 3, 3)), (config, scenario, found)
            for scenario in SCENARIOS:
                assert set(_ask(proc, {"op": "block", "scenario": scenario, "n": 2})) == {"cpu_us", "wall_us"}
            assert _ask(proc, {"op": "quit"}) == {"bye": True}
            assert proc.stdin is not None
            proc.stdin.close()


def test_the_paired_harness_times_the_floor_and_the_decorator_in_one_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.paired", "--rounds", "1", "--scenarios", "openai,anthropic-stream"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert set(rows) == {"openai", "anthropic-stream"}
    for row in rows.values():
        base, floor, ours = float(row[2]), float(row[4]), float(row[6])
        assert 0 < base < floor, "the floor's telemetry costs something"
        assert ours > base
        assert float(row[-1]) == pytest.approx((ours - base) / (floor - base), abs=0.01)


def test_the_full_run_reads_the_paired_harness_into_its_target_table() -> None:
    from bench import report, run

    with _mock_server() as port:
        paired = run.measure_paired(sys.executable, port, ["openai", "anthropic-stream"], rounds=1)
    assert set(paired["scenarios"]) == {"openai", "anthropic-stream"}, paired
    for found in paired["scenarios"].values():
        assert 0 < found["uninstrumented_us"] < found["floor_us"]
        assert found["x_floor"] == pytest.approx(
            (found["ours_us"] - found["uninstrumented_us"]) / (found["floor_us"] - found["uninstrumented_us"])
        )
    [row] = report.paired_row({"paired": paired}, ["openai", "openai-stream", "anthropic-stream"])
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0].startswith("the same, paired in one process (1 rounds")
    assert cells[2] == "n/a"
    for cell, scenario in ((cells[1], "openai"), (cells[3], "anthropic-stream")):
        assert cell.startswith(f"{paired['scenarios'][scenario]['x_floor']:.2f}")
        assert cell.endswith("✅" if paired["scenarios"][scenario]["x_floor"] <= report.FLOOR_TARGET else "❌ MISS")


def test_the_peer_s_replay_answers_the_request_and_leaves_create_to_run() -> None:
    from bench import own_cost
    from bench.scenarios import SCENARIOS, make_clients

    with _mock_server() as port:
        captured = own_cost._capture(port)
        clients = make_clients(port)
    # The server is gone: every answer below is a replay.
    own_cost._patch_post(clients, captured)
    assert "create" not in vars(clients["openai"].chat.completions), "an instrumented class's create still runs"
    for scenario in SCENARIOS.values():
        client = clients[scenario.provider]
        create = client.chat.completions.create if scenario.provider == "openai" else client.messages.create
        got = create(**scenario.kwargs)
        assert (list(got) if scenario.stream else got) == captured[scenario.name], scenario.name


def test_the_peer_row_shows_the_paired_ratio_to_the_peer_or_why_it_is_missing() -> None:
    from bench import report

    found = {"uninstrumented_us": 1.0, "floor_us": 201.0, "ours_us": 221.0, "peer_us": 161.0}
    found.update(x_floor=1.1, x_peer=(221.0 - 1.0) / (161.0 - 1.0))
    [row] = report.paired_peer_row(
        {"paired_peer": {"rounds": 25, "scenarios": {"openai": found}}}, ["openai", "openai-stream"]
    )
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0].startswith(f"@llm_call CPU overhead ≤ {report.PEER_TARGET}{report.X} the fastest peer")
    assert "25 rounds" in cells[0]
    assert cells[1:] == [f"1.38{report.X} ❌ MISS", "n/a"]
    [failed] = report.paired_peer_row(
        {"paired_peer": {"error": "No module named 'opentelemetry.instrumentation.genai'"}}, ["openai"]
    )
    assert "**failed**" in failed
    assert "instrumentation.genai" in failed
    assert report.paired_peer_row({}, ["openai"]) == []


def test_the_peer_target_cell_survives_a_run_where_the_decorator_measured_below_the_baseline() -> None:
    from bench import report
    from bench.catalog import CONFIGS

    def row(over: float) -> dict[str, object]:
        return {"cpu_us": {"over": over}, "wall_us": {"over": over}}

    # A three-round run on a busy host can put @llm_call below the uninstrumented call: no ratio
    # to it exists then, and the report must still be written.
    over = {"openai": {"ours": row(-5.0), "floor": row(40.0), "contrib": row(30.0)}}
    lines = report.targets({"scenarios": ["openai"], "overhead": over}, CONFIGS)
    [peer] = [line for line in lines if line.startswith("| @llm_call CPU overhead below every peer |")]
    assert "✅ next: OTel contrib" in peer
    assert "within the baseline's noise" in peer
