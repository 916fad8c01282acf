"""The focal-loss sweep's table, from its results files.

    python -m demos.detection.report            # print the table, write results/summary.json

Each (arm, level) cell is the mean over seeds with a 95 % interval that combines seed
and scene noise (stats.interval); "paired gap" is focal minus each other arm over the
same seeds and scenes. summary.json is what the detection tab reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from .stats import interval
from .sweep import RESULTS, TUNE_LEVEL, plan_rates, read_results

Rates = dict[tuple[str, int], tuple[float | None, int]]


def cell_rates(runs: dict[str, dict]) -> Rates:
    """(rate, level it was tuned at) for each (arm, objects per scene) of the plan: the rate
    tuned at that level, or, while that tuning is unfinished, the arm's rate tuned at 2 objects
    (the level every arm was tuned at first), so a cell says which it holds."""
    strict = plan_rates(runs)
    out: Rates = {}
    for (arm, objects), rate in strict.items():
        if rate is None:
            out[(arm, objects)] = (strict.get((arm, TUNE_LEVEL)), TUNE_LEVEL)
        else:
            out[(arm, objects)] = (rate, objects)
    return out


def on_plan(run: dict, rates: Rates) -> bool:
    """A val run at the rate the sweep uses for its arm at its level; other val runs are
    learning-rate checks. An arm outside the plan (an ablation run by hand) has no tuned rate
    and is its own cell."""
    c = run["config"]
    key = (c["arm"], c["objects"])
    return c["eval_split"] == "val" and (rates[key][0] in (None, c["lr"]) if key in rates else True)


def cells(runs: dict[str, dict], rates: Rates | None = None) -> dict[tuple[str, int], list[dict]]:
    """Finished val runs of the plan grouped by (arm, objects per scene), ordered by seed."""
    rates = cell_rates(runs) if rates is None else rates
    grouped: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for run in runs.values():
        if on_plan(run, rates):
            grouped[(run["config"]["arm"], run["config"]["objects"])].append(run)
    return {k: sorted(v, key=lambda r: r["config"]["seed"]) for k, v in grouped.items()}


def lr_checks(runs: dict[str, dict], rates: Rates | None = None) -> list[dict]:
    """Val runs at another rate than the plan's (e.g. focal at 8 objects with a larger step), each
    beside the plan's run of the same arm, level and seed."""
    rates = cell_rates(runs) if rates is None else rates
    out = []
    for run in runs.values():
        c = run["config"]
        if c["eval_split"] != "val" or c["seed"] != 0 or on_plan(run, rates):
            continue  # other seeds at another rate belong to shared_rate_gaps
        planned = next((r for r in runs.values() if on_plan(r, rates) and all(
            r["config"][k] == c[k] for k in ("arm", "objects", "seed"))), None)
        out.append({"arm": c["arm"], "objects": c["objects"], "seed": c["seed"], "lr": c["lr"],
                    "AP": run["metrics"]["agnostic"]["AP"], "aware_AP": run["metrics"]["aware"]["AP"],
                    "plan_lr": rates.get((c["arm"], c["objects"]), (None, 0))[0],
                    "plan_AP": planned["metrics"]["agnostic"]["AP"] if planned else None,
                    "plan_aware_AP": planned["metrics"]["aware"]["AP"] if planned else None})
    return sorted(out, key=lambda t: (t["arm"], -t["objects"], t["lr"]))


def _summary_of(group: list[dict], kind: str) -> dict:
    points = [r["metrics"][kind]["AP"] for r in group]
    reps = [np.asarray(r["metrics"][kind]["bootstrap_AP"]) for r in group]
    return interval(points, reps) | {
        "AP50": float(np.mean([r["metrics"][kind]["AP50"] for r in group])),
        "AP75": float(np.mean([r["metrics"][kind]["AP75"] for r in group])),
        "per_seed": points,
    }


def paired_gap(a: list[dict], b: list[dict], kind: str = "agnostic") -> dict | None:
    """Interval of AP(a) - AP(b) over the seeds both have (same init, data order and scenes)."""
    seeds = sorted({r["config"]["seed"] for r in a} & {r["config"]["seed"] for r in b})
    if not seeds:
        return None
    pick = {id(g): {r["config"]["seed"]: r for r in g} for g in (a, b)}
    ra, rb = ([pick[id(g)][s] for s in seeds] for g in (a, b))
    points = [x["metrics"][kind]["AP"] - y["metrics"][kind]["AP"] for x, y in zip(ra, rb, strict=True)]
    reps = [np.asarray(x["metrics"][kind]["bootstrap_AP"]) - np.asarray(y["metrics"][kind]["bootstrap_AP"])
            for x, y in zip(ra, rb, strict=True)]
    return interval(points, reps)


def shared_rate_gaps(runs: dict[str, dict]) -> list[dict]:
    """focal − CE where the rates tuned per level differ from those tuned at 2 objects, with the
    2-object rates used at every level (the plan before per-level tuning): how much of the gap
    is the rate's doing."""
    strict = plan_rates(runs)
    shared = {arm: strict.get((arm, TUNE_LEVEL)) for arm in ("focal", "ce")}
    out = []
    for objects in sorted({r["config"]["objects"] for r in runs.values()}, reverse=True):
        own = {arm: strict.get((arm, objects)) for arm in shared}
        if objects == TUNE_LEVEL or None in (*shared.values(), *own.values()) or own == shared:
            continue
        groups = {arm: sorted((r for r in runs.values() if r["config"]["eval_split"] == "val" and
                               (r["config"]["arm"], r["config"]["objects"], r["config"]["lr"]) ==
                               (arm, objects, shared[arm])), key=lambda r: r["config"]["seed"])
                  for arm in shared}
        gap = paired_gap(groups["focal"], groups["ce"]) if all(groups.values()) else None
        if gap is not None:
            seeds = sorted(set.intersection(*({r["config"]["seed"] for r in g} for g in groups.values())))
            out.append({"objects": objects, "rates": shared, "own_rates": own, "seeds": seeds,
                        "focal_minus_ce": gap})
    return out


def summarise(folder: Path = RESULTS) -> dict:
    runs, problems = read_results(folder)
    levels_file = folder / "levels.json"
    levels = json.loads(levels_file.read_text()) if levels_file.exists() else []
    return summarise_runs(runs) | {"levels": levels, "problems": problems}


def summarise_runs(runs: dict[str, dict]) -> dict:
    """The summary of these runs (no levels or file problems: summarise adds them)."""
    rates = cell_rates(runs)  # tuned once here, for the cells and the checks alike
    grouped = cells(runs, rates)
    table = []
    for (arm, objects), group in sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        row = {"arm": arm, "objects": objects, "seeds": [r["config"]["seed"] for r in group],
               "lr": group[0]["config"]["lr"], "lr_tuned_at": rates.get((arm, objects), (None, None))[1],
               "agnostic": _summary_of(group, "agnostic"),
               "aware": _summary_of(group, "aware"),
               "errors": {k: float(np.mean([r["metrics"]["errors"][k] for r in group]))
                          for k in ("correct", "duplicate", "wrong_class", "poorly_localised", "background",
                                    "missed")},
               "curve": group[0]["training"]["curve"]}
        if arm != "focal" and ("focal", objects) in grouped:
            row["focal_minus_this"] = paired_gap(grouped[("focal", objects)], group)
        table.append(row)
    tuning = [{"arm": r["config"]["arm"], "objects": r["config"]["objects"], "lr": r["config"]["lr"],
               "AP": r["metrics"]["agnostic"]["AP"]}
              for r in runs.values() if r["config"]["eval_split"] == "tune"]
    return {"cells": table, "tuning": sorted(tuning, key=lambda t: (t["arm"], -t["objects"], t["lr"])),
            "levels": [], "lr_checks": lr_checks(runs, rates), "shared_rate_gaps": shared_rate_gaps(runs),
            "problems": [], "runs": len(runs)}


def print_table(folder: Path = RESULTS, write: bool = True) -> dict:
    summary = summarise(folder)
    for message in summary["problems"]:
        print(message, file=sys.stderr)
    print(f"{'arm':12s} {'obj':>3s} {'seeds':>5s} {'agnostic AP (95% CI)':>24s} {'class AP (95% CI)':>24s} "
          f"{'focal − arm':>20s}")
    for row in summary["cells"]:
        a, c, g = row["agnostic"], row["aware"], row.get("focal_minus_this")
        gap = "" if g is None else f"{100 * g['mean']:+.1f} [{100 * g['low']:+.1f}, {100 * g['high']:+.1f}]"
        print(f"{row['arm']:12s} {row['objects']:3d} {len(row['seeds']):5d} "
              f"{100 * a['mean']:8.1f} [{100 * a['low']:5.1f}, {100 * a['high']:5.1f}]    "
              f"{100 * c['mean']:8.1f} [{100 * c['low']:5.1f}, {100 * c['high']:5.1f}]    {gap:>20s}")
    if summary["tuning"]:
        print("\nlearning-rate tuning (class-agnostic AP on the tune split):")
        for t in summary["tuning"]:
            print(f"  {t['arm']:9s} {t['objects']} obj  lr {t['lr']:<6g} AP {100 * t['AP']:.1f}")
    if write:
        (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- sweep-table -->", "<!-- /sweep-table -->"


def readme_block(summary: dict) -> str:
    """What README.md shows between its sweep-table markers: the tab's sentences and table."""
    from .findings import checks_markdown, headline, table_markdown, tuning_markdown

    tables = [t for t in (table_markdown(summary), tuning_markdown(summary), checks_markdown(summary)) if t]
    return f"{START}\n{headline(summary)}\n\n" + "\n\n".join(tables) + f"\n{END}"


def write_readme(summary: dict, path: Path = README) -> None:
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} ... {END} block to fill")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    path.write_text(before + readme_block(summary) + after)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The focal-loss sweep's table")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--readme", action="store_true", help="also fill README.md's sweep table")
    args = p.parse_args(argv)
    if not args.results.is_dir():
        print(f"error: no results folder at {args.results}", file=sys.stderr)
        return 2
    summary = print_table(args.results)
    if args.readme:
        write_readme(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
