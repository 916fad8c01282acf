"""Accuracy against the number of people: the other half of "when does each method win".

The numbers are the goals CLI's by-crowd breakdown (`python -m demos.pose.goals --json
demos/pose/results/goals.json`), measured on the styled val scenes with 1-6 people; the
figure and its sentence are both made from that file, so they cannot disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from shared.templates import fill

RESULTS = Path(__file__).resolve().parent / "results"
# The latest measurement of the bundled models; the baseline (the models before retraining) if none.
MEASURED = [RESULTS / "goals.json", RESULTS / "baseline.json"]
COLOURS = {"tiny-topdown-pose": "#d62728", "tiny-bottomup-pose": "#1f77b4"}  # as in the time plot


def load_measured() -> tuple[dict[str, Any], Path] | None:
    """The newest goals record and its path, or None when none has been written."""
    for path in MEASURED:
        if path.is_file():
            return json.loads(path.read_text()), path
    return None


def crowd_table(record: dict[str, Any]) -> dict[str, dict[int, dict[str, float]]]:
    """model -> people in the scene -> {"AP", "count_right", "mean_count_error", "scenes"}."""
    return {name: {int(k): v for k, v in model["by_crowd"].items()}
            for name, model in record["models"].items() if "by_crowd" in model}


# The figure's labels and the sentence's pieces, in English; the tab registers each for
# translation (key "pose.accuracy.<name>") and passes them back in the page's language. Values
# go in at [name]: the browser reads every text as an ICU message, where braces are syntax.
TEXTS = {
    "ap": "keypoint AP (OKS)",
    "count": "scenes with the right number of people",
    "people": "people in the scene",
    "hover": "[x] people: [y] ([scenes] scenes)",
    "one": "1 person",
    "many": "[n] people",
    "model": "`[name]`: AP [ap_few] with [few], [ap_many] with [many]; people counted right in [right_few] "
             "and [right_many] of those scenes",
    "leader": "with [crowd] `[leader]` has the higher AP",
    "join": "; ",
    "and": ", and ",
    "end": ".",
}


def accuracy_figure(record: dict[str, Any], texts: dict[str, str] | None = None) -> go.Figure:
    """Two panels over the crowd size: keypoint AP, and the share of scenes counted right."""
    t = TEXTS | (texts or {})
    fig = make_subplots(rows=1, cols=2, subplot_titles=(t["ap"], t["count"]), horizontal_spacing=0.12)
    hover = fill(t["hover"], x="%{x}", y="%{y:.2f}", scenes="%{customdata}")
    for name, by_crowd in crowd_table(record).items():
        people = sorted(by_crowd)
        colour = COLOURS.get(name)
        for col, key in ((1, "AP"), (2, "count_right")):
            fig.add_trace(go.Scatter(
                x=people, y=[by_crowd[n][key] for n in people], mode="lines+markers", name=name,
                legendgroup=name, showlegend=col == 1, line={"color": colour},
                customdata=[by_crowd[n]["scenes"] for n in people],
                hovertemplate=hover + "<extra>" + name + "</extra>"),
                row=1, col=col)
    fig.update_xaxes(title_text=t["people"], dtick=1)
    fig.update_yaxes(range=[0, 1])
    fig.update_layout(height=360, margin={"l": 50, "r": 20, "t": 40, "b": 90},
                      legend={"orientation": "h", "y": -0.3, "x": 0})
    return fig


def accuracy_sentence(record: dict[str, Any], texts: dict[str, str] | None = None) -> str:
    """What the figure shows, in numbers: each method's AP and counting at the smallest and the
    largest crowd, and which method is ahead at each."""
    t = TEXTS | (texts or {})
    table = crowd_table(record)
    if not table:
        return ""

    def crowd(n: int) -> str:
        return t["one"] if n == 1 else fill(t["many"], n=n)

    parts = []
    for name, by_crowd in table.items():
        lo, hi = min(by_crowd), max(by_crowd)
        few, many = by_crowd[lo], by_crowd[hi]
        parts.append(fill(
            t["model"], name=name, ap_few=f"{few['AP']:.2f}", few=crowd(lo), ap_many=f"{many['AP']:.2f}",
            many=crowd(hi), right_few=f"{few['count_right']:.0%}", right_many=f"{many['count_right']:.0%}"))
    sizes = sorted(set.intersection(*(set(b) for b in table.values())))
    ahead = []
    if len(table) == 2 and sizes:
        (a, ta), (b, tb) = table.items()
        for n in (sizes[0], sizes[-1]):
            leader = a if ta[n]["AP"] >= tb[n]["AP"] else b
            ahead.append(fill(t["leader"], crowd=crowd(n), leader=leader))
    said = t["and"].join(ahead)
    sentence = t["join"].join(parts) + t["end"]
    return sentence + (f" {said[:1].upper()}{said[1:]}{t['end']}" if said else "")
