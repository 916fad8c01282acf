"""The playground's widgets, laid out; ui.py wires them to the handlers.

Left: the surface and its description, the optimizers, each optimizer's learning rate
with the search for the best ones, steps and start, and the other hyperparameters.
Right: the contour map (with its Play button and step slider), the loss curves, the 3-D
view and the table. Below: one step up close, and the update rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import gradio as gr

from demos.optimizers.surfaces import DEFAULT_CONDITION, SURFACE_NAMES, Surface
from demos.optimizers.update_rules import OPTIMIZER_NAMES
from shared import components as ui_inputs

Text = Callable[[str, str], Any]
TABLE_HEADERS = [
    "optimizer",
    "learning rate",
    "final (x, y)",
    "final f − f*",
    "distance to nearest minimum",
    "steps to f − f* ≤ 0.001",
    "diverged",
]


def _surface_choices(t: Text) -> list[tuple[Any, str]]:
    # People's names stay; the two descriptive names are translated.
    words = {
        "Saddle": t("surface_saddle", "Saddle"),
        "Ill-conditioned quadratic": t("surface_quadratic", "Ill-conditioned quadratic"),
    }
    return [(words.get(name, name), name) for name in SURFACE_NAMES]


def _rates(first: Surface, t: Text) -> dict[str, gr.Number]:
    rates = {}
    names = list(OPTIMIZER_NAMES)
    for row in range(0, len(names), 2):
        with gr.Row():
            for name in names[row : row + 2]:
                rates[name] = gr.Number(
                    first.default_lrs[name],
                    label=name,
                    min_width=110,
                    visible=name in first.default_optimizers,
                    elem_id=f"optimizers-lr-{name.lower()}",
                )
    return rates


def build(first: Surface, t: Text, about: Callable[[str], Any]) -> SimpleNamespace:
    """Create the widgets inside the current Blocks; returns them by name."""
    w = SimpleNamespace()
    with gr.Tab(t("tab_surfaces", "Loss surfaces")):
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                w.surface = ui_inputs.Dropdown(
                    _surface_choices(t),
                    value=first.name,
                    label=t("surface", "surface"),
                    elem_id="optimizers-surface",
                )
                w.surface_info = gr.Markdown(about(first.name), elem_id="optimizers-about")
                w.condition = ui_inputs.Slider(
                    1,
                    1000,
                    value=DEFAULT_CONDITION,
                    step=1,
                    visible=False,
                    label=t("condition", "condition number κ"),
                )
                w.optimizers = ui_inputs.CheckboxGroup(
                    list(OPTIMIZER_NAMES),
                    value=list(first.default_optimizers),
                    label=t("optimizers", "optimizers"),
                )
                with gr.Group():
                    gr.Markdown(
                        t(
                            "rates",
                            "**Learning rate of each optimizer** (Adadelta's multiplies "
                            "its own step, 1 in PyTorch)",
                        ),
                        padding=True,
                    )
                    w.rates = _rates(first, t)
                with gr.Row():
                    w.best = gr.Button(
                        t("best", "Best learning rate for each"), size="sm", elem_id="optimizers-best"
                    )
                w.best_note = gr.Markdown(elem_id="optimizers-best-note")
                w.lr_log = ui_inputs.Slider(
                    -4,
                    1,
                    value=round(math.log10(first.default_lrs["SGD"]), 2),
                    step=0.05,
                    label=t("lr_log", "one rate for all (but Adadelta), log₁₀"),
                )
                # The endpoints' `lr`: the boxes above as {name: rate} (Adadelta's is `adadelta_lr`).
                w.lr = gr.JSON({n: r for n, r in first.default_lrs.items() if n != "Adadelta"}, visible=False)
                w.steps = ui_inputs.Slider(
                    10, 2000, value=first.default_steps, step=10, label=t("steps", "steps"),
                    elem_id="optimizers-steps",
                )
                with gr.Row():
                    w.x0 = gr.Number(first.start[0], label=t("x0", "start x"))
                    w.y0 = gr.Number(first.start[1], label=t("y0", "start y"))
                with gr.Accordion(t("more", "More hyperparameters"), open=False):
                    w.momentum = ui_inputs.Slider(
                        0, 0.99, value=0.9, step=0.01, label=t("momentum", "momentum (Momentum, Nesterov)")
                    )
                    w.beta1 = ui_inputs.Slider(
                        0, 0.99, value=0.9, step=0.01, label=t("beta1", "β₁ (Adam, AdamW, NAdam)")
                    )
                    w.beta2 = ui_inputs.Slider(
                        0.9, 0.9999, value=0.999, step=0.0001, label=t("beta2", "β₂ (Adam, AdamW, NAdam)")
                    )
                    w.rho = ui_inputs.Slider(0, 0.99, value=0.9, step=0.01, label=t("rho", "ρ (Adadelta)"))
                    w.alpha = ui_inputs.Slider(
                        0, 0.999, value=0.99, step=0.001, label=t("alpha", "α decay (RMSprop)")
                    )
                    w.eps = gr.Number(None, label=t("eps", "ε (empty: each optimizer's PyTorch default)"))
                    w.weight_decay = gr.Number(0.0, label=t("weight_decay", "weight decay"))
                    w.noise = ui_inputs.Slider(
                        0, 5, value=0, step=0.05, label=t("noise", "gradient noise σ (mimics SGD)")
                    )
                    w.seed = ui_inputs.Number(0, precision=0, label=t("seed", "noise seed"))
            with gr.Column(scale=3):
                w.contour = gr.Plot(elem_id="optimizers-contour", show_label=False)
                w.loss_plot = gr.Plot(elem_id="optimizers-loss", show_label=False)
                # Closed at first: a closed accordion's plot is drawn only when opened, and the
                # 3-D surface (WebGL) took a browser longer to draw than the rest of the tab
                # together, holding back the contour map (1.8 s against 3.0 s to the map on this
                # machine's headless Chromium).
                with gr.Accordion(t("surface3d", "The surface in 3-D"), open=False,
                                  elem_id="optimizers-3d-view"):
                    w.surface_plot = gr.Plot(elem_id="optimizers-3d", show_label=False)
                w.table = gr.Dataframe(
                    headers=TABLE_HEADERS,
                    interactive=False,
                    wrap=True,
                    column_widths=["13%", "11%", "20%", "12%", "16%", "14%", "14%"],
                    label=t("results", "results"),
                    elem_id="optimizers-table",
                )
                with gr.Accordion(t("results_json", "Results as JSON"), open=False):
                    w.data = gr.JSON(show_label=False)
        with gr.Accordion(t("one_step", "One step, up close"), open=True):
            with gr.Row():
                w.one = ui_inputs.Dropdown(
                    list(OPTIMIZER_NAMES), value="Adam", label=t("optimizer", "optimizer")
                )
                w.at = ui_inputs.Slider(
                    1, first.default_steps, value=20, step=1, label=t("step", "step"), elem_id="optimizers-at"
                )
            with gr.Row():
                w.step_plot = gr.Plot(elem_id="optimizers-step", show_label=False)
                w.step_text = gr.Markdown(
                    latex_delimiters=[
                        {"left": "$$", "right": "$$", "display": True},
                        {"left": "$", "right": "$", "display": False},
                    ]
                )
        with gr.Accordion(t("rules", "The update rules"), open=False):
            w.rules = gr.Markdown(latex_delimiters=[{"left": "$", "right": "$", "display": False}])
    _batch_panel(w, t)
    # Not shown: the search's picks on their way to the boxes, and the button player.js
    # presses when the page's language changes.
    w.picks = gr.JSON(visible=False)
    w.relabel = gr.Button(visible="hidden", elem_id="optimizers-relabel")
    return w


def _batch_panel(w: SimpleNamespace, t: Text) -> None:
    with gr.Tab(t("tab_batch", "Batch, stochastic, mini-batch")) as w.batch_tab:
        gr.Markdown(
            t(
                "batch_intro",
                "The same two-parameter model, trained from the same start on the same data, "
                "seeing all N samples per step (batch GD), one (SGD) or a mini-batch. Time is "
                "measured here, on this machine, for the update work only.",
            )
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                w.model = ui_inputs.Radio(
                    [(t("linear", "linear"), "linear"), (t("logistic", "logistic"), "logistic")],
                    value="linear",
                    label=t("model", "model"),
                )
                w.n_samples = ui_inputs.Slider(16, 1024, value=256, step=16, label=t("samples", "samples N"))
                w.batch_size = ui_inputs.Slider(
                    2, 256, value=32, step=1, label=t("batch_size", "mini-batch size")
                )
                w.epochs = ui_inputs.Slider(1, 100, value=20, step=1, label=t("epochs", "epochs"))
                w.b_lr = gr.Number(0.1, label=t("lr", "learning rate"))
                w.b_seed = ui_inputs.Number(0, precision=0, label=t("data_seed", "data seed"))
            with gr.Column(scale=3):
                w.path_plot = gr.Plot(show_label=False, elem_id="optimizers-batch-path")
                with gr.Row():
                    w.epoch_plot = gr.Plot(show_label=False)
                    w.evals_plot = gr.Plot(show_label=False)
                w.b_table = gr.Dataframe(interactive=False, wrap=True, label=t("cost", "cost and stability"))
                with gr.Accordion(t("results_json", "Results as JSON"), open=False):
                    w.b_data = gr.JSON(show_label=False)
