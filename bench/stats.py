"""Statistics over interleaved blocks. Standard library only.

For each configuration and scenario, every round gave one block: per-call CPU and wall time.
The quiet-host estimate of a configuration's cost is the lower quartile of its blocks (noise on
a shared machine only ever adds time); its overhead is that minus the lower quartile of its
environment's no-instrumentation baseline. The spread is the interquartile range of the paired
differences (the configuration's block minus the baseline's block of the same round).
"""

from __future__ import annotations

from typing import Any


def quantile(values: list[float], p: float) -> float:
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * p
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def baseline_of(config: Any) -> str:
    return "baseline" if config.env == "main" else f"{config.env}-baseline"


def floor_of(config: Any) -> str:
    return "floor" if config.env == "main" else f"{config.env}-floor"


def overhead(blocks: dict[str, dict[str, list[dict[str, float]]]], configs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scenario, per_config in blocks.items():
        rows: dict[str, Any] = {}
        for name, measured in per_config.items():
            config = configs[name]
            base = per_config.get(baseline_of(config))
            if not base:
                continue
            by_round = {b["round"]: b for b in base}
            row: dict[str, Any] = {"blocks": len(measured)}
            for metric in ("cpu_us", "wall_us"):
                values = [b[metric] for b in measured]
                base_values = [b[metric] for b in base]
                diffs = [b[metric] - by_round[b["round"]][metric] for b in measured if b["round"] in by_round]
                row[metric] = {
                    "q1": quantile(values, 0.25),
                    "median": quantile(values, 0.5),
                    "over": quantile(values, 0.25) - quantile(base_values, 0.25),
                    "diff_q1": quantile(diffs, 0.25),
                    "diff_median": quantile(diffs, 0.5),
                    "diff_q3": quantile(diffs, 0.75),
                    "iqr": quantile(diffs, 0.75) - quantile(diffs, 0.25),
                }
            rows[name] = row
        for name, row in rows.items():
            config = configs[name]
            floor = rows.get(floor_of(config))
            for metric in ("cpu_us", "wall_us"):
                if floor is not None and floor[metric]["over"] > 0 and config.kind != "baseline":
                    row[metric]["x_floor"] = row[metric]["over"] / floor[metric]["over"]
        # Ours against the fastest peer of the same environment, and each peer against ours.
        for env in {configs[n].env for n in rows}:
            peers = {n: r for n, r in rows.items() if configs[n].env == env and configs[n].kind == "peer"}
            ours = next((r for n, r in rows.items() if configs[n].env == env and configs[n].kind == "ours"), None)
            if not peers or ours is None:
                continue
            for metric in ("cpu_us", "wall_us"):
                fastest = min(peers, key=lambda n: peers[n][metric]["over"])
                ours[metric]["fastest_peer"] = fastest
                if peers[fastest][metric]["over"] > 0:
                    ours[metric]["x_fastest_peer"] = ours[metric]["over"] / peers[fastest][metric]["over"]
                others = [
                    r for n, r in rows.items() if configs[n].env == env and configs[n].kind in ("peer", "reference")
                ]
                for other in others:
                    if ours[metric]["over"] > 0:
                        other[metric]["x_ours"] = other[metric]["over"] / ours[metric]["over"]
        out[scenario] = rows
    return out
