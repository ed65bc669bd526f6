"""The library's own CPU cost per call, without HTTP: A/B of two builds of ``src/``.

The SDK clients' ``create`` return responses (or stream chunks) captured once from the mock
server, so the timed loop holds the decorator (or the floor) and the bench pipeline only.
Builds are compared in alternating child processes, minimum of several runs::

    python -m bench.own_cost OLD_SRC NEW_SRC [--runs 5] [--calls 2000]

Each child prints CPU µs per call for the floor and ``@llm_call`` in the four scenarios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _capture(port: int) -> dict[str, Any]:
    from bench.scenarios import SCENARIOS, make_clients

    clients = make_clients(port)
    out: dict[str, Any] = {}
    for s in SCENARIOS.values():
        client = clients[s.provider]
        create = client.chat.completions.create if s.provider == "openai" else client.messages.create
        result = create(**s.kwargs)
        out[s.name] = list(result) if s.stream else result
    return out


def _replay_streams() -> dict[str, type]:
    import anthropic
    import openai

    def replay(base: type) -> type:
        class Replay(base):  # type: ignore[valid-type,misc]
            def __init__(self, items: list[Any]) -> None:
                self._items = iter(items)

            def __iter__(self) -> Any:
                return self

            def __next__(self) -> Any:
                return next(self._items)

            def close(self) -> None:
                pass

        return Replay

    return {"openai": replay(openai.Stream), "anthropic": replay(anthropic.Stream)}


def _patch(clients: dict[str, Any], captured: dict[str, Any]) -> None:
    """The clients' ``create`` replays the captured responses."""
    streams = _replay_streams()

    def fake(provider: str) -> Any:
        def create(**kw: Any) -> Any:
            key = provider + ("-stream" if kw.get("stream") else "")
            got = captured[key]
            return streams[provider](got) if kw.get("stream") else got

        return create

    clients["openai"].chat.completions.create = fake("openai")
    clients["anthropic"].messages.create = fake("anthropic")


def _patch_post(clients: dict[str, Any], captured: dict[str, Any]) -> None:
    """One level down: ``create`` runs (and an instrumentation that wraps the SDK's class with
    it), and the request it would send is answered with the captured response."""
    streams = _replay_streams()

    def fake(provider: str) -> Any:
        def post(path: str, *, stream: bool = False, **kw: Any) -> Any:
            got = captured[provider + ("-stream" if stream else "")]
            return streams[provider](got) if stream else got

        return post

    clients["openai"].chat.completions._post = fake("openai")
    clients["anthropic"].messages._post = fake("anthropic")


def child(port: int, calls: int) -> None:
    os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"
    from bench.configs import setup
    from bench.scenarios import SCENARIOS

    captured = _capture(port)
    result: dict[str, float] = {}
    for config in ("floor", "ours"):
        # Both configurations make their own clients: patch every client made from now on.
        import bench.scenarios as scen

        original = scen.make_clients

        def patched(p: int, _orig: Any = original) -> dict[str, Any]:
            clients = _orig(p)
            _patch(clients, captured)
            return clients

        scen.make_clients = patched  # type: ignore[assignment]
        pipeline, call = setup(config, port)
        for s in SCENARIOS.values():
            for _ in range(200):
                call(s)
            pipeline.flush()
            start = time.process_time()
            for _ in range(calls):
                call(s)
            pipeline.flush()
            result[f"{config}:{s.name}"] = (time.process_time() - start) / calls * 1e6
        scen.make_clients = original  # type: ignore[assignment]
    import multi_llm_otel

    result["src"] = multi_llm_otel.__file__  # type: ignore[assignment]
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+", help="src/ directories to compare")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.calls)
        return
    server = subprocess.Popen([sys.executable, "-m", "bench.mockserver"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        best: dict[str, dict[str, float]] = {b: {} for b in args.builds}
        for _ in range(args.runs):
            for build in args.builds:
                env = dict(os.environ, PYTHONPATH=f"{build}{os.pathsep}{REPO}")
                out = subprocess.run(
                    [sys.executable, "-m", "bench.own_cost", build, "--child", str(port), "--calls", str(args.calls)],
                    cwd=REPO,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                got = json.loads(out.strip().splitlines()[-1])
                got.pop("src")
                for k, v in got.items():
                    best[build][k] = min(v, best[build].get(k, v))
        for build, vals in best.items():
            print(build)
            for name in ("openai", "openai-stream", "anthropic", "anthropic-stream"):
                f, o = vals[f"floor:{name}"], vals[f"ours:{name}"]
                print(f"  {name:17} floor {f:7.1f} µs  ours {o:7.1f} µs  ratio {o / f:.2f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
