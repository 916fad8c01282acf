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


def accuracy_figure(record: dict[str, Any], labels: dict[str, str] | None = None) -> go.Figure:
    """Two panels over the crowd size: keypoint AP, and the share of scenes counted right."""
    labels = {"ap": "keypoint AP (OKS)", "count": "scenes with the right number of people",
              "people": "people in the scene", **(labels or {})}
    fig = make_subplots(rows=1, cols=2, subplot_titles=(labels["ap"], labels["count"]),
                        horizontal_spacing=0.12)
    for name, by_crowd in crowd_table(record).items():
        people = sorted(by_crowd)
        colour = COLOURS.get(name)
        for col, key in ((1, "AP"), (2, "count_right")):
            fig.add_trace(go.Scatter(
                x=people, y=[by_crowd[n][key] for n in people], mode="lines+markers", name=name,
                legendgroup=name, showlegend=col == 1, line={"color": colour},
                customdata=[by_crowd[n]["scenes"] for n in people],
                hovertemplate="%{x} people: %{y:.2f} (%{customdata} scenes)<extra>" + name + "</extra>"),
                row=1, col=col)
    fig.update_xaxes(title_text=labels["people"], dtick=1)
    fig.update_yaxes(range=[0, 1])
    fig.update_layout(height=360, margin={"l": 50, "r": 20, "t": 40, "b": 90},
                      legend={"orientation": "h", "y": -0.3, "x": 0})
    return fig


def accuracy_sentence(record: dict[str, Any]) -> str:
    """What the figure shows, in numbers: each method's AP and counting at the smallest and the
    largest crowd, and which method is ahead at each."""
    table = crowd_table(record)
    if not table:
        return ""
    parts = []
    for name, by_crowd in table.items():
        lo, hi = min(by_crowd), max(by_crowd)
        few, many = by_crowd[lo], by_crowd[hi]
        parts.append(f"`{name}`: AP {few['AP']:.2f} with {lo} {'person' if lo == 1 else 'people'}, "
                     f"{many['AP']:.2f} with {hi}; people counted right in "
                     f"{few['count_right']:.0%} and {many['count_right']:.0%} of those scenes")
    sizes = sorted(set.intersection(*(set(b) for b in table.values())))
    ahead = []
    if len(table) == 2 and sizes:
        (a, ta), (b, tb) = table.items()
        for n in (sizes[0], sizes[-1]):
            leader = a if ta[n]["AP"] >= tb[n]["AP"] else b
            ahead.append(f"with {n} {'person' if n == 1 else 'people'} `{leader}` has the higher AP")
    said = ", and ".join(ahead)
    return "; ".join(parts) + (f". {said[:1].upper()}{said[1:]}." if said else ".")
