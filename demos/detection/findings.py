"""What the sweep found, in sentences and a table, written from results/summary.json.

Every number the detection tab states about the experiment comes from here, so the
text can never disagree with the plots beside it (tests/test_detection_findings.py).
No Gradio, no scipy: the summary is computed by `python -m demos.detection.report`.

Each sentence is written in English (`lang="en"`, what the README shows) or Chinese from
templates: the English ones are `TEXTS` below, the Chinese ones sit under the same keys in
shared/locales/zh-CN.detection.yaml (read by texts.py); the numbers are formatted once, here.
"""

from __future__ import annotations

import json
from pathlib import Path

from demos.detection.texts import CHINESE, ENGLISH, text

SUMMARY = Path(__file__).resolve().parent / "results" / "summary.json"
ARM_NAMES = {"ce": "α-balanced CE", "focal": "focal loss (γ = 2)", "ohem": "OHEM (paper's)",
             "hnm": "SSD-style hard-negative mining", "focal-g0.5": "focal γ = 0.5",
             "focal-g1": "focal γ = 1", "focal-g5": "focal γ = 5",
             "ce-noprior": "α-CE without the prior init",
             "ohem-mean": "OHEM, loss averaged over its 128 anchors (ablation)"}
MAIN = ("ce", "focal", "ohem")

# The sentences' English templates, values at [name]; key "detection.findings.<name>".
TEXTS = {
    "objects_one": "[n] object", "objects_many": "[n] objects",
    "seeds_one": "[n] seed", "seeds_many": "[n] seeds",
    "verdict_none": "not compared yet", "verdict_ahead": "ahead", "verdict_behind": "behind",
    "verdict_level": "level (the interval includes 0)",
    "level_head": "**[objects] per scene**",
    "level_ratio": " (1 : [ratio] foreground : background anchors)",
    "level_arm": "[arm] [ci] ([seeds])",
    "level_gap": "focal − [arm] = [gap] points, focal [verdict]",
    "level": "[head]: class-agnostic AP [arms].",
    "level_gaps": "[head]: class-agnostic AP [arms]. [gaps].",
    "collapse_part": "[arm] at [objects], [n] of its [tried] rates ([rates])",
    "collapse": "While tuning, runs ended with no confident detections at all (class-agnostic AP below 1 %): "
                "[parts].",
    "short_focal": "focal",
    "shared_not_yet": "not yet",
    "shared_part": "[ci] points at [objects] ([seeds]; rates tuned at this level: [own])",
    "shared": "With the rates tuned at 2 objects used at every level (focal [focal], CE [ce]), focal − CE "
              "was [parts]. The rate that suits one level does not suit the others, so those gaps measure "
              "the rate as much as the loss; the table above uses each level's own rates.",
    "paper_gap": "focal − CE = [ci] points at [objects] ([seeds])",
    "paper": "The paper reports focal loss 2.9 AP ahead of the best α-balanced CE on COCO (34.0 against "
             "31.1; Lin et al. 2017, Table 1a-b). With each arm's rate tuned at its own level, here [gaps]: "
             "[verdict]",
    "paper_none": "no difference beyond the noise at any of these levels. On these scenes, with both losses "
                  "starting from the same prior initialisation (π = 0.01) and each rate tuned where it is "
                  "measured, the paper's gap does not appear.",
    "pending_both": "The runs that could say why (CE without the prior, the γ sweep) are still in the plan.",
    "pending_prior": "CE without the prior is still in the plan.",
    "pending_gamma": "The γ sweep is still in the plan.",
    "prior": "Without the prior initialisation, α-balanced CE gets [without_prior] at [objects] ([seeds]) "
             "against [with_prior] with it; paired with focal loss, focal − CE is [gap_without] points "
             "without the prior and [gap_with] with it: [verdict].",
    "prior_needed": "without the prior CE falls behind focal loss beyond the noise, with it the two are "
                    "level, so the prior is part of why CE keeps up here",
    "prior_hurts": "CE keeps up with focal loss without the prior, not with it",
    "prior_same": "the prior does not change CE's standing against focal loss beyond the noise",
    "gamma_part": "γ = [gamma] [ci]",
    "gamma": "Across γ at [objects] (α as the paper pairs each γ; on COCO its AP goes 31.1, 32.9, 33.7, 34.0 "
             "and 32.2 for γ = 0, 0.5, 1, 2 and 5, Table 1b; γ = 0 is α-balanced CE at its own rate, the "
             "others run at focal loss's): [parts] ([seeds] each). [verdict]",
    "gamma_flat": "Every γ's interval overlaps γ = 0's: no rise with γ beyond the noise.",
    "gamma_rise": "Beyond the noise above γ = 0: [which].",
    "gamma_fall": "Beyond the noise below γ = 0: [which].",
    "paper_some": "focal loss ahead beyond the noise at [where].",
    "checks_header": "| learning-rate check (seed 0 at another rate) | objects / scene | lr "
                     "| class-agnostic AP | class-aware AP | the sweep's lr | its class-agnostic AP "
                     "| class-aware |",
    "flip_and": "and of its best rate tried there ([best])",
    "flip_not": "though not of its best rate tried there ([best])",
    "flip": "At [objects], [arm] at lr [lr] ([ap]) is ahead of [other] at its rate ([theirs])[rest]: the "
            "table's order at this level is the tuned rate's doing as much as the loss's.",
    "best_arm": "[arm] [ap] (lr [lr], of [n] tried)",
    "best_level": "at [objects], [arms]",
    "best": "At the best rate tried for each arm (seed 0): [parts].",
    "waiting": "No main run has finished yet ([n] learning-rate tuning runs done). The sweep is resumable: "
               "`python -m demos.detection.sweep --workers 2`.",
    "note": "[n] runs finished so far; cells with one seed have intervals from the val scenes only, so they "
            "understate the noise between training runs.",
    "table_header": "| arm | objects / scene | seeds | lr (tuned at) | class-agnostic AP [95 % CI] "
                    "| class-aware AP [95 % CI] | wrong class | background | missed |",
    "table_where": " ([objects])",
    "tuning_rate": "lr [rate]",
    "tuning_header": "| tuning (1,000 steps, tune split) | objects / scene | [rates] |",
}
# The punctuation that joins the pieces, per language (a separator is no text to translate).
SEPARATORS = {ENGLISH: {"join": "; ", "comma": ", ", "enum": ", ", "space": " "},
              CHINESE: {"join": "；", "comma": "，", "enum": "、", "space": ""}}


def _t(name: str, lang: str, /, **values: object) -> str:
    return text(f"detection.findings.{name}", TEXTS[name], lang, **values)


def _sep(name: str, lang: str) -> str:
    return SEPARATORS.get(lang, SEPARATORS[ENGLISH])[name]


def arm_key(arm: str) -> str:
    """The translation key of an arm's name ("focal-g0.5" -> "detection.findings.arm.focal_g0_5")."""
    return "detection.findings.arm." + arm.replace("-", "_").replace(".", "_")


def arm_name(arm: str, lang: str = ENGLISH) -> str:
    return text(arm_key(arm), ARM_NAMES.get(arm, arm), lang)


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


def verdict(gap: dict | None, lang: str = ENGLISH) -> str:
    """'ahead', 'behind' or 'level' for focal − other, judged by whether the interval excludes 0."""
    if gap is None:
        return _t("verdict_none", lang)
    if gap["low"] > 0:
        return _t("verdict_ahead", lang)
    if gap["high"] < 0:
        return _t("verdict_behind", lang)
    return _t("verdict_level", lang)


def _objects(n: int, lang: str = ENGLISH) -> str:
    return _t("objects_many" if n > 1 else "objects_one", lang, n=n)


def _seeds(n: int, lang: str = ENGLISH) -> str:
    return _t("seeds_many" if n > 1 else "seeds_one", lang, n=n)


def level_sentence(summary: dict, objects: int, lang: str = ENGLISH) -> str | None:
    """One level's result: each main arm's class-agnostic AP with its interval, and focal's gaps."""
    rows = {arm: cell(summary, arm, objects) for arm in MAIN}
    if not any(rows.values()):
        return None
    ratio = {r["objects"]: r["bg_per_fg_anchor"] for r in summary.get("levels", [])}.get(objects)
    head = _t("level_head", lang, objects=_objects(objects, lang))
    if ratio:
        head += _t("level_ratio", lang, ratio=f"{ratio:,.0f}")
    parts = [_t("level_arm", lang, arm=arm_name(a, lang), ci=_ci(r["agnostic"]),
                seeds=_seeds(len(r["seeds"]), lang)) for a, r in rows.items() if r]
    gaps = [_t("level_gap", lang, arm=arm_name(a, lang), gap=_pct(r["focal_minus_this"]["mean"]),
               verdict=verdict(r["focal_minus_this"], lang))
            for a, r in rows.items() if r and a != "focal" and r.get("focal_minus_this")]
    join = _sep("join", lang)
    return _t("level_gaps" if gaps else "level", lang, head=head, arms=join.join(parts), gaps=join.join(gaps))


def collapse_sentence(summary: dict, lang: str = ENGLISH) -> str:
    """Tuning runs that ended with no detections at all (AP < 1 %), per arm and level, as one sentence."""
    collapsed: dict[tuple[str, int], list[float]] = {}
    tried: dict[tuple[str, int], int] = {}
    for t in summary.get("tuning", []):
        key = (t["arm"], t.get("objects", 2))
        tried[key] = tried.get(key, 0) + 1
        if t["AP"] < 0.01:
            collapsed.setdefault(key, []).append(t["lr"])
    parts = [_t("collapse_part", lang, arm=arm_name(a, lang), objects=_objects(n, lang), n=len(r),
                tried=tried[(a, n)], rates=_sep("enum", lang).join(f"{x:g}" for x in r))
             for (a, n), r in collapsed.items()]
    if not parts:
        return ""
    return _t("collapse", lang, parts=_sep("join", lang).join(parts))


def shared_rate_sentence(summary: dict, lang: str = ENGLISH) -> str:
    """The same comparison with every level trained at the rates tuned at 2 objects: the part of
    the gap that the rate, not the loss, decides."""
    parts = []
    for g in summary.get("shared_rate_gaps", []):
        gap = g["focal_minus_ce"]
        short = {"ce": "CE", "focal": _t("short_focal", lang)}  # the two arms the shared rates compare
        own = _sep("enum", lang).join(f"{short.get(a, a)} {r:g}" for a, r in g["own_rates"].items()
                                      if r is not None)
        parts.append(_t("shared_part", lang, ci=_ci(gap), objects=_objects(g["objects"], lang),
                        seeds=_seeds(len(g["seeds"]), lang), own=own or _t("shared_not_yet", lang)))
    if not parts:
        return ""
    rates = summary["shared_rate_gaps"][0]["rates"]
    return _t("shared", lang, focal=f"{rates['focal']:g}", ce=f"{rates['ce']:g}",
              parts=_sep("join", lang).join(parts))


def paper_sentence(summary: dict, lang: str = ENGLISH) -> str:
    """focal − CE at the levels where both arms have at least two seeds at rates tuned at that
    level, against the paper's COCO gap: agreement or not, judged by the intervals."""
    gaps, ahead = [], []
    for objects in sorted({c["objects"] for c in summary.get("cells", [])}, reverse=True):
        ce, focal = cell(summary, "ce", objects), cell(summary, "focal", objects)
        if not (ce and focal and ce.get("focal_minus_this")):
            continue
        tuned_at = {ce.get("lr_tuned_at"), focal.get("lr_tuned_at")}
        if min(len(ce["seeds"]), len(focal["seeds"])) < 2 or tuned_at != {objects}:
            continue
        gap = ce["focal_minus_this"]
        gaps.append(_t("paper_gap", lang, ci=_ci(gap), objects=_objects(objects, lang),
                       seeds=_seeds(min(len(ce["seeds"]), len(focal["seeds"])), lang)))
        if gap["low"] > 0:
            ahead.append(_objects(objects, lang))
    if not gaps:
        return ""
    verdict = (_t("paper_some", lang, where=_sep("enum", lang).join(ahead)) if ahead
               else _t("paper_none", lang))
    return _t("paper", lang, gaps=_sep("join", lang).join(gaps), verdict=verdict)


GAMMA_ARMS = {"ce": 0, "focal-g0.5": 0.5, "focal-g1": 1, "focal": 2, "focal-g5": 5}  # γ = 0 is α-CE


def ablation_sentence(summary: dict, lang: str = ENGLISH, objects: int = 1) -> str:
    """What the two ablations of the paper's gap say at `objects`: CE without the prior
    initialisation, and AP against γ; the pending sentence while either has fewer than two seeds."""
    def seeded(arm: str) -> dict | None:
        found = cell(summary, arm, objects)
        return found if found and len(found["seeds"]) >= 2 and (arm == "focal" or found.get(
            "focal_minus_this")) else None

    parts = []
    ce, noprior = seeded("ce"), seeded("ce-noprior")
    if ce and noprior:
        behind_without = noprior["focal_minus_this"]["low"] > 0
        behind_with = ce["focal_minus_this"]["low"] > 0
        which = ("prior_needed" if behind_without and not behind_with else
                 "prior_hurts" if behind_with and not behind_without else "prior_same")
        seeds = _seeds(min(len(ce["seeds"]), len(noprior["seeds"])), lang)
        parts.append(_t("prior", lang, without_prior=_ci(noprior["agnostic"]), with_prior=_ci(ce["agnostic"]),
                        objects=_objects(objects, lang), seeds=seeds, verdict=_t(which, lang),
                        gap_without=_ci(noprior["focal_minus_this"]), gap_with=_ci(ce["focal_minus_this"])))
    sweep = {g: seeded(arm) for arm, g in GAMMA_ARMS.items()}
    if all(sweep.values()):
        base = sweep[0]["agnostic"]
        above = [g for g, c in sweep.items() if g and c["agnostic"]["low"] > base["high"]]
        below = [g for g, c in sweep.items() if g and c["agnostic"]["high"] < base["low"]]
        if not above and not below:  # every interval overlaps γ = 0's
            verdict = _t("gamma_flat", lang)
        else:
            verdict = _sep("space", lang).join(
                _t(key, lang, which=_sep("enum", lang).join(f"γ = {g:g}" for g in gammas))
                for key, gammas in (("gamma_rise", above), ("gamma_fall", below)) if gammas)
        listed = _sep("join", lang).join(_t("gamma_part", lang, gamma=f"{g:g}", ci=_ci(c["agnostic"]))
                                         for g, c in sweep.items())
        parts.append(_t("gamma", lang, objects=_objects(objects, lang), parts=listed,
                        seeds=_seeds(min(len(c["seeds"]) for c in sweep.values()), lang),
                        verdict=verdict).rstrip())
    pending = {(True, True): "", (False, True): "pending_prior", (True, False): "pending_gamma",
               (False, False): "pending_both"}[(bool(ce and noprior), all(sweep.values()))]
    if pending:
        parts.append(_t(pending, lang))
    return _sep("space", lang).join(parts)


def lr_check_sentence(summary: dict, lang: str = ENGLISH) -> str:
    """What the learning-rate checks (`checks_markdown`) change in the table's order, if anything."""
    return _sep("space", lang).join(order_flips(summary, lang))


def checks_markdown(summary: dict, lang: str = ENGLISH) -> str:
    """Runs that repeat a cell's seed 0 at another rate, each beside the sweep's run of that seed:
    does the cell's result depend on the tuned rate?"""
    checks = summary.get("lr_checks", [])
    if not checks:
        return ""
    rows = [_t("checks_header", lang), "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in sorted(checks, key=lambda t: (-t["objects"], t["arm"], t["lr"])):
        plan = ("–", "–", "–") if t["plan_AP"] is None else (
            f"{t['plan_lr']:g}", _pct(t["plan_AP"]), _pct(t["plan_aware_AP"]))
        rows.append(f"| {arm_name(t['arm'], lang)} | {t['objects']} | {t['lr']:g} | {_pct(t['AP'])} "
                    f"| {_pct(t['aware_AP'])} | " + " | ".join(plan) + " |")
    return "\n".join(rows)


def order_flips(summary: dict, lang: str = ENGLISH) -> list[str]:
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
            rest = "" if best <= theirs else _t("flip_and" if best < t["AP"] else "flip_not", lang,
                                                 best=_pct(best))
            out.append(_t("flip", lang, objects=_objects(t["objects"], lang), arm=arm_name(t["arm"], lang),
                          lr=f"{t['lr']:g}", ap=_pct(t["AP"]), other=arm_name(other, lang),
                          theirs=_pct(theirs), rest=_sep("comma", lang) + rest if rest else ""))
    return out


def best_rates_sentence(summary: dict, lang: str = ENGLISH) -> str:
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
        arms = _sep("comma", lang).join(
            _t("best_arm", lang, arm=arm_name(a, lang), ap=_pct(ap), lr=f"{lr:g}", n=len(tried[a]))
            for (ap, lr), a in best)
        parts.append(_t("best_level", lang, objects=_objects(objects, lang), arms=arms))
    if not parts:
        return ""
    return _t("best", lang, parts=_sep("join", lang).join(parts))


def headline(summary: dict, lang: str = ENGLISH) -> str:
    """The experiment in a few sentences, for the tab and the README."""
    finished = summary.get("runs", 0)
    collapse = collapse_sentence(summary, lang)
    if not summary.get("cells"):
        waiting = _t("waiting", lang, n=len(summary.get("tuning", [])))
        return waiting + (f"\n\n{collapse}" if collapse else "")
    levels = sorted({c["objects"] for c in summary["cells"]}, reverse=True)
    sentences = [s for s in (level_sentence(summary, lv, lang) for lv in levels) if s]
    note = _t("note", lang, n=finished)
    paper = paper_sentence(summary, lang)
    checks = _sep("space", lang).join(x for x in (paper,
                                                  ablation_sentence(summary, lang) if paper else "",
                                                  shared_rate_sentence(summary, lang),
                                                  lr_check_sentence(summary, lang),
                                                  best_rates_sentence(summary, lang)) if x)
    return "\n\n".join([*sentences, *([collapse] if collapse else []), *([checks] if checks else []), note])


def table_markdown(summary: dict, lang: str = ENGLISH) -> str:
    """Every cell: AP class-agnostic and class-aware with intervals, and what the confident detections are."""
    rows = [_t("table_header", lang), "|---|---:|---:|---:|---|---|---:|---:|---:|"]
    for c in sorted(summary.get("cells", []), key=lambda c: (-c["objects"], c["arm"])):
        e = c["errors"]
        name = arm_name(c["arm"], lang)
        at = c.get("lr_tuned_at")
        where = "" if at is None else _t("table_where", lang, objects=_objects(at, lang))
        rows.append(f"| {name} | {c['objects']} | {len(c['seeds'])} | {c['lr']:g}{where} "
                    f"| {_ci(c['agnostic'])} | {_ci(c['aware'])} | {e['wrong_class']:.0f} "
                    f"| {e['background']:.0f} | {e['missed']:.0f} |")
    return "\n".join(rows)


def tuning_markdown(summary: dict, lang: str = ENGLISH) -> str:
    """The learning-rate search: class-agnostic AP on the tune split per arm, level and rate; the
    best of each row (bold) is the rate the sweep uses there once the row is complete."""
    runs = summary.get("tuning", [])
    if not runs:
        return ""
    rates = sorted({t["lr"] for t in runs})
    rows_of = list(dict.fromkeys((t["arm"], t.get("objects", 2)) for t in runs))
    rows_of.sort(key=lambda k: (-k[1], k[0]))
    ap = {(t["arm"], t.get("objects", 2), t["lr"]): t["AP"] for t in runs}
    header = " | ".join(_t("tuning_rate", lang, rate=f"{r:g}") for r in rates)
    rows = [_t("tuning_header", lang, rates=header),
            "|---|---:|" + "---:|" * len(rates)]
    for arm, objects in rows_of:
        best = max(ap[(arm, objects, r)] for r in rates if (arm, objects, r) in ap)
        cells = []
        for r in rates:
            value = ap.get((arm, objects, r))
            text = "–" if value is None else _pct(value)
            cells.append(f"**{text}**" if value == best else text)
        rows.append(f"| {arm_name(arm, lang)} | {objects} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
