"""BENCHMARKS.md and the console table, from one run's result. Standard library only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.scenarios import SCENARIOS
from bench.stats import baseline_of

HERE = Path(__file__).resolve().parent
X = "\N{MULTIPLICATION SIGN}"
FLOOR_TARGET = 1.25
PEER_TARGET = 1.25
IMPORT_TARGET_MS = 50.0
KEY_PACKAGES = (
    "openai",
    "anthropic",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-genai-openai",
    "opentelemetry-instrumentation-genai-anthropic",
    "opentelemetry-util-genai",
    "opentelemetry-instrumentation-openai",
    "opentelemetry-instrumentation-anthropic",
    "openinference-instrumentation-openai",
    "openinference-instrumentation-anthropic",
    "langfuse",
    "openlit",
)
SCENARIO_TITLES = {
    "openai": "OpenAI Chat Completions, not streamed",
    "openai-stream": "OpenAI Chat Completions, streamed (50 text chunks + usage chunk)",
    "anthropic": "Anthropic Messages, not streamed",
    "anthropic-stream": "Anthropic Messages, streamed (50 text deltas, 55 events)",
}


def _us(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _x(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}{X}"


def telemetry_cell(found: dict[str, Any] | None) -> str:
    if not found:
        return "not run"
    if found.get("error"):
        return f"**BROKEN**: {found['error'][:120]}"
    records = sum(found["metric_records"].values())
    cell = f"{found['spans']:g} span, {found['span_events']:g} ev, {found['logs']:g} logs, {records:g} metric rec"
    if not found["spans"] and not found["logs"]:
        cell = f"**BROKEN: produced nothing** ({cell})"
    return cell


def content_cell(found: dict[str, Any] | None) -> str:
    if not found or found.get("error"):
        return ""
    parts = [p for p, k in (("prompt", "prompt_captured"), ("output", "output_captured")) if found.get(k)]
    return "+".join(parts) if parts else "no"


def _status(found: dict[str, Any] | None, setup: dict[str, Any] | None) -> str | None:
    if setup is not None and "broken" in setup:
        return f"**BROKEN at setup**: {setup['broken'][:150]}"
    return None


def scenario_table(result: dict[str, Any], configs: dict[str, Any], scenario: str) -> list[str]:
    rows = result.get("overhead", {}).get(scenario, {})
    telemetry = result.get("telemetry", {})
    lines = [
        f"| configuration | telemetry per call | content | CPU µs over baseline | spread (IQR) | {X} floor "
        f"| wall µs over baseline | spread (IQR) | {X} floor | vs @llm_call (CPU) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, config in configs.items():
        if scenario.split("-")[0] not in config.providers:
            continue
        setup = telemetry.get(name)
        if setup is None:
            continue
        broken = _status(None, setup)
        found = setup.get(scenario) if broken is None else None
        if config.kind == "baseline":
            row = rows.get(name)
            if row:
                lines.append(
                    f"| {config.label} | — | — | *{_us(row['cpu_us']['q1'])} per call* | | "
                    f"| *{_us(row['wall_us']['q1'])} per call* | | | |"
                )
            continue
        row = rows.get(name)
        label = f"**{config.label}**" if config.kind == "ours" else config.label
        if broken or row is None:
            lines.append(f"| {label} | {broken or telemetry_cell(found)} | | not measured | | | | | | |")
            continue
        cpu, wall = row["cpu_us"], row["wall_us"]
        versus = ""
        if config.kind in ("peer", "reference") and "x_ours" in cpu:
            versus = f"{cpu['x_ours']:.2f}{X} ours"
        elif config.kind == "ours" and "x_fastest_peer" in cpu:
            versus = f"{cpu['x_fastest_peer']:.2f}{X} fastest peer ({configs[cpu['fastest_peer']].label})"
        lines.append(
            f"| {label} | {telemetry_cell(found)} | {content_cell(found)} | {_us(cpu['over'])} "
            f"| {_us(cpu['diff_q1'])} … {_us(cpu['diff_q3'])} | {_x(cpu.get('x_floor'))} | {_us(wall['over'])} "
            f"| {_us(wall['diff_q1'])} … {_us(wall['diff_q3'])} | {_x(wall.get('x_floor'))} | {versus} |"
        )
    return lines


def targets(result: dict[str, Any], configs: dict[str, Any]) -> list[str]:
    scenarios = result["scenarios"]
    over = result.get("overhead", {})
    lines = ["| target | " + " | ".join(scenarios) + " |", "|---|" + "---|" * len(scenarios)]
    for env, ours_name in (("main", "ours"), ("openlit", "openlit-ours")):
        if ours_name not in configs or not any(ours_name in over.get(s, {}) for s in scenarios):
            continue
        suffix = "" if env == "main" else " (OpenLIT env)"
        floor_cells, peer_cells = [], []
        for s in scenarios:
            ours = over.get(s, {}).get(ours_name)
            if ours is None:
                floor_cells.append("n/a")
                peer_cells.append("n/a")
                continue
            x = ours["cpu_us"].get("x_floor")
            if x is None:
                floor_cells.append("n/a")
            else:
                floor_cells.append(f"{x:.2f}{X} {'✅' if x <= FLOOR_TARGET else '❌ MISS'}")
            peers = [(n, r) for n, r in over.get(s, {}).items() if configs[n].env == env and configs[n].kind == "peer"]
            if not peers:
                peer_cells.append("n/a")
                continue
            faster = [configs[n].label for n, r in peers if r["cpu_us"]["over"] <= ours["cpu_us"]["over"]]
            if faster:
                peer_cells.append("❌ MISS: " + ", ".join(faster) + " cost less")
            else:
                fastest = min(peers, key=lambda p: p[1]["cpu_us"]["over"])
                x_ours = fastest[1]["cpu_us"].get("x_ours")
                # No ratio when @llm_call measured at or below the uninstrumented call (a short, noisy run).
                versus = f"{x_ours:.2f}{X} ours" if x_ours is not None else "(@llm_call within the baseline's noise)"
                peer_cells.append(f"✅ next: {configs[fastest[0]].label} {versus}")
        lines.append(f"| @llm_call CPU overhead ≤ {FLOOR_TARGET}{X} floor{suffix} | " + " | ".join(floor_cells) + " |")
        if env == "main":
            lines += paired_row(result, scenarios)
        lines.append(f"| @llm_call CPU overhead below every peer{suffix} | " + " | ".join(peer_cells) + " |")
        if env == "main":
            lines += paired_peer_row(result, scenarios)
    imp = result.get("import")
    if imp:
        ok = imp["ms_median"] < IMPORT_TARGET_MS and not imp["sdk_or_provider_modules"]
        cell = (
            f"{imp['ms_median']:.1f} ms median, SDK/provider modules loaded: "
            f"{', '.join(imp['sdk_or_provider_modules']) or 'none'} {'✅' if ok else '❌ MISS'}"
        )
        lines.append(f"| `import multi_llm_otel` < {IMPORT_TARGET_MS:.0f} ms, no OTel SDK or provider SDK | {cell} |")
    return lines


def paired_row(result: dict[str, Any], scenarios: list[str]) -> list[str]:
    """The same target measured by ``bench.paired`` (one process, the SDK's responses replayed)."""
    label = "the same, paired in one process ({rounds} rounds, SDK responses replayed)"
    return _paired_row(result.get("paired"), scenarios, label, lambda found: found["x_floor"], show_extra=True)


def paired_peer_row(result: dict[str, Any], scenarios: list[str]) -> list[str]:
    """The peer target measured by ``bench.paired --peer`` against OTel contrib GenAI."""
    label = (
        f"@llm_call CPU overhead ≤ {PEER_TARGET}{X} the fastest peer (OTel contrib GenAI), paired in one process "
        "({rounds} rounds; streamed calls not measured)"
    )
    return _paired_row(result.get("paired_peer"), scenarios, label, lambda found: found["x_peer"], show_extra=False)


def _paired_row(
    paired: dict[str, Any] | None,
    scenarios: list[str],
    label: str,
    ratio: Callable[[dict[str, Any]], float],
    *,
    show_extra: bool,
) -> list[str]:
    if not paired:
        return []
    if "error" in paired:
        return [f"| {label.split(' (')[0]} | **failed**: {str(paired['error'])[-200:]} |"]
    target = FLOOR_TARGET if show_extra else PEER_TARGET
    cells = []
    for s in scenarios:
        found = paired["scenarios"].get(s)
        if found is None:
            cells.append("n/a")
            continue
        x = ratio(found)
        extra = f" (+{found['ours_us'] - found['floor_us']:.0f} µs)" if show_extra else ""
        cells.append(f"{x:.2f}{X}{extra} {'✅' if x <= target else '❌ MISS'}")
    return [f"| {label.format(rounds=paired['rounds'])} | " + " | ".join(cells) + " |"]


def memory_section(result: dict[str, Any]) -> list[str]:
    mem = result.get("memory")
    if not mem:
        return ["Not run."]
    lines = [
        "| configuration | calls | RSS after 10 % of the calls | RSS at the end | growth over the last 90 % "
        "| tracemalloc: net growth over a further 10 % (all / in multi_llm_otel) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, m in mem.items():
        samples = m["rss_samples"]
        first, last = samples[0][1], samples[-1][1]
        lines.append(
            f"| {'@llm_call' if name == 'ours' else 'no instrumentation'} | {m['calls']:,} | {first / 1024:.1f} MiB "
            f"| {last / 1024:.1f} MiB | {(last - first) / 1024:+.2f} MiB "
            f"| {m['traced_growth_kib']:+.1f} KiB / {m['traced_growth_ours_kib']:+.1f} KiB |"
        )
    ours = mem.get("ours")
    if ours:
        trail = ", ".join(f"{n:,}: {kib / 1024:.1f}" for n, kib in ours["rss_samples"])
        lines += ["", f"RSS of the @llm_call worker along the run (calls: MiB): {trail}."]
        top = "; ".join(f"`{t['file']}` {t['kib']:+.1f} KiB ({t['count']:+d} blocks)" for t in ours["traced_top"][:5])
        lines += ["", f"Largest tracemalloc differences, @llm_call worker: {top}."]
    return lines


def throughput_section(result: dict[str, Any]) -> list[str]:
    tp = result.get("throughput")
    if not tp:
        return ["Not run."]
    if "error" in tp:
        return [f"Not available: {tp['error']}"]
    lines = [
        f"Collector: `{Path(tp['collector']).name}` built by `collector-config/build.sh`, "
        "config `bench/collector.yaml` "
        "(OTLP/HTTP receiver, file exporters). One load process, `configure(endpoint=...)` defaults "
        "(batch processors: spans 2,048 queue / 512 batch / 5 s; logs 2,048 / 512 / 1 s).",
        "",
        "| run | calls/s | log records/s (= business events/s) | spans/s | sent spans / logs | received spans / logs "
        "| lost spans / logs | reported by the SDK (`multi_llm_otel.stats()`) | unexplained loss |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for run in tp["runs"]:
        name = {"sdk": "OpenAI SDK → mock server", "direct": "decorated function, no HTTP"}[run["mode"]]
        if run.get("rate_limit_per_s"):
            name += f", paced at {run['rate_limit_per_s']:.0f} calls/s"
        if run.get("outage"):
            a, b = run["outage"]
            name += f", Collector SIGKILLed at {a:.0f} s, back at {b:.0f} s"
        name += f" ({run['seconds']:.0f} s)"
        if "error" in run or "error" in run.get("sent", {}):
            lines.append(f"| {name} | error: {run.get('error') or run['sent']['error']} |||||||| ")
            continue
        sent, got = run["sent"], run["received"]
        created = sent["created"]
        elapsed = sent["elapsed_s"]
        lost_spans = created["spans"] - got["spans"]
        lost_logs = created["logs"] - got["logs"]
        stats = sent.get("stats", {})
        reported = {k: v for k, v in stats.items() if k.endswith(("_spans", "_logs"))}
        reported_spans = sum(v for k, v in reported.items() if k.endswith("_spans"))
        reported_logs = sum(v for k, v in reported.items() if k.endswith("_logs"))
        unexplained = (lost_spans - reported_spans, lost_logs - reported_logs)
        lines.append(
            f"| {name} | {sent['calls_per_s']:,.0f} | {created['logs'] / elapsed:,.0f} "
            f"| {created['spans'] / elapsed:,.0f} "
            f"| {created['spans']:,} / {created['logs']:,} | {got['spans']:,} / {got['logs']:,} "
            f"| {lost_spans:,} / {lost_logs:,} | {', '.join(f'{k} {v:,}' for k, v in reported.items()) or 'nothing'} "
            f"| {unexplained[0]:,} / {unexplained[1]:,} |"
        )
    for run in tp["runs"]:
        if run.get("events"):
            lines += ["", f"Outage run ({run['seconds']:.0f} s): " + "; ".join(run["events"]) + "."]
            if not run.get("sent", {}).get("shutdown_in_time", True):
                lines.append("The final flush did not finish within its 60 s shutdown timeout.")
    return lines


def versions_section(result: dict[str, Any]) -> list[str]:
    envs = result["versions"]
    names = list(envs)
    lines = ["| package | " + " | ".join(f"{n} env" for n in names) + " |", "|---|" + "---|" * len(names)]
    for pkg in KEY_PACKAGES:
        cells = [envs[n].get(pkg, "") for n in names]
        if any(cells):
            lines.append(f"| {pkg} | " + " | ".join(cells) + " |")
    return lines


def render(result: dict[str, Any], configs: dict[str, Any]) -> str:
    m = result["machine"]
    imp = result.get("import", {})
    out = [
        "# Benchmarks: what `@llm_call` costs per call",
        "",
        f"Generated by `bench/run.sh` on {result['date']} in {result['total_s'] / 60:.1f} min. Rerun it rather "
        "than editing this file; the analysis at the end is `bench/notes.md`.",
        "",
        f"Code measured: commit `{result.get('git', {}).get('commit', '?')}`"
        + (" with uncommitted changes in src/" if result.get("git", {}).get("src_dirty") else "")
        + (
            f" (**src/ changed during the run**: `{result['git_end']['commit']}` at its end)"
            if result.get("git_end") and result["git_end"] != result.get("git")
            else ""
        )
        + ". "
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, load average at start "
        f"{', '.join(str(x) for x in m['loadavg_at_start'])} (a shared, noisy host). Python {result['python']}.",
        "",
        "## Targets",
        "",
        *targets(result, configs),
        "",
        "## Per-call overhead over no instrumentation",
        "",
        "CPU is the process's CPU time (all its threads, so the batch processors' export work counts); wall is "
        'elapsed time. "over baseline" is the lower quartile of the configuration\'s blocks minus the lower '
        "quartile of the no-instrumentation blocks of the same environment (quiet-host estimate); the spread is "
        "the lower…upper quartile of the per-round paired differences. Telemetry per call was counted at the "
        'exporters before timing; "ev" are span events; content says whether the prompt or the answer text '
        "was found in the exported telemetry.",
    ]
    parity = result.get("parity", {})
    problems = [p for v in parity.values() for p in v]
    out += [
        "",
        "Floor parity: "
        + (
            "the floor's exported spans, span events, log records and metric points are identical to "
            "`@llm_call`'s in every scenario (ids, times and durations aside), checked by `bench/parity.py` "
            "in this run."
            if parity and not problems
            else f"**{len(problems)} differences** between the floor and `@llm_call`: " + "; ".join(problems[:10])
        ),
    ]
    for scenario in result["scenarios"]:
        out += ["", f"### {scenario}: {SCENARIO_TITLES.get(scenario, scenario)}", ""]
        out += scenario_table(result, configs, scenario)
    notes = [f"- {c.label}: {c.note}" for c in configs.values() if c.note and c.name in result.get("telemetry", {})]
    if notes:
        out += ["", "Configurations:", "", *notes]
    out += ["", f"## Memory over {result['args']['memory_calls']:,} calls", "", *memory_section(result)]
    out += [
        "",
        "## Import time",
        "",
        f"`import multi_llm_otel` in a fresh interpreter: {imp.get('ms_median', float('nan')):.1f} ms median, "
        f"{imp.get('ms_min', float('nan')):.1f} ms best of {imp.get('runs', 0)}; "
        "OTel SDK or provider SDK modules loaded by it: "
        f"{', '.join(imp.get('sdk_or_provider_modules', [])) or 'none'}; "
        f"OpenTelemetry modules loaded by it: {len(imp.get('otel_modules', []))}. "
        "First use of `multi_llm_otel.llm_call` "
        f"(loads the OTel API and SDK parts it needs): {imp.get('first_use_ms_median', float('nan')):.0f} ms median.",
        "",
        "## Throughput and a Collector outage",
        "",
        *throughput_section(result),
        "",
        "## Versions",
        "",
        *versions_section(result),
        "",
        "## Method",
        "",
        method(result),
    ]
    notes_file = HERE / "notes.md"
    if notes_file.exists():
        out += ["", "## Analysis", "", notes_file.read_text().strip()]
    return "\n".join(out) + "\n"


def main() -> None:
    """``python -m bench.report RESULT.json``: write BENCHMARKS.md again from a run's full result
    (``~/.cache/multi-llm-otel/bench-runs/<time>/result.json``), e.g. after editing notes.md."""
    import json
    import sys

    from bench.catalog import CONFIGS

    result = json.loads(Path(sys.argv[1]).read_text())
    (HERE.parent / "BENCHMARKS.md").write_text(render(result, CONFIGS))


def method(result: dict[str, Any]) -> str:
    args = result["args"]
    blocks = ", ".join(f"{s} {max(2, int(SCENARIOS[s].block * args['scale']))}" for s in result["scenarios"])
    rounds = max((len(v) for s in result.get("blocks", {}).values() for v in s.values()), default=0)
    return (
        "- A mock LLM server (`bench/mockserver.py`, asyncio, its own process so its CPU is not the client's) serves "
        "OpenAI Chat Completions and Anthropic Messages, plain and SSE-streamed, with usage and cache tokens "
        "(`prompt_tokens_details.cached_tokens` and an `include_usage` chunk; `cache_read_input_tokens` in "
        "`message_start`), from bytes prepared at start. The official `openai` and `anthropic` clients talk to it "
        "over loopback with keep-alive.\n"
        "- Each configuration runs in its own long-lived worker process (peers patch the SDKs globally), set up, "
        "warmed up (20 calls per scenario) and checked for telemetry first; a configuration that raised or exported "
        "nothing is reported as broken and not timed.\n"
        "- Every configuration exports through the same pipeline (`bench/pipeline.py`): `BatchSpanProcessor` and "
        "`BatchLogRecordProcessor` with default settings and exporters that count and drop, and one "
        "`PeriodicExportingMetricReader` whose exporter drops. Peers get these providers (as arguments or as the "
        "globals); Langfuse gets the tracer provider without our span processor and our exporter as its "
        "`span_exporter`, so it too has exactly one batch span processor.\n"
        f"- Interleaved blocks: {rounds} rounds; in each, every scenario, and in it every configuration runs one block "
        f"of N calls (N per scenario: {blocks}), in an order rotated and reversed from round to round. "
        "`gc.collect()` before each block, outside the timing. Per block: process CPU time and wall time per call.\n"
        "- The floor (`bench/floor.py`) writes by hand, with the plain OTel API, exactly what `@llm_call` exports "
        "for these calls; `bench/parity.py` checks the equality in every run.\n"
        "- Paired (`bench/paired.py`, the target table's second floor row): the uninstrumented call, the floor and "
        "`@llm_call` in one process on their own pipelines, blocks in an order rotated and reversed each round, "
        "each keeping its fastest block; the SDK clients replay responses captured from the mock server, so only "
        "the instrumentation and the telemetry pipeline are timed. The per-process rows move by ±0.3 between "
        "identical runs on this host, the paired one by a few hundredths. The paired peer row (`--peer`) adds "
        "OTel contrib GenAI, switched on for its own blocks only, and replays one level down (the SDK's `create` "
        "runs, since the peer wraps it, and the request is answered with the captured response); streamed calls "
        "are left out there, as a replayed stream would bypass the peer's stream wrapper.\n"
        "- Memory: the @llm_call and baseline workers make the memory calls side by side (19 plain calls to 1 "
        "streamed, both providers), RSS sampled every 10 %, then tracemalloc over a further 10 % of the calls.\n"
        "- Import: a fresh interpreter per sample, the first run discarded (bytecode compilation)."
    )


def console(result: dict[str, Any], configs: dict[str, Any]) -> str:
    lines = ["", "Targets:", *targets(result, configs)]
    for scenario in result["scenarios"]:
        rows = result.get("overhead", {}).get(scenario, {})
        lines += ["", f"{scenario}: µs per call over baseline (lower quartile; spread = paired IQR)"]
        lines.append(
            f"  {'configuration':44} {'CPU':>7} {'IQR':>7} {X + 'floor':>7} {'wall':>7} {'IQR':>7} {X + 'floor':>7}"
        )
        for name, row in rows.items():
            config = configs[name]
            if name == baseline_of(config):
                lines.append(
                    f"  {config.label:44} {row['cpu_us']['q1']:7.0f} per call (cpu), wall {row['wall_us']['q1']:.0f}"
                )
                continue
            cpu, wall = row["cpu_us"], row["wall_us"]
            lines.append(
                f"  {config.label:44} {cpu['over']:7.0f} {cpu['iqr']:7.0f} {_x(cpu.get('x_floor')):>7} "
                f"{wall['over']:7.0f} {wall['iqr']:7.0f} {_x(wall.get('x_floor')):>7}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
