"""Plotly figures for the optimizer playground and the batch-size panel.

Figures travel to the browser as JSON on every slider move, so they are kept
small: long paths are thinned to at most 500 points, grids are 80 x 80, large
arrays are float32 (plotly writes those as compact base64), and each step of the
animation moves one marker per optimizer instead of redrawing paths.

Every figure is laid out to survive a phone: the title sits below Plotly's toolbar
and starts at the left, legends go under the plot, the colour bar lies flat above
it, and all text comes from `texts` in the language of the request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from demos.optimizers.batch_modes import BatchModesResult
from demos.optimizers.optimizers import Trajectory
from demos.optimizers.surfaces import Surface, grid
from demos.optimizers.texts import EN, surface_name, text

COLORS: dict[str, str] = {
    "SGD": "#1f77b4", "Momentum": "#ff7f0e", "Nesterov": "#2ca02c",
    "Adagrad": "#d62728", "Adadelta": "#9467bd", "RMSprop": "#8c564b",
    "Adam": "#e377c2", "AdamW": "#bcbd22", "NAdam": "#17becf",
}
BATCH_COLORS = ("#1f77b4", "#d62728", "#2ca02c")  # BGD, SGD, mini-batch
MAX_PATH_POINTS = 500
GRID_N = 80
# The 3-D view is a smaller picture under the contour map: a coarser mesh and thinner paths
# look the same there and halve its share of every response.
GRID_N_3D = 50
PATH_POINTS_3D = 150
LOSS_FLOOR = 1e-12
# The bare "none" template: a named one such as "plotly_white" is copied into
# every figure, adding ~6.5 kB of JSON and ~15 ms of build time each.
_FONT = dict(family="Helvetica, Arial, sans-serif", size=13)
# Plotly's toolbar is about 30 px tall at the top right: titles start below it.
_TOOLBAR_PX = 32
CONTOUR_HEIGHT, STEP_HEIGHT = 700, 560  # px; figures with a flat colour bar under the title


def _finish(fig: go.Figure, title: str, height: int, top: int = 64, bottom: int = 48,
            **layout: Any) -> go.Figure:
    """Shared look: the title under the toolbar, from the left (a title too long for a
    phone is cut at its end only); the legend in rows under the plot."""
    fig.update_layout(
        template="none", font=_FONT, height=height, margin=dict(l=52, r=12, t=top, b=bottom),
        # Placed in pixels from the top (the figure's height is fixed); Plotly's title `pad`
        # is undone by its own shift of a title that sits in the top margin.
        title=dict(text=title, x=0, xref="paper", xanchor="left", y=1 - _TOOLBAR_PX / height,
                   yref="container", yanchor="top", font=dict(size=15)),
        legend=dict(orientation="h", x=0, xanchor="left", y=-0.12, yanchor="top"),
        **layout,
    )
    fig.update_xaxes(zeroline=False, automargin=True)
    fig.update_yaxes(zeroline=False, automargin=True)
    return fig


def _thin(n: int, k: int = MAX_PATH_POINTS) -> np.ndarray:
    """At most ``k`` evenly spaced indices into ``range(n)``, ends included."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _colour_scale(surface: Surface, Z: np.ndarray) -> tuple[np.ndarray, str]:
    # Surfaces like Rosenbrock span five decades; linear colours would show
    # only the walls and hide the valley the optimizers actually travel.
    if surface.log_contour:
        return np.log10(np.maximum(Z - surface.f_min, 0.0) + 1e-4), "log₁₀(f − f*)"
    return Z, "f(x, y)"


def _flat_colour_bar(title: str, height: int) -> dict[str, Any]:
    # Lying flat above the map it takes height, not the width a phone lacks. Placed in
    # pixels from the top, under the title (one placed relative to the plot area makes
    # Plotly lift the title under the toolbar), with its own title below its ticks.
    return dict(orientation="h", x=0, xanchor="left", yref="container", y=1 - (_TOOLBAR_PX + 28) / height,
                yanchor="top", len=1, thickness=8, title=dict(text=title, side="bottom", font=dict(size=12)),
                tickfont=dict(size=11))


def _dash(name: str) -> str:
    # AdamW sits exactly on Adam when weight decay is 0; a dash keeps both visible.
    return "dash" if name == "AdamW" else "solid"


def _label(traj: Trajectory, lang: str) -> str:
    return text("diverged_at", lang, name=traj.name, step=traj.diverged_at) if traj.diverged else traj.name


def _markers(points: Sequence[tuple[float, float]], name: str, symbol: str) -> go.Scatter:
    return go.Scatter(
        x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name=name,
        marker=dict(symbol=symbol, size=14, color="white", line=dict(color="black", width=1.5)),
    )


def _axes(fig: go.Figure, surface: Surface) -> None:
    xmin, xmax, ymin, ymax = surface.domain
    # Equal scaling keeps angles true: a 30-degree valley should look like one.
    # "domain" shrinks the plot area to fit instead of widening the x range; on a phone
    # the map keeps to the top, under its colour bar.
    fig.update_xaxes(range=[xmin, xmax], constrain="domain")
    fig.update_yaxes(range=[ymin, ymax], scaleanchor="x", scaleratio=1, constrain="domain",
                     constraintoward="top")
    # The y labels sit inside the map, with a halo, so on a phone the map is nearly as
    # wide as the screen instead of giving up a margin to them.
    fig.update_yaxes(ticklabelposition="inside", tickfont=dict(size=11, shadow="auto"))
    # Nor do the x labels at the ends push the margins: one that would stick out is hidden.
    fig.update_xaxes(automargin=False)
    fig.update_layout(margin=dict(l=4, r=4))


def contour_figure(surface: Surface, trajectories: Sequence[Trajectory], lang: str = EN,
                   n_steps: int = 50) -> go.Figure:
    """Contour map with every optimizer's path, a step slider and Play / Pause buttons.

    The slider's steps restyle the marker trace: that needs no animation frames, which
    Gradio 6.31 drops (it draws with ``Plotly.react(data, layout, config)``), and, unlike
    Plotly's frame animation without redraw, keeps the contour fill (which that erases).
    Play and Pause are buttons that do nothing by themselves; the tab's script
    (player.js) walks the slider's steps while Play is on.
    """
    xs, ys, Z = grid(surface, GRID_N)
    z, z_title = _colour_scale(surface, Z)
    fig = go.Figure(go.Contour(
        x=_f32(xs), y=_f32(ys), z=_f32(z), colorscale="Viridis", ncontours=30,
        colorbar=_flat_colour_bar(z_title, CONTOUR_HEIGHT), showlegend=False,
        hovertemplate=f"x=%{{x:.3f}}<br>y=%{{y:.3f}}<br>{z_title}=%{{z:.3g}}<extra></extra>",
    ))
    fig.add_trace(_markers(surface.minima, text("minimum", lang), "star"))
    if trajectories:
        fig.add_trace(_markers([(trajectories[0].xs[0], trajectories[0].ys[0])], text("start", lang),
                               "circle"))
    for traj in trajectories:
        idx = _thin(len(traj.xs))
        fig.add_trace(go.Scatter(
            x=_f32(traj.xs)[idx], y=_f32(traj.ys)[idx], mode="lines", name=_label(traj, lang),
            legendgroup=traj.name,
            line=dict(color=COLORS.get(traj.name, "black"), width=2, dash=_dash(traj.name)),
        ))

    # All moving markers share one trace, added last: each step then replaces a single
    # small trace, which keeps both the JSON and the redraw cheap.
    def where(k: int) -> dict[str, list[float]]:
        return {"x": [float(t.xs[min(k, len(t.xs) - 1)]) for t in trajectories],
                "y": [float(t.ys[min(k, len(t.ys) - 1)]) for t in trajectories]}

    fig.add_trace(go.Scatter(
        **where(0), mode="markers", showlegend=False, name="position",
        text=[t.name for t in trajectories], hovertemplate="%{text}<extra></extra>",
        marker=dict(size=11, color=[COLORS.get(t.name, "black") for t in trajectories],
                    line=dict(color="white", width=1.5)),
    ))
    longest = max((len(t.xs) for t in trajectories), default=1)
    marker_trace = len(fig.data) - 1

    def step(k: int) -> dict[str, Any]:
        at = where(k)
        return dict(method="restyle", label=str(k), args=[{"x": [at["x"]], "y": [at["y"]]}, [marker_trace]])

    _finish(
        fig, text("contour.title", lang, surface=surface_name(surface.name, lang)), CONTOUR_HEIGHT, top=118,
        bottom=150,
        # Under the map: Play and Pause side by side, the step slider, then the legend, which
        # is pinned to the figure's foot: on a phone its rows wrap without moving the rest.
        sliders=[dict(
            active=0, x=0, len=1, xanchor="left", y=0, yanchor="top", pad=dict(t=62, b=0),
            currentvalue=dict(prefix=text("slider.prefix", lang), suffix=text("slider.suffix", lang),
                              xanchor="right", font=dict(size=13)),
            font=dict(size=10), steps=[step(k) for k in _thin(longest, n_steps + 1).tolist()],
        )],
        updatemenus=[dict(
            type="buttons", direction="left", showactive=False, x=0, xanchor="left", y=0,
            yanchor="top", pad=dict(t=30, r=8),
            buttons=[dict(label=text("play", lang), method="skip", name="play"),
                     dict(label=text("pause", lang), method="skip", name="pause")],
        )],
    )
    fig.update_layout(legend=dict(yref="container", y=0, yanchor="bottom"))
    _axes(fig, surface)
    return fig


def _height(surface: Surface, values: np.ndarray) -> tuple[np.ndarray, str]:
    if surface.log_contour:
        return np.log10(1.0 + np.maximum(values - surface.f_min, 0.0)), "log₁₀(1 + f − f*)"
    return values, "f(x, y)"


def surface_figure(surface: Surface, trajectories: Sequence[Trajectory], lang: str = EN) -> go.Figure:
    """The surface in 3-D with each path drawn on top of it."""
    xs, ys, Z = grid(surface, GRID_N_3D)
    height, z_title = _height(surface, Z)
    lift = 0.01 * float(np.ptp(height))  # keeps paths from sinking into the mesh
    fig = go.Figure(go.Surface(x=_f32(xs), y=_f32(ys), z=_f32(height), colorscale="Viridis",
                               opacity=0.85, showscale=False, showlegend=False))
    xmin, xmax, ymin, ymax = surface.domain
    for traj in trajectories:
        idx = _thin(len(traj.xs), PATH_POINTS_3D)
        px, py = np.asarray(traj.xs)[idx], np.asarray(traj.ys)[idx]
        pz = _height(surface, np.asarray(traj.losses)[idx])[0] + lift
        # Points off the plotted patch become gaps instead of stretching the box.
        outside = (px < xmin) | (px > xmax) | (py < ymin) | (py > ymax)
        pz = np.where(outside, np.nan, pz)
        fig.add_trace(go.Scatter3d(
            x=_f32(px), y=_f32(py), z=_f32(pz), mode="lines", name=_label(traj, lang),
            line=dict(color=COLORS.get(traj.name, "black"), width=5),
        ))
    mz = _height(surface, np.full(len(surface.minima), surface.f_min))[0] + lift
    fig.add_trace(go.Scatter3d(
        x=[m[0] for m in surface.minima], y=[m[1] for m in surface.minima], z=mz.tolist(),
        mode="markers", name=text("minimum", lang),
        marker=dict(symbol="diamond", size=5, color="white", line=dict(color="black", width=1)),
    ))
    # A thumbnail: few ticks in small type, or the labels pile up at the box's corners.
    def axis(title: str) -> dict[str, Any]:
        return dict(nticks=4, tickfont=dict(size=10), title=dict(text=title, font=dict(size=12)))

    # Looking from the (-x, -y) corner, above: valleys open towards the viewer.
    _finish(fig, text("surface3d.title", lang, surface=surface_name(surface.name, lang)), 460, bottom=8,
            scene=dict(xaxis=axis("x"), yaxis=axis("y"), zaxis=axis(z_title), domain=dict(y=[0.18, 1]),
                       aspectmode="manual", aspectratio=dict(x=1, y=1, z=0.6),
                       camera=dict(eye=dict(x=-1.45, y=-1.65, z=1.25))))
    fig.update_layout(legend=dict(y=0.16))
    return fig


def loss_figure(surface: Surface, trajectories: Sequence[Trajectory], lang: str = EN) -> go.Figure:
    """Gap to the best value, f - f*, per step on a log axis."""
    fig = go.Figure()
    for traj in trajectories:
        idx = _thin(len(traj.losses))
        gap = np.maximum(np.asarray(traj.losses)[idx] - surface.f_min, LOSS_FLOOR)
        colour = COLORS.get(traj.name, "black")
        fig.add_trace(go.Scatter(
            x=idx.astype(np.int32), y=_f32(gap), mode="lines", name=_label(traj, lang),
            legendgroup=traj.name, line=dict(color=colour, width=2, dash=_dash(traj.name)),
        ))
        if traj.diverged:
            fig.add_trace(go.Scatter(
                x=[int(idx[-1])], y=[float(gap[-1])], mode="markers", showlegend=False,
                legendgroup=traj.name,
                hovertemplate=text("diverged_hover", lang, name=traj.name) + "<extra></extra>",
                marker=dict(symbol="x", size=12, color=colour),
            ))
    _finish(fig, text("loss.title", lang), 460,
            xaxis_title=text("loss.x", lang), yaxis_title=text("loss.y", lang))
    fig.update_layout(legend=dict(y=-0.2))
    fig.update_yaxes(type="log", exponentformat="power")
    return fig


def _format_state(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(f"{v:.3g}" for v in value) + ")"
    return f"{value:.3g}"


def step_figure(surface: Surface, traj: Trajectory, step: int, lang: str = EN) -> go.Figure:
    """Zoom on update number ``step`` (1-based: from point ``step - 1`` to ``step``).

    Arrows show where plain gradient descent would go, the momentum or first
    moment (on the same ``-lr`` scale) and the step actually taken. Out-of-range
    steps are clamped to the run.
    """
    step = max(1, min(int(step), len(traj.states)))
    k = step - 1  # index of the starting point, its gradient and its state
    x0, y0 = traj.xs[k], traj.ys[k]
    state = traj.states[k] if traj.states else {}
    # Drawn in this order, widest first, so a shorter arrow on top of a longer
    # one in the same direction stays visible.
    arrows = [("raw_step", state.get("raw_step"), "#9a9a9a", 5.0),
              ("momentum_step", state.get("momentum_step"), "#ff7f0e", 3.0),
              ("update", state.get("update"), "#d62728", 2.0)]
    arrows = [a for a in arrows if a[1] is not None and math.hypot(*a[1]) > 0]
    xmin, xmax, ymin, ymax = surface.domain
    span = max(xmax - xmin, ymax - ymin)
    longest = max((math.hypot(*a[1]) for a in arrows), default=0.0)
    # Frame every arrow, but never zoom in past 1/1000 or out past the domain.
    half = min(max(1.4 * longest, 1e-3 * span), span)
    gx = np.linspace(x0 - half, x0 + half, 60)
    gy = np.linspace(y0 - half, y0 + half, 60)
    z, z_title = _colour_scale(surface, surface.f(*np.meshgrid(gx, gy), np))
    fig = go.Figure(go.Contour(x=_f32(gx), y=_f32(gy), z=_f32(z), colorscale="Viridis",
                               ncontours=25, colorbar=_flat_colour_bar(z_title, STEP_HEIGHT),
                               showlegend=False,
                               hoverinfo="skip"))
    lo, hi = max(0, k - 30), min(len(traj.xs), k + 2)
    fig.add_trace(go.Scatter(
        x=traj.xs[lo:hi], y=traj.ys[lo:hi], mode="lines+markers",
        name=text("step.path", lang, name=traj.name),
        line=dict(color=COLORS.get(traj.name, "black"), width=2), marker=dict(size=5),
    ))
    fig.add_trace(go.Scatter(x=[x0], y=[y0], mode="markers", name=text("step.point", lang, step=step),
                             marker=dict(size=12, color="white", line=dict(color="black", width=2))))
    for key, (dx, dy), colour, width in arrows:
        # An arrow longer than the view stops at its edge (annotations are not clipped);
        # its legend entry still gives the full length.
        shrink = min(1.0, half / max(abs(dx), abs(dy)))
        fig.add_annotation(x=x0 + shrink * dx, y=y0 + shrink * dy, ax=x0, ay=y0, xref="x", yref="y",
                           axref="x", ayref="y", showarrow=True, arrowhead=3,
                           arrowwidth=width, arrowcolor=colour, text="")
        # An annotation's text sits at the arrow's tail, where all three start,
        # so each arrow is named by a legend entry instead.
        name = text("arrow.length", lang, name=text(f"arrow.{key}", lang), length=math.hypot(dx, dy))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color=colour, width=3),
                                 name=name))
    details = [f"{text(f'state.{key}', lang)}: {_format_state(value)}" for key, value in state.items()
               if key not in ("raw_step", "momentum_step", "update")]
    if details:
        # Placed in the map's own corner ("x domain"): with equal axis scaling the map is
        # narrower than the figure, and a corner of the figure would cover the y ticks.
        fig.add_annotation(xref="x domain", yref="y domain", x=0.01, y=0.99, xanchor="left",
                           yanchor="top", showarrow=False, align="left", text="<br>".join(details),
                           bgcolor="rgba(255,255,255,0.8)", font=dict(size=11))
    if traj.states:
        title = text("step.title", lang, name=traj.name, step=step, before=traj.losses[k],
                     after=traj.losses[k + 1])
    else:
        title = text("step.none", lang, name=traj.name)
    _finish(fig, title, STEP_HEIGHT, top=110)
    fig.update_layout(legend=dict(y=-0.08))
    fig.update_xaxes(range=[x0 - half, x0 + half], constrain="domain")
    fig.update_yaxes(range=[y0 - half, y0 + half], scaleanchor="x", scaleratio=1, constrain="domain")
    return fig


def batch_label(mode: str, n: int, batch_size: int, lang: str = EN) -> str:
    """A run's legend entry: its mode with the samples one step sees."""
    return text(f"mode.{mode}", lang, n=n, b=batch_size)


def batch_figures(result: BatchModesResult, lang: str = EN) -> tuple[go.Figure, go.Figure, go.Figure]:
    """(weight-space paths, loss per epoch, loss per gradient evaluation)."""
    ws, bs, Z = result.grid
    best = result.optimum_loss
    paths = go.Figure(go.Contour(
        x=_f32(ws), y=_f32(bs), z=_f32(np.log10(np.maximum(Z - best, 0.0) + 1e-6)),
        colorscale="Viridis", ncontours=30,
        colorbar=_flat_colour_bar(text("batch.colour", lang), STEP_HEIGHT),
        showlegend=False, hoverinfo="skip",
    ))
    epochs, evals = go.Figure(), go.Figure()
    for run, colour in zip(result.runs, BATCH_COLORS, strict=False):
        label = batch_label(run.mode, result.n_samples, run.batch_size, lang)
        idx = _thin(len(run.ws))
        paths.add_trace(go.Scatter(x=_f32(run.ws)[idx], y=_f32(run.bs)[idx], mode="lines",
                                   name=label, line=dict(color=colour, width=2)))
        gap = np.maximum(np.asarray(run.epoch_losses) - best, LOSS_FLOOR)
        epochs.add_trace(go.Scatter(x=np.arange(len(gap), dtype=np.int32), y=_f32(gap),
                                    mode="lines+markers", name=label,
                                    line=dict(color=colour, width=2)))
        # Index 0 (no gradients yet) cannot sit on a log axis.
        idx = _thin(len(run.grad_evals) - 1) + 1 if len(run.grad_evals) > 1 else np.arange(0)
        gap = np.maximum(np.asarray(run.losses)[idx] - best, LOSS_FLOOR)
        evals.add_trace(go.Scatter(x=np.asarray(run.grad_evals)[idx].astype(np.int32),
                                   y=_f32(gap), mode="lines", name=label,
                                   line=dict(color=colour, width=2)))
    paths.add_trace(_markers([result.start], text("start", lang), "circle"))
    paths.add_trace(_markers([result.optimum], text("batch.optimum", lang), "star"))
    model = text(f"model.{result.model}", lang)
    _finish(paths, text("batch.paths", lang, model=model), STEP_HEIGHT, top=118,
            xaxis_title=text("batch.w", lang), yaxis_title=text("batch.b", lang))
    _finish(epochs, text("batch.per_epoch", lang), 460,
            xaxis_title=text("batch.epoch", lang), yaxis_title=text("batch.gap", lang))
    _finish(evals, text("batch.per_eval", lang), 460,
            xaxis_title=text("batch.evals", lang), yaxis_title=text("batch.gap", lang))
    for fig in (paths, epochs, evals):
        fig.update_layout(legend=dict(y=-0.2))
    for fig in (epochs, evals):
        fig.update_yaxes(type="log", exponentformat="power")
    evals.update_xaxes(type="log")
    return paths, epochs, evals
