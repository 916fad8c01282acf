"""The acceleration tab's words: the sentences, table cells and figure labels written from each
measurement, one template per phrase.

No Gradio here. The English is written here (or where a measurement is made: techniques.REASONS and
NOTES, measure.PROGRESS and FAILURES, cache.UNREADABLE, shared.acceleration.SAID); the tab registers
each text as "acceleration.<key>" and passes them back in the page's language, with values put in at
[name] (shared.templates.fill), so a Chinese page's sentences are built from the same numbers. What a
measurement keeps in English (a row's reason and note, a serving verdict's outcomes) is said again
from the template it was made from (shared.templates.unfill); anything else stays as it is.
"""

from __future__ import annotations

import re

from shared import acceleration as serving
from shared.registry import get_spec
from shared.templates import fill, unfill

from . import cache, measure, subjects
from .techniques import BASELINE, LEVELS, NOTES, REASONS, TECHNIQUES

COLUMNS = ["technique", "level", "status", "median ms", "p95 ms", "speed-up", "peak MB", "file MB",
           "max diff (relative)", "tolerance", "faithful", "metric change [95 % CI]", "note"]
RENAMED = {"all cores": "all_cores", "CUDA graphs": "cuda_graphs", "int8 dynamic": "int8_dynamic",
           "int8 static (x86)": "int8_static", "pruning + weight sharing": "pruning"}  # the others are code


def slug(text: str) -> str:
    """A key for `text`: its letters and digits, joined by underscores."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


TEXTS = {
    "weights_bundled": "the bundled checkpoint",
    "weights_pretrained": "its published weights (cached here)",
    "weights_random": "**random weights**: its published weights are not cached here, so this measures speed "
                      "and faithfulness only, not accuracy",
    "measured": "**[model]** on a [w]×[h] input, with [weights]. Measured on [date] on [machine] "
                "([device], [threads] torch threads per call as the app gives it), [repeats] timed calls per "
                "technique in turns after [warmup] warm-up calls; [seconds] s in all.",
    "measured_kept": "**[model]** on a [w]×[h] input, with [weights]. Measured earlier, on [date] on "
                     "[machine] ([device], [threads] torch threads per call as the app gives it), [repeats] "
                     "timed calls per technique in turns after [warmup] warm-up calls; [seconds] s in all.",
    "cores": "[n] cores",
    "fastest": "Fastest faithful technique: **[technique]**, [speedup]× ([ms] ms against [base] ms[within]).",
    "none_faster": "No technique was both faithful and faster than fp32 eager here.",
    "accuracy": "Accuracy: [subset]; intervals are 95 % paired bootstrap intervals over the scenes "
                "(detectors).",
    "served": "Served in the app as: [how].",
    "not_kept": "This measurement could not be kept ([error]).",
    "unreadable": cache.UNREADABLE,
    "empty": "No measurement is kept on this machine yet. Choose a model and press **Measure now**; the "
             "result is kept, and the tab opens with it next time.",
    "faithful_yes": "yes", "faithful_no": "no", "faithful_none": "not checked",
    "status_measured": "measured", "status_skipped": "skipped", "status_failed": "failed",
    "metric_keypoint_ap": "keypoint AP", "metric_edge_f_score": "edge F-score",
    "choice_pretrained": " (real weights)", "choice_random": " (random weights: speed only)",
    "plot_bundled": "bundled weights", "plot_pretrained": "real weights",
    "plot_random": "random weights: speed and faithfulness only",
    "plot_faster": "[speedup]× faster",
    "plot_lost": "0.5 points lost",
    "plot_metric_axis": "change in [metric] (points; 95 % paired bootstrap interval for AP)",
    "plot_diff_axis": "largest output difference from fp32 (relative to each output's largest value)",
    "plot_x_axis": "speed-up over fp32 eager (median latency, same run)",
    "plot_legend": "level",
    "plot_metric": "metric",
    "part_model": "model",  # int8 static's note when the model is one network
}
TEXTS |= {f"column_{slug(c)}": c for c in COLUMNS if c != "p95 ms"}  # "p95 ms": nothing to translate
TEXTS |= {f"level_{level}": level for level in LEVELS}
TEXTS |= {f"technique_{key}": name for name, key in RENAMED.items()}
TEXTS |= {f"subset_{demo}": words for demo, words in subjects.SUBSETS.items()}
for _prefix, _templates in (("progress_", measure.PROGRESS), ("reason_", REASONS), ("note_", NOTES),
                            ("failure_", measure.FAILURES)):
    TEXTS |= {_prefix + key: text for key, text in _templates.items()}
PUNCTUATED = ("refused", "tried", "tried_join")  # serving.SAID's phrases that are punctuation only
TEXTS |= {f"said_{key}": text for key, text in serving.SAID.items() if key not in PUNCTUATED}
# Phrases with nothing to translate but their punctuation, which goes by language.
PUNCTUATION = {
    "en": {"within": ", [change] [metric]", "title": "[model], [w]×[h] ([weights]); [date]", "join": "; ",
           "refused": "[eager] ([tried])", "tried": "[name]: [outcome]"},
    "zh-CN": {"within": "，[change] [metric]", "title": "[model]，[w]×[h]（[weights]）；[date]", "join": "；",
              "refused": "[eager]（[tried]）", "tried": "[name]：[outcome]"},
}
ENGLISH = TEXTS | PUNCTUATION["en"]
# Each technique's picker label, "name — level", translated whole (a label holds one translation).
CHOICES = {t.name: f"{t.name} — {t.level}" for t in TECHNIQUES if t.name != BASELINE}


def texts_in(translated: dict[str, str], language: str) -> dict[str, str]:
    """Every text the tab writes, for `language`: `translated` (TEXTS in that language) with its
    punctuation."""
    return ENGLISH | translated | PUNCTUATION.get(language, PUNCTUATION["en"])


def technique(name: str, t: dict[str, str]) -> str:
    """A technique's name as shown: the ones in words in the page's language, the others (code) as named."""
    return t[f"technique_{RENAMED[name]}"] if name in RENAMED else name


def _say_again(text: str, templates: dict[str, str], prefix: str, t: dict[str, str]) -> str | None:
    """`text` made again from the same template in `t`'s language; None if no template made it."""
    for key, english in templates.items():
        values = unfill(english, text)
        if values is not None:
            if "parts" in values:  # the quantised parts: attribute names (code), or the whole model
                values["parts"] = ", ".join(t["part_model"] if part == "model" else part
                                            for part in values["parts"].split(", "))
            return fill(t[f"{prefix}{key}"], **values)
    return None


def reason(text: str, t: dict[str, str]) -> str:
    """Why a row was skipped or failed, in `t`'s language (an exception's own words stay as they are)."""
    from_serving = {key: serving.SAID[key] for key in serving.REASONS}
    for templates, prefix in ((REASONS, "reason_"), (measure.FAILURES, "failure_"), (from_serving, "said_")):
        said = _say_again(text, templates, prefix, t)
        if said is not None:
            return said
    return text


def note(text: str, t: dict[str, str]) -> str:
    """A row's note in `t`'s language: the technique's note, then what went wrong checking it, if anything."""
    said = _say_again(text, NOTES, "note_", t) or _say_again(text, measure.FAILURES, "failure_", t)
    if said is not None or not text:
        return said or text
    # The technique's note, NOTE_JOIN, the failure: split at the first join after which a failure follows
    # (an exception's message may hold the join too).
    for found in re.finditer(re.escape(measure.NOTE_JOIN), text):
        failed = _say_again(text[found.end():], measure.FAILURES, "failure_", t)
        if failed is not None:
            return note(text[:found.start()], t) + t["join"] + failed
    return text


def machine(label: str, t: dict[str, str]) -> str:
    """shared.acceleration.machine_label's description with its core count in `t`'s words."""
    return re.sub(r"\b(\d+) cores\b", lambda m: fill(t["cores"], n=m.group(1)), label)


def metric(name: str, t: dict[str, str]) -> str:
    return t.get(f"metric_{slug(name)}", name)


def message(text: str, t: dict[str, str]) -> str:
    """A message about keeping measurements (cache.load's, the tab's own) in `t`'s language."""
    return _say_again(text, {"unreadable": cache.UNREADABLE, "not_kept": TEXTS["not_kept"]}, "", t) or text


def progress(text: str, t: dict[str, str]) -> str:
    """A measurement's progress message in `t`'s language, technique names included."""
    for key, english in measure.PROGRESS.items():
        values = unfill(english, text)
        if values is not None:
            if "technique" in values:
                values["technique"] = technique(values["technique"], t)
            return fill(t[f"progress_{key}"], **values)
    return text


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def table(m: measure.Measurement, t: dict[str, str] | None = None) -> dict:
    """The measurement as the table shows it: headers and rows in `t`'s language (English without)."""
    t = ENGLISH | (t or {})
    faithful = {True: t["faithful_yes"], False: t["faithful_no"], None: t["faithful_none"]}
    rows = []
    for r in m.rows:
        name, level, status = technique(r.technique, t), t[f"level_{r.level}"], t[f"status_{r.status}"]
        if r.status != "measured":
            rows.append([name, level, status] + ["—"] * 9 + [reason(r.reason, t)])
            continue
        change = "—"
        if r.change is not None:
            change = f"{100 * r.change:+.2f} {metric(r.metric, t)}"
            if r.change_ci:
                change += f" [{100 * r.change_ci[0]:+.2f}, {100 * r.change_ci[1]:+.2f}]"
        rows.append([name, level, status, _fmt(r.median_ms), _fmt(r.p95_ms), _fmt(r.speedup, 2, "×"),
                     _fmt(r.peak_mb, 0), _fmt(r.file_mb, 2), "—" if r.max_rel is None else f"{r.max_rel:.1e}",
                     f"{r.tolerance:g}", faithful[r.faithful], change, note(r.note, t)])
    return {"headers": headers(t), "data": rows}


def headers(t: dict[str, str] | None = None) -> list[str]:
    """The table's column names in `t`'s language."""
    return [(t or ENGLISH).get(f"column_{slug(c)}", c) for c in COLUMNS]


def summary(m: measure.Measurement, kept: bool, message_text: str = "",
            t: dict[str, str] | None = None) -> str:
    """What the measurement is and what it found, in `t`'s language (English without)."""
    t = ENGLISH | (t or {})
    lines = [fill(t["measured_kept" if kept else "measured"], model=m.model, w=m.size[0], h=m.size[1],
                  weights=t[f"weights_{m.weights}"], date=m.date.replace("T", " "),
                  machine=machine(m.machine, t), device=m.device, threads=m.threads, repeats=m.repeats,
                  warmup=measure.WARMUP, seconds=f"{m.seconds:.0f}")]
    top = measure.best(m)
    if top is not None:
        within = fill(t["within"], change=f"{100 * top.change:+.2f}", metric=metric(top.metric, t)) \
            if top.change is not None else ""
        lines.append(fill(t["fastest"], technique=technique(top.technique, t), speedup=f"{top.speedup:.2f}",
                          ms=f"{top.median_ms:.1f}", base=f"{m.rows[0].median_ms:.1f}", within=within))
    else:
        lines.append(t["none_faster"])
    if m.quality_subset:  # as kept in English; in another language, the words for the model's tab
        subset = t.get(f"subset_{get_spec(m.model).demo}", m.quality_subset)
        english = subset in subjects.SUBSETS.values()
        lines.append(fill(t["accuracy"], subset=m.quality_subset if english else subset))
    said = {key: t[f"said_{key}"] for key in serving.SAID if f"said_{key}" in t} | {
        "refused": t["refused"], "tried": t["tried"], "tried_join": t["join"]}
    lines.append(fill(t["served"], how=serving.describe(m.model, get_spec(m.model).tier, said)))
    if message_text:
        lines.append(message(message_text, t))
    return "\n\n".join(lines)
