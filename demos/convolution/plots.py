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

from shared.templates import fill

from .compress import SharedLayer
from .implementations import METHODS, ConvShape
from .sweep import SWEEP_CHANNELS, SWEEP_KERNELS, Sweep

_FONT = dict(family="Helvetica, Arial, sans-serif", size=12)
COLOURS = dict(zip(METHODS, ("#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#111111"), strict=True))
MAX_COLUMNS = 400  # columns of the im2col matrix drawn; the rest are summarised in the title
HIGHLIGHT = "#ff7f0e"

# The figures' words in English; the tab registers each as "convolution.plot.<key>" and passes them
# back in the page's language. Values go in at [name] (shared.templates.fill).
TEXTS = {
    "input_title": "input ch. 0, [h]×[w]",
    "columns_title": "columns [rows] × [cols][cut]",
    "columns_cut": " (columns [first]–[last])",
    "kernel_title": "kernel rows [rows] × [cols]",
    "output_title": "output ch. 0, [h]×[w]",
    "position_axis": "output position (column)",
    "patch_axis": "C_in/G · k · k",
    "channel_axis": "output channel",
    "im2col_title": "im2col: output ([i], [j]) = kernel row 0 · column [col]; the whole output is one "
                    "[product] product per group",
    "time_k": "time vs kernel size (16→16 channels)",
    "rate_k": "GFLOP/s vs kernel size",
    "memory_k": "extra memory vs kernel size",
    "time_c": "time vs channels (3×3)",
    "rate_c": "GFLOP/s vs channels",
    "memory_c": "extra memory vs channels",
    "roofline": "matmul roofline ([rate] GFLOP/s)",
    "ms_axis": "ms (log)",
    "rate_axis": "GFLOP/s (direct-count FLOPs, log)",
    "mb_axis": "MB (log)",
    "k_axis": "kernel size k",
    "channels_axis": "channels in = out",
    "sweep_title": "Measured on [device] (median of a few calls each; the sweep took [seconds] s)",
    "direct": "direct (NumPy loops)",
    "kept_weights": "kept weights (before sharing)",
    "centroids": "[k] centroids",
    "pruned": ", [n] pruned to 0",
    "hist_title": "[name]: [n] weights[pruned], shared by [k] centroids",
    "no_layers": "no layers",
    "weight_axis": "weight value",
    "count_axis": "weights per bin",
    "change_k": "[metric] change vs k",
    "change_ratio": "[metric] change vs file size ratio",
    "sparsity": "sparsity [sparsity]",
    "tuned": ", tuned [steps] steps",
    "retrained": ", kept weights retrained [steps] steps first",
    "this_run": "this run",
    "k_log_axis": "clusters per layer, k (log)",
    "ratio_axis": "fp32 file / compressed file (log)",
    "change_axis": "[metric]: compressed − original",
    "frontier_title": "Measured frontier ([metric]; points from python -m demos.convolution.frontier)",
}


def _texts(t: dict[str, str] | None) -> dict[str, str]:
    return TEXTS | (t or {})


def _method(name: str, t: dict[str, str]) -> str:
    """A method's name in the legend: the direct loops' in the page's language."""
    return t["direct"] if name == "direct (NumPy loops)" else name


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
                  position: tuple[int, int], t: dict[str, str] | None = None) -> go.Figure:
    """Input with one patch outlined → that patch as a column → kernel rows → the output pixel.

    x (1, C_in, H, W), cols (C_in/G·k·k, L) of group 0, rows (C_out/G, C_in/G·k·k) of group 0,
    out (1, C_out, OH, OW). `position` is the output pixel (i, j) followed through.
    """
    t = _texts(t)
    oh, ow = s.out_hw
    i, j = position
    col = i * ow + j  # unfold numbers columns row-major over output positions
    shown = min(cols.shape[1], MAX_COLUMNS)
    start = max(0, min(col - shown // 2, cols.shape[1] - shown))  # keep the chosen column in view
    cut = "" if shown == cols.shape[1] else fill(t["columns_cut"], first=start, last=start + shown - 1)
    fig = make_subplots(rows=1, cols=4, column_widths=[0.22, 0.38, 0.2, 0.2], horizontal_spacing=0.06,
                        subplot_titles=(fill(t["input_title"], h=s.h, w=s.w),
                                        fill(t["columns_title"], rows=cols.shape[0], cols=cols.shape[1],
                                             cut=cut),
                                        fill(t["kernel_title"], rows=rows.shape[0], cols=rows.shape[1]),
                                        fill(t["output_title"], h=oh, w=ow)))
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
    fig.update_xaxes(title_text=t["position_axis"], row=1, col=2)
    fig.update_xaxes(title_text=t["patch_axis"], row=1, col=3)
    fig.update_yaxes(title_text=t["patch_axis"], row=1, col=2)
    fig.update_yaxes(title_text=t["channel_axis"], row=1, col=3)
    product = f"({rows.shape[0]} × {rows.shape[1]}) @ ({cols.shape[0]} × {cols.shape[1]})"
    return _finish(fig, fill(t["im2col_title"], i=i, j=j, col=col, product=product), height=380)


def _mb(values: Sequence[int | None]) -> list[float | None]:
    return [None if v is None else v / 2**20 for v in values]


def sweep_figure(sw: Sweep, t: dict[str, str] | None = None) -> go.Figure:
    """Time, GFLOP/s (with the matmul roofline) and extra memory against kernel size and channels."""
    t = _texts(t)
    fig = make_subplots(rows=2, cols=3, horizontal_spacing=0.08, vertical_spacing=0.2,
                        subplot_titles=tuple(t[key] for key in ("time_k", "rate_k", "memory_k", "time_c",
                                                                "rate_c", "memory_c")))
    series = ((1, SWEEP_KERNELS, sw.kernels, sw.kernel_flops, sw.kernel_memory),
              (2, SWEEP_CHANNELS, sw.channels, sw.channel_flops, sw.channel_memory))
    for row, xs, times, flops, memory in series:
        for method in METHODS:
            style = dict(mode="lines+markers", name=_method(method, t), legendgroup=method,
                         showlegend=row == 1, line=dict(color=COLOURS[method]), connectgaps=False)
            ms = [None if sec is None else sec * 1000 for sec in times[method]]
            rate = [None if sec is None else f / sec / 1e9
                    for sec, f in zip(times[method], flops, strict=True)]
            fig.add_trace(go.Scatter(x=list(xs), y=ms, **style), row, 1)
            fig.add_trace(go.Scatter(x=list(xs), y=rate, **style), row, 2)
            fig.add_trace(go.Scatter(x=list(xs), y=_mb(memory[method]), **style), row, 3)
        roof = fill(t["roofline"], rate=f"{sw.matmul_gflops:.0f}")
        fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[sw.matmul_gflops] * 2, mode="lines", name=roof,
                                 line=dict(color="black", dash="dash"), showlegend=row == 1,
                                 legendgroup="roof"),
                      row, 2)
        for col, title in ((1, t["ms_axis"]), (2, t["rate_axis"]), (3, t["mb_axis"])):
            fig.update_yaxes(type="log", title_text=title, row=row, col=col)
        fig.update_xaxes(title_text=t["k_axis"] if row == 1 else t["channels_axis"], row=row, col=2)
    fig.update_xaxes(type="log", row=2)
    return _finish(fig, fill(t["sweep_title"], device=sw.device, seconds=f"{sw.seconds:.1f}"), height=720,
                   bottom=120)


def histogram_figure(layers: Sequence[SharedLayer], bins: int = 120,
                     t: dict[str, str] | None = None) -> go.Figure:
    """Each layer's original weights, binned, with its final centroids on top; a menu picks the layer."""
    t = _texts(t)
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
                             name=t["kept_weights"], visible=visible))
        top = float(counts.max())
        xs = np.repeat(layer.codebook.numpy(), 3).astype(float)  # one vertical line per centroid
        ys = np.tile([0.0, top, np.nan], layer.k)
        xs[2::3] = np.nan
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=HIGHLIGHT, width=1.5),
                                 name=fill(t["centroids"], k=layer.k), visible=visible))
        pruned = "" if layer.mask is None else fill(t["pruned"], n=f"{layer.numel - layer.kept:,}")
        mask = [False] * (2 * len(layers))
        mask[2 * n] = mask[2 * n + 1] = True
        buttons.append(dict(label=layer.name.removesuffix(".weight"), method="update",
                            args=[{"visible": mask}, {"title.text": _hist_title(layer, pruned, t)}]))
    first = layers[biggest] if layers else None
    title = _hist_title(first, "" if first is None or first.mask is None else
                        fill(t["pruned"], n=f"{first.numel - first.kept:,}"), t) if first else t["no_layers"]
    fig.update_layout(updatemenus=[dict(buttons=buttons, x=1, xanchor="right", y=1.02, yanchor="bottom",
                                        showactive=True, active=biggest)], bargap=0)
    fig.update_xaxes(title_text=t["weight_axis"])
    fig.update_yaxes(title_text=t["count_axis"])
    return _finish(fig, title, height=440, bottom=90)


def _hist_title(layer: SharedLayer, pruned: str, t: dict[str, str] | None = None) -> str:
    name = layer.name.removesuffix(".weight")
    return fill(_texts(t)["hist_title"], name=name, n=f"{layer.numel:,}", pruned=pruned, k=layer.k)


def frontier_figure(points: list[dict], metric: str, current: dict | None = None,
                    t: dict[str, str] | None = None) -> go.Figure:
    """Quality change against k (one line per sparsity) and against the measured file ratio."""
    t = _texts(t)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(fill(t["change_k"], metric=metric),
                                        fill(t["change_ratio"], metric=metric)))
    sparsities = sorted({p["sparsity"] for p in points})
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
    for n, sparsity in enumerate(sparsities):
        colour = palette[n % len(palette)]
        # Three kinds of point: shared only, centroids fine-tuned, and the kept weights retrained
        # after pruning before that (the retraining ablation).
        for tuned, retrained in ((False, False), (True, False), (True, True)):
            chosen = sorted((p for p in points if p["sparsity"] == sparsity
                             and bool(p["fine_tune_steps"]) == tuned
                             and bool(p.get("retrain_steps", 0)) == retrained), key=lambda p: p["k"])
            if not chosen:
                continue
            tuned_text = fill(t["tuned"], steps=chosen[0]["fine_tune_steps"]) if tuned else ""
            if retrained:
                tuned_text += fill(t["retrained"], steps=chosen[0]["retrain_steps"])
            label = fill(t["sparsity"], sparsity=f"{sparsity:g}") + tuned_text
            symbol = "square" if retrained else "diamond" if tuned else "circle"
            style = dict(name=label, legendgroup=label, marker=dict(color=colour, size=9, symbol=symbol))
            fig.add_trace(go.Scatter(x=[p["k"] for p in chosen], y=[p["change"] for p in chosen],
                                     mode="lines+markers" if not tuned else "markers",
                                     line=dict(color=colour, dash="solid"), **style), 1, 1)
            fig.add_trace(go.Scatter(x=[p["ratio"] for p in chosen], y=[p["change"] for p in chosen],
                                     mode="markers", showlegend=False, text=[f"k={p['k']}" for p in chosen],
                                     **style), 1, 2)
    if current is not None:
        star = dict(mode="markers", marker=dict(symbol="star", size=16, color="black"), name=t["this_run"])
        fig.add_trace(go.Scatter(x=[current["k"]], y=[current["change"]], **star), 1, 1)
        fig.add_trace(go.Scatter(x=[current["ratio"]], y=[current["change"]], showlegend=False, **star), 1, 2)
    fig.update_xaxes(type="log", title_text=t["k_log_axis"], row=1, col=1)
    fig.update_xaxes(type="log", title_text=t["ratio_axis"], row=1, col=2)
    fig.update_yaxes(title_text=fill(t["change_axis"], metric=metric), row=1, col=1)
    return _finish(fig, fill(t["frontier_title"], metric=metric), height=540, bottom=150)
