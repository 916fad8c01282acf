"""The measurement as a picture: speed-up against the change in accuracy, one point per technique.

Model code only (no Gradio): plotly figures. Bundled models put their own metric's change
on the y axis (with the bootstrap interval for detectors); pretrained models with random
weights have no accuracy to show, so their y axis is the largest output difference from
fp32 eager, on a log scale, with each technique's tolerance drawn beside it.
"""

from __future__ import annotations

import plotly.graph_objects as go

from .measure import Measurement

LEVEL_COLOURS = {"baseline": "#555555", "system": "#3f51b5", "hardware": "#ff9800", "computation": "#009688"}


def speedup_figure(m: Measurement) -> go.Figure:
    rows = [r for r in m.rows if r.status == "measured" and r.speedup is not None]
    by_metric = m.weights == "bundled" and all(r.change is not None for r in rows)
    fig = go.Figure()
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
            x=[r.speedup for r in chosen], y=y, mode="markers+text", name=level, error_y=error_y,
            # Labels alternate above and below, so neighbouring points do not write over each other.
            text=[r.technique for r in chosen],
            textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(len(chosen))],
            marker=dict(size=11, color=colour, symbol=["circle" if r.faithful else "x" for r in chosen]),
            hovertemplate="%{text}<br>%{x:.2f}× faster<br>%{y:.3g}<extra></extra>"))
    metric = next((r.metric for r in rows if r.metric), "metric")
    fig.add_vline(x=1.0, line_dash="dot", line_color="#999")
    if by_metric:
        fig.add_hline(y=-0.5, line_dash="dash", line_color="#c62828",
                      annotation_text="0.5 points lost", annotation_position="bottom right")
        y_title = f"change in {metric} (points; 95 % paired bootstrap interval for AP)"
    else:
        fig.update_yaxes(type="log")
        y_title = "largest output difference from fp32 (relative to each output's largest value)"
    weights = {"bundled": "bundled weights", "pretrained": "real weights",
               "random": "random weights: speed and faithfulness only"}[m.weights]
    fig.update_layout(
        title=f"{m.model}, {m.size[0]}×{m.size[1]} ({weights}); {m.date[:10]}",
        xaxis_title="speed-up over fp32 eager (median latency, same run)", yaxis_title=y_title,
        height=440, margin=dict(l=60, r=20, t=60, b=50), legend_title_text="level")
    return fig
