"""The benchmark's one command: ``python -m bench`` (or ``bench/run.sh``). See bench/README.md.

Standard library only; it runs on the system Python, creates the virtual environments
(``bench.envs``), starts the mock LLM server as its own process, one worker process per
configuration, and drives them in interleaved rounds, then memory, import time and the
Collector throughput runs, and writes the report.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import envs, report, stats
from bench.catalog import CONFIGS
from bench.scenarios import SCENARIOS

REPO = envs.REPO
RUNS = envs.ROOT.parent / "bench-runs"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: no OTEL_* or vendor settings from the caller."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELOOP_", "OPENINFERENCE_", "LANGFUSE_"))
    }
    # anthropic >= 2.x traces its own calls when OpenTelemetry is installed: off everywhere except
    # in the configuration that measures exactly that.
    env["ANTHROPIC_OPEN_TELEMETRY"] = "false"
    # Costing is opt-in telemetry the floor does not write; with LiteLLM installed it would be on.
    env["MULTI_LLM_OTEL_PRICES"] = "off"
    env.update(extra or {})
    return env


class MockServer:
    def __init__(self, python: str) -> None:
        self.proc = subprocess.Popen(
            [python, "-m", "bench.mockserver"], cwd=REPO, stdout=subprocess.PIPE, text=True, env=clean_env()
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"mock server did not start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Worker:
    def __init__(self, name: str, python: str, port: int, logdir: Path) -> None:
        self.name = name
        self.log_path = logdir / f"worker-{name}.log"
        self.proc = subprocess.Popen(
            [python, "-m", "bench.worker", name, str(port)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log_path, "w"),  # noqa: SIM115 - the child owns it
            text=True,
            env=clean_env(),
        )
        self.info: dict[str, Any] = {}

    def read(self, timeout: float = 600) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"worker {self.name} gave no answer (see {self.log_path})")
        return json.loads(line)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def ask(self, obj: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        self.send(obj)
        return self.read(timeout)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.ask({"op": "quit"}, timeout=30)
        except Exception:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure_import(python: str, runs: int = 15) -> dict[str, Any]:
    code = (
        "import json, sys, time\n"
        "t = time.perf_counter()\n"
        "import multi_llm_otel\n"
        "d = time.perf_counter() - t\n"
        "mods = sorted(sys.modules)\n"
        "bad = [m for m in mods if m.split('.')[0] in ('openai', 'anthropic', 'ollama', 'lmstudio', 'httpx')"
        " or m.startswith('opentelemetry.sdk')]\n"
        "api = [m for m in mods if m.startswith('opentelemetry')]\n"
        "t = time.perf_counter()\n"
        "multi_llm_otel.llm_call\n"
        "first_use = time.perf_counter() - t\n"
        "print(json.dumps({'s': d, 'bad': bad, 'otel': api, 'first_use_s': first_use, 'modules': len(mods)}))\n"
    )
    samples = []
    for i in range(runs + 1):
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, env=clean_env())
        if i:  # the first run may compile bytecode
            samples.append(json.loads(out.stdout))
    times = sorted(s["s"] * 1000 for s in samples)
    first = sorted(s["first_use_s"] * 1000 for s in samples)
    return {
        "runs": runs,
        "ms_min": times[0],
        "ms_median": times[len(times) // 2],
        "first_use_ms_median": first[len(first) // 2],
        "sdk_or_provider_modules": samples[-1]["bad"],
        "otel_modules": samples[-1]["otel"],
    }


def measure_paired(python: str, port: int, scenarios: list[str], rounds: int, peer: bool = False) -> dict[str, Any]:
    """``bench.paired``: the uninstrumented call, the floor and ``@llm_call`` in one process,
    the SDK's responses replayed; with ``peer``, the fastest peer too. The target rows read it:
    the per-process ratios above move by ±0.3 between identical runs on a shared host, the
    paired ones by a few hundredths."""
    who = "the floor, @llm_call and the fastest peer" if peer else "the floor and @llm_call"
    log(f"paired: the uninstrumented call, {who} in one process, {rounds} rounds")
    command = [python, "-m", "bench.paired", "--child", str(port), "--rounds", str(rounds), "--json"]
    command += ["--peer"] if peer else []
    out = subprocess.run(
        [*command, "--scenarios", ",".join(scenarios)], cwd=REPO, capture_output=True, text=True, env=clean_env()
    )
    try:
        found: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": (out.stderr or out.stdout)[-1500:]}
    return found


def git_state() -> dict[str, Any]:
    """The commit measured, and whether src/ had uncommitted changes (measured as they were)."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    return {"commit": git("rev-parse", "--short", "HEAD"), "src_dirty": bool(git("status", "--porcelain", "--", "src"))}


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def run_rounds(
    workers: dict[str, Worker], scenarios: list[str], rounds: int, scale: float, budget_s: float | None
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Interleaved blocks: in every round each scenario, and inside it every configuration once,
    in an order rotated from round to round so that no configuration always follows another."""
    results: dict[str, dict[str, list[dict[str, float]]]] = {s: {} for s in scenarios}
    start = time.monotonic()
    for r in range(rounds):
        for si in range(len(scenarios)):
            scenario = scenarios[(si + r) % len(scenarios)]
            names = [n for n, w in workers.items() if scenario in w.info.get("measurable", ())]
            if not names:
                continue
            shift = r % len(names)
            order = names[shift:] + names[:shift]
            if r % 2:
                order.reverse()
            n = max(2, int(SCENARIOS[scenario].block * scale))
            for name in order:
                answer = workers[name].ask({"op": "block", "scenario": scenario, "n": n})
                answer["round"] = r
                results[scenario].setdefault(name, []).append(answer)
        elapsed = time.monotonic() - start
        log(f"round {r + 1}/{rounds} done, {elapsed:.0f} s")
        if budget_s is not None and r >= 4 and elapsed / (r + 1) * (r + 2) > budget_s:
            log(f"stopping after {r + 1} rounds to stay within the {budget_s:.0f} s budget for rounds")
            break
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="multi-llm-otel overhead benchmark")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds (default 20)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the calls per block (default 1)")
    parser.add_argument("--configs", default="", help="comma-separated configurations (default: all)")
    parser.add_argument("--scenarios", default="", help="comma-separated scenarios (default: all four)")
    parser.add_argument("--no-openlit", action="store_true", help="skip the OpenLIT environment")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-calls", type=int, default=20_000)
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--rounds-budget", type=float, default=540.0, help="seconds the rounds may take at most")
    parser.add_argument("--no-write", action="store_true", help="do not write BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="a short run to try the harness (3 rounds, small blocks)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.scale, args.memory_calls = min(args.rounds, 3), min(args.scale, 0.3), 2_000
        args.no_write = True

    t_start = time.monotonic()
    stamp = datetime.datetime.now(datetime.timezone.utc)
    logdir = RUNS / stamp.strftime("%Y%m%dT%H%M%SZ")
    logdir.mkdir(parents=True, exist_ok=True)
    log(f"logs in {logdir}")

    wanted = [c for c in args.configs.split(",") if c] or list(CONFIGS)
    if args.no_openlit:
        wanted = [c for c in wanted if CONFIGS[c].env != "openlit"]
    scenarios = [s for s in args.scenarios.split(",") if s] or list(SCENARIOS)
    env_names = sorted({CONFIGS[c].env for c in wanted} | {"main"})
    pythons: dict[str, str] = {}
    with open(logdir / "pip.log", "w") as pip_log:
        for env_name in env_names:
            pythons[env_name] = str(envs.ensure(env_name, log=pip_log))
    log(f"environments ready ({time.monotonic() - t_start:.0f} s)")

    result: dict[str, Any] = {
        "date": stamp.isoformat(timespec="seconds"),
        "machine": machine(),
        "python": platform.python_version(),
        "versions": {e: envs.versions(e) for e in env_names},
        "args": vars(args),
        "scenarios": scenarios,
        "git": git_state(),
    }
    server = MockServer(pythons["main"])
    workers: dict[str, Worker] = {}
    try:
        log(f"mock server on 127.0.0.1:{server.port} (pid {server.proc.pid})")
        result["import"] = measure_import(pythons["main"])
        log(f"import multi_llm_otel: {result['import']['ms_median']:.1f} ms median")
        parity = subprocess.run(
            [pythons["main"], "-m", "bench.parity", str(server.port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=clean_env(),
        )
        try:
            result["parity"] = json.loads(parity.stdout)
        except ValueError:
            result["parity"] = {"error": [parity.stderr[-2000:]]}
        problems = sum(len(v) for v in result["parity"].values())
        log(f"floor parity with @llm_call: {'identical' if not problems else f'{problems} differences'}")

        for name in wanted:
            workers[name] = Worker(name, pythons[CONFIGS[name].env], server.port, logdir)
        telemetry: dict[str, Any] = {}
        for name, worker in workers.items():
            try:
                ready = worker.read(timeout=300)
            except RuntimeError as exc:
                ready = {"ready": False, "error": str(exc)}
            if not ready.get("ready"):
                telemetry[name] = {"broken": ready.get("error", "did not start")}
                log(f"{name}: BROKEN at setup: {telemetry[name]['broken']}")
                continue
            checked = worker.ask({"op": "verify"})
            measurable = []
            for scenario, found in checked.items():
                if scenario not in scenarios:
                    continue
                produced = found["spans"] or found["logs"]
                if found["error"] is None and (produced or CONFIGS[name].kind == "baseline"):
                    measurable.append(scenario)
            worker.info = {"measurable": measurable, "setup_s": ready["setup_s"]}
            telemetry[name] = checked
            summary = ", ".join(
                f"{s}: {f['spans']:g} spans/{f['span_events']:g} ev/{f['logs']:g} logs"
                + (f" ERROR {f['error']}" if f["error"] else "")
                for s, f in checked.items()
            )
            log(f"{name}: {summary}")
        result["telemetry"] = telemetry

        log(f"interleaved rounds: {args.rounds} x {len(scenarios)} scenarios x {len(workers)} configurations")
        blocks = run_rounds(workers, scenarios, args.rounds, args.scale, args.rounds_budget)
        result["blocks"] = blocks
        result["overhead"] = stats.overhead(blocks, CONFIGS)

        if not args.no_memory and "ours" in workers and "baseline" in workers:
            log(f"memory: {args.memory_calls} calls, @llm_call and baseline side by side")
            for name in ("ours", "baseline"):
                workers[name].send({"op": "memory", "n": args.memory_calls})
            result["memory"] = {name: workers[name].read(timeout=900) for name in ("ours", "baseline")}
    finally:
        for worker in workers.values():
            worker.close()

    try:
        if "ours" in wanted and "floor" in wanted:
            result["paired"] = measure_paired(pythons["main"], server.port, scenarios, 3 if args.quick else 25)
        # A replayed stream would skip the peer's own stream wrapper: streamed calls are left out.
        plain = [s for s in scenarios if not SCENARIOS[s].stream]
        if "ours" in wanted and "floor" in wanted and "contrib" in wanted and plain:
            result["paired_peer"] = measure_paired(
                pythons["main"], server.port, plain, 3 if args.quick else 25, peer=True
            )
        if not args.no_throughput:
            log("throughput through OTLP/HTTP to the Collector, then a 10 s Collector outage")
            out = subprocess.run(
                [pythons["main"], "-m", "bench.throughput", "--llm-port", str(server.port), "--logdir", str(logdir)]
                + (["--quick"] if args.quick else []),
                cwd=REPO,
                capture_output=True,
                text=True,
                env=clean_env(),
            )
            (logdir / "throughput.stderr").write_text(out.stderr)
            try:
                result["throughput"] = json.loads(out.stdout)
            except ValueError:
                result["throughput"] = {"error": (out.stderr or out.stdout)[-1500:]}
    finally:
        server.stop()

    result["git_end"] = git_state()
    result["total_s"] = time.monotonic() - t_start
    (logdir / "result.json").write_text(json.dumps(result, indent=1))
    text = report.render(result, CONFIGS)
    print(report.console(result, CONFIGS))
    if not args.no_write:
        (REPO / "BENCHMARKS.md").write_text(text)
        results_dir = REPO / "bench" / "results"
        results_dir.mkdir(exist_ok=True)
        slim = {k: v for k, v in result.items() if k != "blocks"}
        (results_dir / "latest.json").write_text(json.dumps(slim, indent=1) + "\n")
        log("wrote BENCHMARKS.md and bench/results/latest.json")
    log(f"done in {result['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
