"""Plotly figures for the anatomy of the loss (no Gradio here)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from demos.detection.inference import ANATOMY_GAMMAS, Anatomy

BINS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0]
_LAYOUT = dict(template="none", font=dict(family="Helvetica, Arial, sans-serif", size=13),
               margin=dict(l=60, r=20, t=50, b=55), height=420,
               legend=dict(x=0.98, y=0.97, xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.8)"))


def focal_curve_figure(gamma: float) -> go.Figure:
    """The paper's Figure 1: loss against p_t for several gamma, plus the chosen one."""
    p = np.linspace(0.005, 1.0, 300)
    fig = go.Figure()
    for g in ANATOMY_GAMMAS:
        loss = -((1 - p) ** g) * np.log(p)
        label = "γ = 0 (cross-entropy)" if g == 0 else f"γ = {g:g}"
        fig.add_trace(go.Scatter(x=p, y=loss, mode="lines", name=label, line=dict(width=1.5)))
    fig.add_trace(go.Scatter(x=p, y=-((1 - p) ** gamma) * np.log(p), mode="lines",
                             name=f"your γ = {gamma:g}", line=dict(width=4, color="black", dash="dot")))
    fig.add_vrect(x0=0.6, x1=1.0, fillcolor="lightgreen", opacity=0.15, line_width=0,
                  annotation_text="well-classified examples", annotation_position="bottom left")
    fig.update_layout(title=dict(text="FL(p_t) = −(1 − p_t)^γ · log(p_t)", x=0.5), **_LAYOUT)
    fig.update_xaxes(title="probability of the ground-truth class, p_t", range=[0, 1])
    fig.update_yaxes(title="loss", range=[0, 5])
    return fig


def loss_mass_figure(an: Anatomy, gamma: float) -> go.Figure:
    """Share of the image's total classification loss held by anchors in each p_t bin."""
    focal = an.focal[gamma]  # computed by `inference.anatomy(..., gammas=(gamma, ...))`
    edges = torch.tensor(BINS)
    which = torch.bucketize(an.p_t.clamp(max=1 - 1e-9), edges[1:-1], right=True)  # (A,) bin index
    labels = [f"{lo:g}–{hi:g}" for lo, hi in zip(BINS[:-1], BINS[1:], strict=True)]
    counts = torch.bincount(which, minlength=len(labels)).tolist()

    def shares(values: torch.Tensor) -> list[float]:
        total = values.sum().clamp_min(1e-12)
        return (torch.zeros(len(labels)).index_add_(0, which, values) / total * 100).tolist()

    fig = go.Figure([
        go.Bar(x=labels, y=shares(an.ce), name="cross-entropy", marker_color="#d55e00"),
        go.Bar(x=labels, y=shares(focal), name=f"focal loss, γ = {gamma:g}", marker_color="#0072b2",
               text=[f"{c} anchors" for c in counts], textposition="outside", textfont=dict(size=10)),
    ])
    fig.update_layout(barmode="group",
                      title=dict(text="Where the loss comes from: share of the total per p_t bin", x=0.5),
                      **_LAYOUT)
    fig.update_xaxes(title="p_t of the anchor (right: easy, mostly background)")
    fig.update_yaxes(title="% of the image's total loss", range=[0, 105])
    return fig
