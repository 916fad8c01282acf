"""What the sweep found, in sentences and a table, written from results/summary.json.

Every number the detection tab states about the experiment comes from here, so the
text can never disagree with the plots beside it (tests/test_detection_findings.py).
No Gradio, no scipy: the summary is computed by `python -m demos.detection.report`.
"""

from __future__ import annotations

import json
from pathlib import Path

SUMMARY = Path(__file__).resolve().parent / "results" / "summary.json"
ARM_NAMES = {"ce": "α-balanced CE", "focal": "focal loss (γ = 2)", "ohem": "OHEM (paper's)",
             "hnm": "SSD-style hard-negative mining", "focal-g0.5": "focal γ = 0.5",
             "focal-g1": "focal γ = 1", "focal-g5": "focal γ = 5",
             "ce-noprior": "α-CE without the prior init",
             "ohem-mean": "OHEM, loss averaged over its 128 anchors (ablation)"}
MAIN = ("ce", "focal", "ohem")


def load_summary(path: Path = SUMMARY) -> dict:
    """The sweep's summary, or an empty one (the tab then says no run has finished)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"cells": [], "tuning": [], "levels": [], "runs": 0}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(stat: dict) -> str:
    return f"{_pct(stat['mean'])} [{_pct(stat['low'])}, {_pct(stat['high'])}]"


def cell(summary: dict, arm: str, objects: int) -> dict | None:
    return next((c for c in summary.get("cells", []) if c["arm"] == arm and c["objects"] == objects), None)


def verdict(gap: dict | None) -> str:
    """'ahead', 'behind' or 'level' for focal − other, judged by whether the interval excludes 0."""
    if gap is None:
        return "not compared yet"
    if gap["low"] > 0:
        return "ahead"
    if gap["high"] < 0:
        return "behind"
    return "level (the interval includes 0)"


def _objects(n: int) -> str:
    return f"{n} object" + ("s" if n > 1 else "")


def _seeds(n: int) -> str:
    return f"{n} seed" + ("s" if n > 1 else "")


def level_sentence(summary: dict, objects: int) -> str | None:
    """One level's result: each main arm's class-agnostic AP with its interval, and focal's gaps."""
    rows = {arm: cell(summary, arm, objects) for arm in MAIN}
    if not any(rows.values()):
        return None
    ratio = {r["objects"]: r["bg_per_fg_anchor"] for r in summary.get("levels", [])}.get(objects)
    head = f"**{_objects(objects)} per scene**"
    if ratio:
        head += f" (1 : {ratio:,.0f} foreground : background anchors)"
    parts = [f"{ARM_NAMES[a]} {_ci(r['agnostic'])} ({_seeds(len(r['seeds']))})" for a, r in rows.items() if r]
    gaps = [f"focal − {ARM_NAMES[a]} = {_pct(r['focal_minus_this']['mean'])} points, focal "
            f"{verdict(r['focal_minus_this'])}" for a, r in rows.items()
            if r and a != "focal" and r.get("focal_minus_this")]
    return f"{head}: class-agnostic AP " + "; ".join(parts) + (". " + "; ".join(gaps) + "." if gaps else ".")


def collapse_sentence(summary: dict) -> str:
    """Tuning runs that ended with no detections at all (AP < 1 %), per arm and level, as one sentence."""
    collapsed: dict[tuple[str, int], list[float]] = {}
    tried: dict[tuple[str, int], int] = {}
    for t in summary.get("tuning", []):
        key = (t["arm"], t.get("objects", 2))
        tried[key] = tried.get(key, 0) + 1
        if t["AP"] < 0.01:
            collapsed.setdefault(key, []).append(t["lr"])
    parts = [f"{ARM_NAMES.get(a, a)} at {_objects(n)}, {len(r)} of its {tried[(a, n)]} rates "
             f"({', '.join(f'{x:g}' for x in r)})" for (a, n), r in collapsed.items()]
    if not parts:
        return ""
    return ("While tuning, runs ended with no confident detections at all (class-agnostic AP below 1 %): "
            + "; ".join(parts) + ".")


def shared_rate_sentence(summary: dict) -> str:
    """The same comparison with every level trained at the rates tuned at 2 objects: the part of
    the gap that the rate, not the loss, decides."""
    parts = []
    for g in summary.get("shared_rate_gaps", []):
        gap = g["focal_minus_ce"]
        own = ", ".join(f"{'CE' if a == 'ce' else a} {r:g}"
                        for a, r in g["own_rates"].items() if r is not None)
        parts.append(f"{_pct(gap['mean'])} [{_pct(gap['low'])}, {_pct(gap['high'])}] points at "
                     f"{_objects(g['objects'])} ({_seeds(len(g['seeds']))}; rates tuned at this level: "
                     f"{own or 'not yet'})")
    if not parts:
        return ""
    rates = summary["shared_rate_gaps"][0]["rates"]
    return ("With the rates tuned at 2 objects used at every level (focal " + f"{rates['focal']:g}, CE "
            f"{rates['ce']:g}), focal − CE was " + "; ".join(parts)
            + ". The rate that suits one level does not suit the others, so those gaps measure the "
            "rate as much as the loss; the table above uses each level's own rates.")


def lr_check_sentence(summary: dict) -> str:
    """Runs that repeat a cell's seed 0 at another rate: does the cell's result depend on the
    tuned rate?"""
    parts = []
    for t in summary.get("lr_checks", []):
        planned = "" if t["plan_AP"] is None else (
            f" against {_pct(t['plan_AP'])} ({_pct(t['plan_aware_AP'])}) at the sweep's {t['plan_lr']:g}")
        objects = _objects(t["objects"])
        parts.append(f"{ARM_NAMES.get(t['arm'], t['arm'])} at {objects}, seed {t['seed']}, lr {t['lr']:g}: "
                     f"class-agnostic AP {_pct(t['AP'])} (class-aware {_pct(t['aware_AP'])}){planned}")
    if not parts:
        return ""
    flips = order_flips(summary)
    return ("Learning-rate checks (the same seed at another rate): " + "; ".join(parts) + "."
            + (" " + " ".join(flips) if flips else ""))


def order_flips(summary: dict) -> list[str]:
    """Where a check at a better rate than the plan's overtakes another main arm at its level: the
    comparison there is the tuned rate's doing as much as the loss's, so the sentence says so,
    and whether the overtaken arm's own best rate tried there keeps it behind. (A check at a
    worse rate losing ground says nothing: any arm can be trained badly.)"""
    checks = summary.get("lr_checks", [])
    out = []
    for t in checks:
        if t["plan_AP"] is None or t["AP"] <= t["plan_AP"]:
            continue
        for other in MAIN:
            rival = cell(summary, other, t["objects"])
            if other == t["arm"] or rival is None:
                continue
            theirs = rival["agnostic"]["mean"]
            if not t["plan_AP"] < theirs < t["AP"]:
                continue
            tried = [c["AP"] for c in checks if (c["arm"], c["objects"]) == (other, t["objects"])]
            best = max([theirs, *tried])
            objects = _objects(t["objects"])
            rest = (f"and of its best rate tried there ({_pct(best)})" if best < t["AP"] else
                    f"though not of its best rate tried there ({_pct(best)})") if best > theirs else ""
            out.append(f"At {objects}, {ARM_NAMES.get(t['arm'], t['arm'])} at lr {t['lr']:g} "
                       f"({_pct(t['AP'])}) is ahead of {ARM_NAMES[other]} at its rate ({_pct(theirs)})"
                       + (f", {rest}" if rest else "")
                       + ": the table's order at this level is the tuned rate's doing as much as the loss's.")
    return out


def best_rates_sentence(summary: dict) -> str:
    """At each level with learning-rate checks: every main arm at the best rate tried for it
    (seed 0, the planned run included), best first. The fair comparison the plan's single
    tuned rate per arm cannot give."""
    checks = summary.get("lr_checks", [])
    parts = []
    for objects in sorted({t["objects"] for t in checks}, reverse=True):
        tried: dict[str, list[tuple[float, float]]] = {}
        for arm in MAIN:
            c = cell(summary, arm, objects)
            if c and 0 in c["seeds"]:
                tried[arm] = [(c["agnostic"]["per_seed"][c["seeds"].index(0)], c["lr"])]
        for t in checks:
            if t["arm"] in tried and t["objects"] == objects and t["seed"] == 0:
                tried[t["arm"]].append((t["AP"], t["lr"]))
        if len(tried) < 2:
            continue
        best = sorted(((max(v), a) for a, v in tried.items()), reverse=True)
        parts.append(f"at {_objects(objects)}, " + ", ".join(
            f"{ARM_NAMES[a]} {_pct(ap)} (lr {lr:g}, of {len(tried[a])} tried)" for (ap, lr), a in best))
    if not parts:
        return ""
    return "At the best rate tried for each arm (seed 0): " + "; ".join(parts) + "."


def headline(summary: dict) -> str:
    """The experiment in a few sentences, for the tab and the README."""
    finished = summary.get("runs", 0)
    collapse = collapse_sentence(summary)
    if not summary.get("cells"):
        tuned = len(summary.get("tuning", []))
        waiting = (f"No main run has finished yet ({tuned} learning-rate tuning runs done). The sweep is "
                   "resumable: `python -m demos.detection.sweep --workers 2`.")
        return waiting + (f"\n\n{collapse}" if collapse else "")
    levels = sorted({c["objects"] for c in summary["cells"]}, reverse=True)
    sentences = [s for s in (level_sentence(summary, lv) for lv in levels) if s]
    note = (f"{finished} runs finished so far; cells with one seed have intervals from the val scenes "
            "only, so they understate the noise between training runs.")
    checks = " ".join(x for x in (shared_rate_sentence(summary), lr_check_sentence(summary),
                                   best_rates_sentence(summary)) if x)
    return "\n\n".join([*sentences, *([collapse] if collapse else []), *([checks] if checks else []), note])


def table_markdown(summary: dict) -> str:
    """Every cell: AP class-agnostic and class-aware with intervals, and what the confident detections are."""
    rows = ["| arm | objects / scene | seeds | lr (tuned at) | class-agnostic AP [95 % CI] "
            "| class-aware AP [95 % CI] | wrong class | background | missed |",
            "|---|---:|---:|---:|---|---|---:|---:|---:|"]
    for c in sorted(summary.get("cells", []), key=lambda c: (-c["objects"], c["arm"])):
        e = c["errors"]
        name = ARM_NAMES.get(c["arm"], c["arm"])
        at = c.get("lr_tuned_at")
        where = "" if at is None else f" ({_objects(at)})"
        rows.append(f"| {name} | {c['objects']} | {len(c['seeds'])} | {c['lr']:g}{where} "
                    f"| {_ci(c['agnostic'])} | {_ci(c['aware'])} | {e['wrong_class']:.0f} "
                    f"| {e['background']:.0f} | {e['missed']:.0f} |")
    return "\n".join(rows)


def tuning_markdown(summary: dict) -> str:
    """The learning-rate search: class-agnostic AP on the tune split per arm, level and rate; the
    best of each row (bold) is the rate the sweep uses there once the row is complete."""
    runs = summary.get("tuning", [])
    if not runs:
        return ""
    rates = sorted({t["lr"] for t in runs})
    rows_of = list(dict.fromkeys((t["arm"], t.get("objects", 2)) for t in runs))
    rows_of.sort(key=lambda k: (-k[1], k[0]))
    ap = {(t["arm"], t.get("objects", 2), t["lr"]): t["AP"] for t in runs}
    header = " | ".join(f"lr {r:g}" for r in rates)
    rows = [f"| tuning (1,000 steps, tune split) | objects / scene | {header} |",
            "|---|---:|" + "---:|" * len(rates)]
    for arm, objects in rows_of:
        best = max(ap[(arm, objects, r)] for r in rates if (arm, objects, r) in ap)
        cells = []
        for r in rates:
            value = ap.get((arm, objects, r))
            text = "–" if value is None else _pct(value)
            cells.append(f"**{text}**" if value == best else text)
        rows.append(f"| {ARM_NAMES.get(arm, arm)} | {objects} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
