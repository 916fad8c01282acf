"""Plotly figures for the convolution tab (no Gradio here).

Figures travel to the browser as JSON, so large arrays are summarised first: weight
histograms are binned here (not sent as half a million values), and matrices larger than
the screen can show are cut to their first rows and columns, with the cut said in the title.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from .compress import SharedLayer
from .implementations import METHODS, ConvShape
from .sweep import SWEEP_CHANNELS, SWEEP_KERNELS, Sweep

_FONT = dict(family="Helvetica, Arial, sans-serif", size=12)
COLOURS = dict(zip(METHODS, ("#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#111111"), strict=True))
MAX_COLUMNS = 400  # columns of the im2col matrix drawn; the rest are summarised in the title
HIGHLIGHT = "#ff7f0e"


def _finish(fig: go.Figure, title: str, height: int, bottom: int = 48, **layout: Any) -> go.Figure:
    """Shared look: the title under plotly's toolbar, from the left; the legend in rows below
    the plot, clear of the axis titles (`bottom` px of margin hold both)."""
    fig.update_layout(template="none", font=_FONT, height=height, margin=dict(l=56, r=16, t=84, b=bottom),
                      title=dict(text=title, x=0, xanchor="left", y=1, yref="container", yanchor="top",
                                 pad=dict(t=32), font=dict(size=14)),
                      legend=dict(orientation="h", x=0, xanchor="left", y=0, yref="container",
                                  yanchor="bottom"), **layout)
    return fig


def _box(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, row: int, col: int) -> None:
    fig.add_shape(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color=HIGHLIGHT, width=3), row=row,
                  col=col)


def im2col_figure(x: torch.Tensor, cols: torch.Tensor, rows: torch.Tensor, out: torch.Tensor, s: ConvShape,
                  position: tuple[int, int]) -> go.Figure:
    """Input with one patch outlined → that patch as a column → kernel rows → the output pixel.

    x (1, C_in, H, W), cols (C_in/G·k·k, L) of group 0, rows (C_out/G, C_in/G·k·k) of group 0,
    out (1, C_out, OH, OW). `position` is the output pixel (i, j) followed through.
    """
    oh, ow = s.out_hw
    i, j = position
    col = i * ow + j  # unfold numbers columns row-major over output positions
    shown = min(cols.shape[1], MAX_COLUMNS)
    start = max(0, min(col - shown // 2, cols.shape[1] - shown))  # keep the chosen column in view
    cut = "" if shown == cols.shape[1] else f" (columns {start}–{start + shown - 1})"
    fig = make_subplots(rows=1, cols=4, column_widths=[0.22, 0.38, 0.2, 0.2], horizontal_spacing=0.06,
                        subplot_titles=(f"input ch. 0, {s.h}×{s.w}",
                                        f"columns {cols.shape[0]} × {cols.shape[1]}{cut}",
                                        f"kernel rows {rows.shape[0]} × {rows.shape[1]}",
                                        f"output ch. 0, {oh}×{ow}"))
    pad = s.padding
    padded = torch.nn.functional.pad(x[0, 0], (pad,) * 4)  # (H + 2p, W + 2p)
    heat = dict(colorscale="RdBu", showscale=False, reversescale=True)
    fig.add_trace(go.Heatmap(z=padded.numpy(), x0=-pad, y0=-pad, **heat), 1, 1)
    top, left = i * s.stride - pad, j * s.stride - pad
    _box(fig, left - 0.5, top - 0.5, left + s.span - 0.5, top + s.span - 0.5, 1, 1)
    fig.add_trace(go.Heatmap(z=cols[:, start:start + shown].numpy(), x0=start, **heat), 1, 2)
    _box(fig, col - 0.5, -0.5, col + 0.5, cols.shape[0] - 0.5, 1, 2)
    fig.add_trace(go.Heatmap(z=rows.numpy(), **heat), 1, 3)
    _box(fig, -0.5, -0.5, rows.shape[1] - 0.5, 0.5, 1, 3)
    fig.add_trace(go.Heatmap(z=out[0, 0].numpy(), **heat), 1, 4)
    _box(fig, j - 0.5, i - 0.5, j + 0.5, i + 0.5, 1, 4)
    for c in (1, 2, 3, 4):
        fig.update_yaxes(autorange="reversed", row=1, col=c)
    fig.update_xaxes(title_text="output position (column)", row=1, col=2)
    fig.update_xaxes(title_text="C_in/G · k · k", row=1, col=3)
    fig.update_yaxes(title_text="C_in/G · k · k", row=1, col=2)
    fig.update_yaxes(title_text="output channel", row=1, col=3)
    product = f"({rows.shape[0]} × {rows.shape[1]}) @ ({cols.shape[0]} × {cols.shape[1]})"
    return _finish(fig, f"im2col: output ({i}, {j}) = kernel row 0 · column {col}; the whole output is one "
                   f"{product} product per group", height=380)


def _mb(values: Sequence[int | None]) -> list[float | None]:
    return [None if v is None else v / 2**20 for v in values]


def sweep_figure(sw: Sweep) -> go.Figure:
    """Time, GFLOP/s (with the matmul roofline) and extra memory against kernel size and channels."""
    fig = make_subplots(rows=2, cols=3, horizontal_spacing=0.08, vertical_spacing=0.2,
                        subplot_titles=("time vs kernel size (16→16 channels)", "GFLOP/s vs kernel size",
                                        "extra memory vs kernel size", "time vs channels (3×3)",
                                        "GFLOP/s vs channels", "extra memory vs channels"))
    series = ((1, SWEEP_KERNELS, sw.kernels, sw.kernel_flops, sw.kernel_memory),
              (2, SWEEP_CHANNELS, sw.channels, sw.channel_flops, sw.channel_memory))
    for row, xs, times, flops, memory in series:
        for method in METHODS:
            style = dict(mode="lines+markers", name=method, legendgroup=method, showlegend=row == 1,
                         line=dict(color=COLOURS[method]), connectgaps=False)
            ms = [None if t is None else t * 1000 for t in times[method]]
            rate = [None if t is None else f / t / 1e9 for t, f in zip(times[method], flops, strict=True)]
            fig.add_trace(go.Scatter(x=list(xs), y=ms, **style), row, 1)
            fig.add_trace(go.Scatter(x=list(xs), y=rate, **style), row, 2)
            fig.add_trace(go.Scatter(x=list(xs), y=_mb(memory[method]), **style), row, 3)
        roof = f"matmul roofline ({sw.matmul_gflops:.0f} GFLOP/s)"
        fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[sw.matmul_gflops] * 2, mode="lines", name=roof,
                                 line=dict(color="black", dash="dash"), showlegend=row == 1,
                                 legendgroup="roof"),
                      row, 2)
        for col, title in ((1, "ms (log)"), (2, "GFLOP/s (direct-count FLOPs, log)"), (3, "MB (log)")):
            fig.update_yaxes(type="log", title_text=title, row=row, col=col)
        fig.update_xaxes(title_text="kernel size k" if row == 1 else "channels in = out", row=row, col=2)
    fig.update_xaxes(type="log", row=2)
    return _finish(fig, f"Measured on {sw.device} (median of a few calls each; the sweep took "
                   f"{sw.seconds:.1f} s)", height=720, bottom=120)


def histogram_figure(layers: Sequence[SharedLayer], bins: int = 120) -> go.Figure:
    """Each layer's original weights, binned, with its final centroids on top; a menu picks the layer."""
    fig = go.Figure()
    buttons = []
    biggest = max(range(len(layers)), key=lambda n: layers[n].numel) if layers else 0  # shown first
    for n, layer in enumerate(layers):
        values = layer.original.reshape(-1).numpy()
        kept = values if layer.mask is None else values[layer.mask.numpy()]
        counts, edges = np.histogram(kept, bins=bins)
        centres = (edges[:-1] + edges[1:]) / 2
        visible = n == biggest
        fig.add_trace(go.Bar(x=centres, y=counts, width=edges[1] - edges[0], marker_color="#9ecae1",
                             name="kept weights (before sharing)", visible=visible))
        top = float(counts.max())
        xs = np.repeat(layer.codebook.numpy(), 3).astype(float)  # one vertical line per centroid
        ys = np.tile([0.0, top, np.nan], layer.k)
        xs[2::3] = np.nan
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=HIGHLIGHT, width=1.5),
                                 name=f"{layer.k} centroids", visible=visible))
        pruned = "" if layer.mask is None else f", {layer.numel - layer.kept:,} pruned to 0"
        mask = [False] * (2 * len(layers))
        mask[2 * n] = mask[2 * n + 1] = True
        buttons.append(dict(label=layer.name.removesuffix(".weight"), method="update",
                            args=[{"visible": mask}, {"title.text": _hist_title(layer, pruned)}]))
    first = layers[biggest] if layers else None
    title = _hist_title(first, "" if first is None or first.mask is None else
                        f", {first.numel - first.kept:,} pruned to 0") if first else "no layers"
    fig.update_layout(updatemenus=[dict(buttons=buttons, x=1, xanchor="right", y=1.02, yanchor="bottom",
                                        showactive=True, active=biggest)], bargap=0)
    fig.update_xaxes(title_text="weight value")
    fig.update_yaxes(title_text="weights per bin")
    return _finish(fig, title, height=440, bottom=90)


def _hist_title(layer: SharedLayer, pruned: str) -> str:
    name = layer.name.removesuffix(".weight")
    return f"{name}: {layer.numel:,} weights{pruned}, shared by {layer.k} centroids"


def frontier_figure(points: list[dict], metric: str, current: dict | None = None) -> go.Figure:
    """Quality change against k (one line per sparsity) and against the measured file ratio."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(f"{metric} change vs k", f"{metric} change vs file size ratio"))
    sparsities = sorted({p["sparsity"] for p in points})
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
    for n, sparsity in enumerate(sparsities):
        colour = palette[n % len(palette)]
        for tuned in (False, True):
            chosen = sorted((p for p in points
                             if p["sparsity"] == sparsity and bool(p["fine_tune_steps"]) == tuned),
                            key=lambda p: p["k"])
            if not chosen:
                continue
            tuned_text = f", tuned {chosen[0]['fine_tune_steps']} steps" if tuned else ""
            label = f"sparsity {sparsity:g}{tuned_text}"
            style = dict(name=label, legendgroup=label, marker=dict(color=colour, size=9,
                                                                     symbol="diamond" if tuned else "circle"))
            fig.add_trace(go.Scatter(x=[p["k"] for p in chosen], y=[p["change"] for p in chosen],
                                     mode="lines+markers" if not tuned else "markers",
                                     line=dict(color=colour, dash="solid"), **style), 1, 1)
            fig.add_trace(go.Scatter(x=[p["ratio"] for p in chosen], y=[p["change"] for p in chosen],
                                     mode="markers", showlegend=False, text=[f"k={p['k']}" for p in chosen],
                                     **style), 1, 2)
    if current is not None:
        star = dict(mode="markers", marker=dict(symbol="star", size=16, color="black"), name="this run")
        fig.add_trace(go.Scatter(x=[current["k"]], y=[current["change"]], **star), 1, 1)
        fig.add_trace(go.Scatter(x=[current["ratio"]], y=[current["change"]], showlegend=False, **star), 1, 2)
    fig.update_xaxes(type="log", title_text="clusters per layer, k (log)", row=1, col=1)
    fig.update_xaxes(type="log", title_text="fp32 file / compressed file (log)", row=1, col=2)
    fig.update_yaxes(title_text=f"{metric}: compressed − original", row=1, col=1)
    return _finish(fig, f"Measured frontier ({metric}; points from python -m demos.convolution.frontier)",
                   height=540, bottom=150)
