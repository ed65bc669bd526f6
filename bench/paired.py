"""The uninstrumented call, the floor and ``@llm_call`` side by side in one process: the
ratio to the floor, paired.

``bench/run.sh`` times every configuration in its own worker and subtracts quartiles of
different processes; on a shared host that moves a ratio by ±0.3 between identical runs. Here
the three run in one process on their own pipelines, in blocks of calls whose order rotates
and reverses from round to round, and each keeps its fastest block: they see the same host at
the same moments. By default the SDK clients' ``create`` replays responses and chunks captured
once from the mock server, so only the instrumentation and the SDK's telemetry pipeline are
timed; ``--http`` keeps the real requests. Run builds of ``src/`` one after another to compare
them in the same window::

    python -m bench.paired [--rounds 25] [--http] [--scenarios openai,anthropic] [--src DIR ...]

It prints, per scenario, the CPU µs per call of each, ``@llm_call``'s µs above the floor, and
the overhead ratio as ``bench/run.sh`` defines it: what ``@llm_call`` adds to the
uninstrumented call over what the floor adds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _measure(port: int, rounds: int, http: bool, names: list[str], peer: bool) -> dict[str, dict[str, float]]:
    """Per scenario and configuration: CPU µs per call of the uninstrumented call, the floor,
    ``@llm_call`` and, with ``peer``, the fastest peer (OTel contrib GenAI)."""
    import bench.scenarios as scen
    from bench.configs import setup
    from bench.own_cost import _capture, _patch, _patch_post

    if not http:
        captured = _capture(port)
        made = scen.make_clients
        # The peer wraps the SDK's classes, which an instance's own ``create`` would bypass.
        patch = _patch_post if peer else _patch

        def replaying(p: int) -> dict[str, Any]:
            clients = made(p)
            patch(clients, captured)
            return clients

        scen.make_clients = replaying  # type: ignore[assignment]
    configs = {"baseline": setup("baseline", port), "floor": setup("floor", port), "ours": setup("ours", port)}
    # What runs around a configuration's blocks: the peer patches the SDKs for every client of
    # the process, so it is switched on for its own blocks only.
    around: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {}
    if peer:
        configs["peer"] = setup("contrib", port)
        around["peer"] = _switch_for_peer(configs["peer"][0])
        around["peer"][1]()
    for name in names:
        for tag, (pipeline, call) in configs.items():
            switch_on, switch_off = around.get(tag, (_nothing, _nothing))
            switch_on()
            for _ in range(200):
                call(scen.SCENARIOS[name])
            switch_off()
            pipeline.flush()
    best: dict[tuple[str, str], float] = {}
    for round_ in range(rounds):
        for name in names:
            scenario = scen.SCENARIOS[name]
            calls = 50 if scenario.stream else 100
            order = list(configs.items())
            # Each configuration first, middle and last in turn, each way round.
            shift = round_ % len(order)
            order = order[shift:] + order[:shift]
            if (round_ // len(order)) % 2:
                order.reverse()
            for tag, (pipeline, call) in order:
                switch_on, switch_off = around.get(tag, (_nothing, _nothing))
                switch_on()
                start = time.process_time()
                for _ in range(calls):
                    call(scenario)
                pipeline.flush()
                per_call = (time.process_time() - start) / calls * 1e6
                switch_off()
                best[(name, tag)] = min(best.get((name, tag), per_call), per_call)
    return {name: {tag: best[(name, tag)] for tag in configs} for name in names}


def _nothing() -> None:
    pass


def _switch_for_peer(pipeline: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

    from bench.configs import _providers

    providers = _providers(pipeline)
    instrumentors = (OpenAIInstrumentor(), AnthropicInstrumentor())

    def on() -> None:
        for instrumentor in instrumentors:
            instrumentor.instrument(**providers)

    def off() -> None:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()

    return on, off


def main() -> None:
    from bench.scenarios import SCENARIOS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--http", action="store_true", help="keep the real requests to the mock server")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument(
        "--peer",
        action="store_true",
        help="also time the fastest peer (OTel contrib GenAI; needs the bench environment), replaying one level "
        "down, at the request",
    )
    ap.add_argument("--src", nargs="*", default=[], help="src/ directories to measure in turn (default: this one)")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # with --child: for bench/run.py
    args = ap.parse_args()
    names = args.scenarios.split(",")
    os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"
    os.environ["MULTI_LLM_OTEL_PRICES"] = "off"
    if args.child:
        found: dict[str, dict[str, float]] = {}
        for name, us in _measure(args.child, args.rounds, args.http, names, args.peer).items():
            base, floor, ours = us["baseline"], us["floor"], us["ours"]
            ratio = (ours - base) / (floor - base)
            found[name] = {"uninstrumented_us": base, "floor_us": floor, "ours_us": ours, "x_floor": ratio}
            line = (
                f"  {name:17} uninstrumented {base:7.1f}  floor {floor:7.1f}  @llm_call {ours:7.1f}"
                f"  +{ours - floor:6.1f} µs  overhead ratio {ratio:.2f}"
            )
            if "peer" in us:
                found[name].update(peer_us=us["peer"], x_peer=(ours - base) / (us["peer"] - base))
                line += f"  peer {us['peer']:7.1f}  overhead ratio to the peer {found[name]['x_peer']:.2f}"
            if not args.json:
                print(line)
        if args.json:
            print(json.dumps({"rounds": args.rounds, "http": args.http, "scenarios": found}))
        return
    server = subprocess.Popen([sys.executable, "-m", "bench.mockserver"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        for src in args.src or [str(REPO / "src")]:
            print(src, flush=True)
            env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{REPO}")
            command = [sys.executable, "-m", "bench.paired", "--child", str(port), "--rounds", str(args.rounds)]
            command += ["--scenarios", args.scenarios, *(["--http"] if args.http else [])]
            command += ["--peer"] if args.peer else []
            subprocess.run(command, cwd=REPO, env=env, check=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
