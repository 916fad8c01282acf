"""The measurement as a picture: speed-up against the change in accuracy, one point per technique.

Model code only (no Gradio): plotly figures. Bundled models put their own metric's change
on the y axis (with the bootstrap interval for detectors); pretrained models with random
weights have no accuracy to show, so their y axis is the largest output difference from
fp32 eager, on a log scale, with each technique's tolerance drawn beside it.
"""

from __future__ import annotations

import plotly.graph_objects as go

from shared.templates import fill

from . import texts
from .measure import Measurement

LEVEL_COLOURS = {"baseline": "#555555", "system": "#3f51b5", "hardware": "#ff9800", "computation": "#009688"}


def speedup_figure(m: Measurement, t: dict[str, str] | None = None) -> go.Figure:
    """The figure with its labels in `t`'s language (texts.texts_in; English without)."""
    t = texts.ENGLISH | (t or {})
    rows = [r for r in m.rows if r.status == "measured" and r.speedup is not None]
    by_metric = m.weights == "bundled" and all(r.change is not None for r in rows)
    fig = go.Figure()
    hover = "%{text}<br>" + fill(t["plot_faster"], speedup="%{x:.2f}") + "<br>%{y:.3g}<extra></extra>"
    for level, colour in LEVEL_COLOURS.items():
        chosen = [r for r in rows if r.level == level]
        if not chosen:
            continue
        if by_metric:
            y = [100 * r.change for r in chosen]  # points of the metric (AP x 100)
            error = [[100 * (r.change - r.change_ci[0]) if r.change_ci else 0 for r in chosen],
                     [100 * (r.change_ci[1] - r.change) if r.change_ci else 0 for r in chosen]]
            error_y = dict(type="data", symmetric=False, array=error[1], arrayminus=error[0], thickness=1)
        else:
            y = [max(r.max_rel or 0.0, 1e-7) for r in chosen]  # 0 cannot sit on a log axis
            error_y = None
        fig.add_trace(go.Scatter(
            x=[r.speedup for r in chosen], y=y, mode="markers+text", name=t[f"level_{level}"],
            error_y=error_y,
            # Labels alternate above and below, so neighbouring points do not write over each other.
            text=[texts.technique(r.technique, t) for r in chosen],
            textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(len(chosen))],
            marker=dict(size=11, color=colour, symbol=["circle" if r.faithful else "x" for r in chosen]),
            hovertemplate=hover))
    metric = next((texts.metric(r.metric, t) for r in rows if r.metric), t["plot_metric"])
    fig.add_vline(x=1.0, line_dash="dot", line_color="#999")
    if by_metric:
        fig.add_hline(y=-0.5, line_dash="dash", line_color="#c62828",
                      annotation_text=t["plot_lost"], annotation_position="bottom right")
        y_title = fill(t["plot_metric_axis"], metric=metric)
    else:
        fig.update_yaxes(type="log")
        y_title = t["plot_diff_axis"]
    title = fill(t["title"], model=m.model, w=m.size[0], h=m.size[1], weights=t[f"plot_{m.weights}"],
                 date=m.date[:10])
    fig.update_layout(title=title, xaxis_title=t["plot_x_axis"], yaxis_title=y_title, height=440,
                      margin=dict(l=60, r=20, t=60, b=50), legend_title_text=t["plot_legend"])
    return fig
