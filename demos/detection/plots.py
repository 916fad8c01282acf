"""Plotly figures for the detection tab: the loss anatomy and the sweep's results (no Gradio here).

Each figure is drawn in the request's language (`lang`): the titles, axes, legends and hover
texts are the English templates of `TEXTS`, or their Chinese under the same key in
shared/locales/zh-CN.detection.yaml (texts.py); formulas and numbers are the same in both.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from demos.detection.anatomy import BINS, LOSS_NAMES, Anatomy
from demos.detection.losses import focal_curve
from demos.detection.texts import ENGLISH, text

# The figures' words in English, values at [name]; key "detection.plot.<name>".
TEXTS = {
    "gamma_ce": "γ = 0 (cross-entropy)", "your_gamma": "your γ = [gamma]",
    "well_classified": "well-classified examples",
    "p_t_axis": "probability of the ground-truth class, p_t", "loss_axis": "loss",
    "loss_share": "share of the loss", "grad_share": "share of the gradient",
    "loss_ce": "α-balanced CE", "loss_focal": "focal loss, γ = [gamma]",
    "mass_title": "Where the loss and its gradient come from, per p_t bin",
    "mass_x": "p_t of the binary term (right: easy)", "mass_y": "% of the total",
    "cell_hover": "[objects] object(s) per scene, [seeds] seed(s)",
    "agnostic": "class-agnostic AP (object vs background)", "aware": "class-aware AP",
    "imbalance_title": "[what] as the imbalance grows",
    "imbalance_x": "background anchors per foreground anchor (log)",
    "imbalance_y": "AP, mean of seeds with 95 % CI",
    "gamma_here": "here: class-agnostic AP", "gamma_paper": "paper, Table 1b (COCO AP)",
    "gamma_title": "Focal loss γ at [objects] object(s) per scene, α paired as in the paper",
    "gamma_x": "γ (0 is α-balanced CE)", "gamma_y": "AP here", "gamma_y2": "AP in the paper",
    "easy_title": "Gradient from easy negatives during training ([objects] object(s))",
    "easy_x": "training step", "easy_y": "% of |∂L/∂logit| from p_t > 0.9 negatives",
}


def _t(name: str, lang: str, /, **values: object) -> str:
    return text(f"detection.plot.{name}", TEXTS[name], lang, **values)


ANATOMY_GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)  # the curves of the paper's Figure 1
_LAYOUT = dict(template="none", font=dict(family="Helvetica, Arial, sans-serif", size=13),
               margin=dict(l=60, r=20, t=50, b=55), height=420,
               legend=dict(x=0.98, y=0.97, xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.8)"))


def focal_curve_figure(gamma: float, lang: str = ENGLISH) -> go.Figure:
    """The paper's Figure 1: loss against p_t for several gamma, plus the chosen one."""
    p = torch.linspace(0.005, 1.0, 300, dtype=torch.float64)  # the focal loss's own formula, losses.py
    fig = go.Figure()
    for g in ANATOMY_GAMMAS:
        loss = focal_curve(p, g).numpy()
        label = _t("gamma_ce", lang) if g == 0 else f"γ = {g:g}"
        fig.add_trace(go.Scatter(x=p.numpy(), y=loss, mode="lines", name=label, line=dict(width=1.5)))
    fig.add_trace(go.Scatter(x=p.numpy(), y=focal_curve(p, gamma).numpy(), mode="lines",
                             name=_t("your_gamma", lang, gamma=f"{gamma:g}"),
                             line=dict(width=4, color="black", dash="dot")))
    fig.add_vrect(x0=0.6, x1=1.0, fillcolor="lightgreen", opacity=0.15, line_width=0,
                  annotation_text=_t("well_classified", lang), annotation_position="bottom left")
    fig.update_layout(title=dict(text="FL(p_t) = −(1 − p_t)^γ · log(p_t)", x=0.5), **_LAYOUT)
    fig.update_xaxes(title=_t("p_t_axis", lang), range=[0, 1])
    fig.update_yaxes(title=_t("loss_axis", lang), range=[0, 5])
    return fig


def loss_mass_figure(an: Anatomy, lang: str = ENGLISH) -> go.Figure:
    """Share of the total loss and of the total |gradient| per p_t bin, for both losses as trained."""
    labels = [f"{lo:g}–{hi:g}" for lo, hi in zip(BINS[:-1], BINS[1:], strict=True)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_t("loss_share", lang), _t("grad_share", lang)),
                        horizontal_spacing=0.1)
    colours = {LOSS_NAMES[0]: "#d55e00", LOSS_NAMES[1]: "#0072b2"}
    for col, part in ((1, an.loss), (2, an.grad)):
        for name, shares in part.items():
            # The JSON's loss names stay English; the legend says them in the page's language.
            label = (_t("loss_ce", lang) if name == LOSS_NAMES[0] else
                     _t("loss_focal", lang, gamma=f"{an.gamma:g}"))
            fig.add_trace(go.Bar(x=labels, y=100 * shares, name=label, marker_color=colours[name],
                                 showlegend=col == 1, legendgroup=name), row=1, col=col)
    _titled(fig, _t("mass_title", lang))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title=_t("mass_x", lang), tickangle=-45)
    fig.update_yaxes(title=_t("mass_y", lang), range=[0, 105], row=1, col=1)
    fig.update_yaxes(range=[0, 105], row=1, col=2)
    return fig


# ---------------------------------------------------------------- the sweep's results

ARM_STYLE = {  # arm -> (legend name, colour)
    "ce": ("α-balanced CE", "#d55e00"),
    "focal": ("focal loss, γ = 2", "#0072b2"),
    "ohem": ("OHEM (NMS 0.7, 128 per image, 1:3)", "#009e73"),
    "hnm": ("SSD-style hard-negative mining", "#cc79a7"),
}
TEXTS |= {f"arm_{arm}": name for arm, (name, _) in ARM_STYLE.items()}  # the legend names, translated too
# Lin et al. 2017, Table 1b (RetinaNet R-50, 600 px, COCO minival): gamma -> (alpha, AP).
PAPER_TABLE_1B = {0.0: (0.75, 31.1), 0.1: (0.75, 31.4), 0.2: (0.75, 31.9), 0.5: (0.5, 32.9),
                  1.0: (0.25, 33.7), 2.0: (0.25, 34.0), 5.0: (0.25, 32.2)}
GAMMA_ARMS = {"ce": 0.0, "focal-g0.5": 0.5, "focal-g1": 1.0, "focal": 2.0, "focal-g5": 5.0}
_BELOW = dict(orientation="h", x=0.5, xanchor="center", y=-0.22, yanchor="top")


def _titled(fig: go.Figure, title: str, right: int = 20) -> go.Figure:
    """The shared look, with the legend under the plot so it never covers the title."""
    fig.update_layout(title=dict(text=title, x=0.5),
                      **(_LAYOUT | {"legend": _BELOW, "margin": dict(l=60, r=right, t=60, b=40)}))
    return fig


def _error_bars(rows: list[dict], kind: str, mean: list[float]) -> dict:
    return dict(type="data", symmetric=False,
                array=[100 * r[kind]["high"] - m for r, m in zip(rows, mean, strict=True)],
                arrayminus=[m - 100 * r[kind]["low"] for r, m in zip(rows, mean, strict=True)])


def _level_ratio(summary: dict) -> dict[int, float]:
    return {row["objects"]: row["bg_per_fg_anchor"] for row in summary.get("levels", [])}


def ap_vs_imbalance_figure(summary: dict, kind: str = "agnostic", lang: str = ENGLISH) -> go.Figure:
    """AP (mean over seeds, 95 % CI) against background anchors per foreground anchor, per arm."""
    ratio = _level_ratio(summary)
    fig = go.Figure()
    for arm, (_, colour) in ARM_STYLE.items():
        rows = sorted((r for r in summary.get("cells", []) if r["arm"] == arm and r["objects"] in ratio),
                      key=lambda r: ratio[r["objects"]])
        if not rows:
            continue
        mean = [100 * r[kind]["mean"] for r in rows]
        fig.add_trace(go.Scatter(
            x=[ratio[r["objects"]] for r in rows], y=mean, mode="lines+markers", name=_t(f"arm_{arm}", lang),
            line=dict(color=colour, width=2), error_y=_error_bars(rows, kind, mean),
            text=[_t("cell_hover", lang, objects=r["objects"], seeds=len(r["seeds"])) for r in rows],
            hovertemplate="%{text}<br>1:%{x:.0f} → AP %{y:.1f}<extra></extra>"))
    what = _t("agnostic" if kind == "agnostic" else "aware", lang)
    _titled(fig, _t("imbalance_title", lang, what=what))
    fig.update_xaxes(title=_t("imbalance_x", lang), type="log")
    fig.update_yaxes(title=_t("imbalance_y", lang))
    return fig


def gamma_figure(summary: dict, objects: int = 1, lang: str = ENGLISH) -> go.Figure:
    """The gamma sweep at one imbalance level beside the paper's Table 1b."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    cells = [r for r in summary.get("cells", []) if r["objects"] == objects and r["arm"] in GAMMA_ARMS]
    rows = sorted(cells, key=lambda r: GAMMA_ARMS[r["arm"]])
    if rows:
        mean = [100 * r["agnostic"]["mean"] for r in rows]
        fig.add_trace(go.Scatter(
            x=[GAMMA_ARMS[r["arm"]] for r in rows], y=mean, mode="lines+markers",
            name=_t("gamma_here", lang), line=dict(color="#0072b2", width=2),
            error_y=_error_bars(rows, "agnostic", mean)), secondary_y=False)
    fig.add_trace(go.Scatter(x=list(PAPER_TABLE_1B), y=[ap for _, ap in PAPER_TABLE_1B.values()],
                             mode="lines+markers", name=_t("gamma_paper", lang),
                             line=dict(color="#999999", dash="dot")), secondary_y=True)
    _titled(fig, _t("gamma_title", lang, objects=objects), right=60)
    fig.update_xaxes(title=_t("gamma_x", lang))
    fig.update_yaxes(title=_t("gamma_y", lang), secondary_y=False)
    fig.update_yaxes(title=_t("gamma_y2", lang), secondary_y=True, showgrid=False)
    return fig


def easy_share_figure(summary: dict, objects: int = 1, lang: str = ENGLISH) -> go.Figure:
    """Share of the gradient from easy negatives during training, CE against focal loss."""
    fig = go.Figure()
    for arm in ("ce", "focal", "ohem"):
        cells = summary.get("cells", [])
        row = next((r for r in cells if r["arm"] == arm and r["objects"] == objects), None)
        if row is None:
            continue
        points = [p for p in row["curve"] if "grad_share_easy_negatives" in p]
        colour = ARM_STYLE[arm][1]
        fig.add_trace(go.Scatter(x=[p["step"] for p in points],
                                 y=[100 * p["grad_share_easy_negatives"] for p in points],
                                 mode="lines+markers", name=_t(f"arm_{arm}", lang),
                                 line=dict(color=colour, width=2)))
    _titled(fig, _t("easy_title", lang, objects=objects))
    fig.update_xaxes(title=_t("easy_x", lang))
    fig.update_yaxes(title=_t("easy_y", lang), range=[0, 100])
    return fig
