"""The optimizer playground tab: a thin adapter between the widgets and the math.

Two panels: optimizers on 2-D loss surfaces (`/optimize`, `/step_view`) and batch,
stochastic and mini-batch gradient descent on a small regression (`/batch_modes`).
Every input change redraws at once; all the computing is in the sibling modules.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr

from demos.optimizers import batch_modes, plots
from demos.optimizers.optimizers import (
    EXPLANATIONS,
    OPTIMIZER_NAMES,
    Hyper,
    run,
    run_all,
    summary,
    to_dict,
    validate_run,
)
from demos.optimizers.surfaces import SURFACE_NAMES, get_surface
from shared import components as ui_inputs
from shared import ui
from shared.i18n import tr

QUESTION = "How do SGD, Momentum, Nesterov, Adagrad, Adadelta, RMSprop and Adam differ?"
ANSWER = """\
All of them step against the gradient; they differ in what they remember.
**Momentum** and **Nesterov** keep a running velocity, so they coast through flat
valleys and damp zig-zags across steep ones. **Adagrad**, **RMSprop** and **Adadelta**
keep a running size of each coordinate's squared gradient and divide by it, so every
coordinate gets its own step size. **Adam** does both, with bias correction for the
first steps. Batch, stochastic and mini-batch gradient descent differ in how much data
one step looks at: a full pass is slow per step but steady, one sample is cheap but noisy.
"""

def _t(key: str, english: str):
    """This tab's interface text, in the visitor's language (see shared.i18n)."""
    return tr(f"optimizers.{key}", english)


DEFAULT_OPTIMIZERS = ["SGD", "Momentum", "Nesterov", "RMSprop", "Adam"]
LATEX = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]
TABLE_COLUMNS = [
    "optimizer",
    "final x",
    "final y",
    "final loss",
    "distance to nearest minimum",
    "steps to tolerance",
    "diverged",
]


def _hyper(lr, momentum, beta1, beta2, rho, alpha, eps, weight_decay, noise, seed, adadelta_lr) -> Hyper:
    seed_value = 0 if seed is None else seed
    if isinstance(seed_value, float) and seed_value.is_integer() and abs(seed_value) < 2**32:
        seed_value = int(seed_value)
    return Hyper(
        lr=lr,
        momentum=momentum,
        beta1=beta1,
        beta2=beta2,
        rho=rho,
        alpha=alpha,
        eps=None if eps in (None, 0) else eps,
        weight_decay=weight_decay,
        noise=noise,
        seed=seed_value,
        adadelta_lr=adadelta_lr,
    )


def _prepare(surface: str, names: list[str], steps: Any, x0: float, y0: float, condition: float,
             *hyper_args: Any) -> tuple[Any, int, Hyper]:
    """What `/optimize` and `/step_view` both do first: check the run's inputs, then
    build the surface and the hyperparameters. Returns (surface, steps, hyper)."""
    hyper = _hyper(*hyper_args)
    steps = _steps(steps)
    validate_run(surface, names, steps, x0, y0)
    return get_surface(surface, condition=condition), steps, hyper


def _steps(steps: Any) -> int:
    if isinstance(steps, float) and steps.is_integer():
        return int(steps)
    return steps


def _table_row(s: dict[str, Any]) -> list[Any]:
    def fmt(v: float) -> str:
        return f"{v:.4g}"

    return [
        s["optimizer"],
        fmt(s["final_x"]),
        fmt(s["final_y"]),
        fmt(s["final_loss"]),
        fmt(s["distance_to_nearest_min"]),
        "—" if s["steps_to_tol"] is None else s["steps_to_tol"],
        f"yes, at step {s['diverged_at']}" if s["diverged"] else "no",
    ]


@ui.handle_errors
def optimize(
    surface: str,
    optimizers: list[str],
    lr: float = 0.001,
    steps: int = 500,
    x0: float = -1.5,
    y0: float = 2.0,
    momentum: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    rho: float = 0.9,
    alpha: float = 0.99,
    eps: float | None = None,
    weight_decay: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
    condition: float = 10.0,
    adadelta_lr: float = 1.0,
):
    """Run the chosen optimizers on a surface; return the plots, a table and JSON."""
    surf, steps, hyper = _prepare(surface, optimizers, steps, x0, y0, condition, lr, momentum, beta1,
                                  beta2, rho, alpha, eps, weight_decay, noise, seed, adadelta_lr)
    trajectories = run_all(surf, list(optimizers), x0, y0, steps, hyper)
    summaries = [summary(surf, t) for t in trajectories]
    data = {
        "surface": surface,
        "minima": surf.minima,
        "f_min": surf.f_min,
        "results": summaries,
        # Paths thinned to 200 points: the plots carry the full detail.
        "trajectories": [to_dict(t, max_points=200) for t in trajectories],
    }
    return (
        plots.contour_figure(surf, trajectories),
        plots.surface_figure(surf, trajectories),
        plots.loss_figure(surf, trajectories),
        [_table_row(s) for s in summaries],
        data,
    )


def _state_markdown(traj, step: int) -> str:
    k = step - 1  # the update from point k to point k + 1
    x, y = traj.xs[k], traj.ys[k]
    gx, gy = traj.grads[k]
    lines = [
        f"**{traj.name}, step {step}** from ({x:.4g}, {y:.4g}) to "
        f"({traj.xs[k + 1]:.4g}, {traj.ys[k + 1]:.4g})",
        "",
        "| quantity | x | y |",
        "|---|---|---|",
        f"| gradient g | {gx:.4g} | {gy:.4g} |",
    ]
    for key, value in traj.states[k].items():
        if isinstance(value, (tuple, list)) and len(value) == 2:
            lines.append(f"| {key} | {value[0]:.4g} | {value[1]:.4g} |")
        elif isinstance(value, (int, float)):
            lines.append(f"| {key} | {value:.4g} | |")
    lines += ["", EXPLANATIONS[traj.name]]
    return "\n".join(lines)


@ui.handle_errors
def step_view(
    surface: str,
    optimizer: str,
    step: int = 1,
    lr: float = 0.001,
    steps: int = 500,
    x0: float = -1.5,
    y0: float = 2.0,
    momentum: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    rho: float = 0.9,
    alpha: float = 0.99,
    eps: float | None = None,
    weight_decay: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
    condition: float = 10.0,
    adadelta_lr: float = 1.0,
):
    """One optimizer's update at one step: the picture and the numbers behind it."""
    step = _steps(step)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"The step to show must be a whole number from 1 on, not {step}.")
    surf, steps, hyper = _prepare(surface, [optimizer] if optimizer else [], steps, x0, y0, condition, lr,
                                  momentum, beta1, beta2, rho, alpha, eps, weight_decay, noise, seed,
                                  adadelta_lr)
    traj = run(surf, optimizer, x0, y0, steps, hyper)
    taken = len(traj.xs) - 1
    if taken == 0:
        raise ValueError(f"{optimizer} diverged on its first step: lower the learning rate.")
    step = min(max(1, step), taken)
    return plots.step_figure(surf, traj, step), _state_markdown(traj, step)


@ui.handle_errors
def batch_modes_run(
    model: str = "linear",
    n_samples: int = 256,
    batch_size: int = 32,
    epochs: int = 20,
    lr: float = 0.1,
    seed: int = 0,
):
    """Batch, stochastic and mini-batch gradient descent on the same data and start."""
    result = batch_modes.run_batch_modes(
        model,
        n_samples=_steps(n_samples),
        batch_size=_steps(batch_size),
        epochs=_steps(epochs),
        lr=lr,
        seed=_steps(seed),
    )
    path_fig, epoch_fig, evals_fig = plots.batch_figures(result)
    table = batch_modes.table_rows(result)
    return path_fig, epoch_fig, evals_fig, table, batch_modes.to_json(result)


def _surface_defaults(name: str, condition: float):
    surf = get_surface(name, condition=condition)
    return (
        surf.start[0],
        surf.start[1],
        surf.default_lr,
        round(math.log10(surf.default_lr), 2),
        surf.default_steps,
        gr.update(visible=name == "Ill-conditioned quadratic"),
        surf.description,
    )


def create_demo() -> gr.Blocks:
    first = get_surface(SURFACE_NAMES[0])
    with gr.Blocks() as demo:
        ui.intro("optimizers", QUESTION, ANSWER)
        with gr.Tab(_t("tab_surfaces", "Loss surfaces")):
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    surface = ui_inputs.Dropdown(list(SURFACE_NAMES), value=first.name,
                                                 label=_t("surface", "surface"))
                    surface_info = gr.Markdown(first.description)
                    condition = ui_inputs.Slider(
                        1, 1000, value=10, step=1, visible=False, label=_t("condition", "condition number κ")
                    )
                    optimizers = ui_inputs.CheckboxGroup(
                        list(OPTIMIZER_NAMES), value=DEFAULT_OPTIMIZERS,
                        label=_t("optimizers", "optimizers")
                    )
                    lr_log = ui_inputs.Slider(
                        -4,
                        0.5,
                        value=round(math.log10(first.default_lr), 2),
                        step=0.05,
                        label=_t("lr_log", "learning rate, log₁₀"),
                    )
                    lr = gr.Number(first.default_lr, label=_t("lr", "learning rate"))
                    steps = ui_inputs.Slider(10, 2000, value=first.default_steps, step=10,
                                             label=_t("steps", "steps"))
                    with gr.Row():
                        x0 = gr.Number(first.start[0], label=_t("x0", "start x"))
                        y0 = gr.Number(first.start[1], label=_t("y0", "start y"))
                    with gr.Accordion(_t("more", "More hyperparameters"), open=False):
                        momentum = ui_inputs.Slider(
                            0, 0.99, value=0.9, step=0.01,
                            label=_t("momentum", "momentum (Momentum, Nesterov)"),
                        )
                        beta1 = ui_inputs.Slider(
                            0, 0.99, value=0.9, step=0.01, label=_t("beta1", "β₁ (Adam, AdamW, NAdam)")
                        )
                        beta2 = ui_inputs.Slider(
                            0.9, 0.9999, value=0.999, step=0.0001,
                            label=_t("beta2", "β₂ (Adam, AdamW, NAdam)"),
                        )
                        rho = ui_inputs.Slider(0, 0.99, value=0.9, step=0.01, label=_t("rho", "ρ (Adadelta)"))
                        alpha = ui_inputs.Slider(0, 0.999, value=0.99, step=0.001,
                                                 label=_t("alpha", "α decay (RMSprop)"))
                        adadelta_lr = gr.Number(1.0, label=_t("adadelta_lr", "Adadelta's own learning rate"))
                        eps = gr.Number(None, label=_t("eps", "ε (empty: each optimizer's PyTorch default)"))
                        weight_decay = gr.Number(0.0, label=_t("weight_decay", "weight decay"))
                        noise = ui_inputs.Slider(
                            0, 5, value=0, step=0.05, label=_t("noise", "gradient noise σ (mimics SGD)")
                        )
                        seed = ui_inputs.Number(0, precision=0, label=_t("seed", "noise seed"))
                with gr.Column(scale=3):
                    contour = gr.Plot(
                        elem_id="optimizers-contour",
                        label="paths on the contour map (press ▶ or drag the step slider)",
                        show_label=False,
                    )
                    with gr.Row():
                        loss_plot = gr.Plot(label="f(x) − f* per step", show_label=False)
                        surface_plot = gr.Plot(label="3-D surface", show_label=False)
                    table = gr.Dataframe(headers=TABLE_COLUMNS, interactive=False,
                                         label=_t("results", "results"))
                    with gr.Accordion(_t("results_json", "Results as JSON"), open=False):
                        data = gr.JSON(show_label=False)
            with gr.Accordion(_t("one_step", "One step, up close"), open=True):
                with gr.Row():
                    one = ui_inputs.Dropdown(list(OPTIMIZER_NAMES), value="Adam",
                                             label=_t("optimizer", "optimizer"))
                    at = ui_inputs.Slider(1, 2000, value=20, step=1, label=_t("step", "step"))
                with gr.Row():
                    step_plot = gr.Plot(label="the update at this step", show_label=False)
                    step_text = gr.Markdown(latex_delimiters=LATEX)
            with gr.Accordion(_t("rules", "The update rules"), open=False):
                gr.Markdown(
                    "\n\n".join(f"**{n}.** {EXPLANATIONS[n]}" for n in OPTIMIZER_NAMES),
                    latex_delimiters=LATEX,
                )

            params = [
                lr,
                steps,
                x0,
                y0,
                momentum,
                beta1,
                beta2,
                rho,
                alpha,
                eps,
                weight_decay,
                noise,
                seed,
                condition,
                adadelta_lr,
            ]
            # The log slider is a client-side convenience: it writes `lr`, which the API takes.
            lr_log.release(
                None, lr_log, lr, js="(v) => Number(Math.pow(10, v).toPrecision(3))", api_visibility="private"
            )
            surface.input(
                _surface_defaults,
                [surface, condition],
                [x0, y0, lr, lr_log, steps, condition, surface_info],
                api_visibility="private",
            )
            outputs = [contour, surface_plot, loss_plot, table, data]
            gr.on(
                [surface.change, optimizers.change] + [p.change for p in params],
                optimize,
                [surface, optimizers, *params],
                outputs,
                api_name="optimize",
                trigger_mode="always_last",
                show_progress="hidden",
                **ui.LIGHT_QUEUE,
            )
            gr.on(
                [one.change, at.release, surface.change] + [p.change for p in params],
                step_view,
                [surface, one, at, *params],
                [step_plot, step_text],
                api_name="step_view",
                trigger_mode="always_last",
                show_progress="hidden",
                **ui.LIGHT_QUEUE,
            )
            demo.load(optimize, [surface, optimizers, *params], outputs, api_visibility="private",
                      **ui.LIGHT_QUEUE)
            demo.load(
                step_view, [surface, one, at, *params], [step_plot, step_text], api_visibility="private",
                **ui.LIGHT_QUEUE,
            )

        with gr.Tab(_t("tab_batch", "Batch, stochastic, mini-batch")):
            gr.Markdown(tr(
                "optimizers.batch_intro",
                "The same two-parameter model, trained from the same start on the same data, "
                "seeing all N samples per step (batch GD), one (SGD) or a mini-batch. Time is "
                "measured here, on this machine, for the update work only.",
            ))
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    model = ui_inputs.Radio(["linear", "logistic"], value="linear",
                                             label=_t("model", "model"))
                    n_samples = ui_inputs.Slider(16, 1024, value=256, step=16,
                                                  label=_t("samples", "samples N"))
                    batch_size = ui_inputs.Slider(2, 256, value=32, step=1,
                                                   label=_t("batch_size", "mini-batch size"))
                    epochs = ui_inputs.Slider(1, 100, value=20, step=1,
                                               label=_t("epochs", "epochs"))
                    b_lr = gr.Number(0.1, label=_t("lr", "learning rate"))
                    b_seed = ui_inputs.Number(0, precision=0, label=_t("data_seed", "data seed"))
                with gr.Column(scale=3):
                    path_plot = gr.Plot(label="paths in weight space", show_label=False)
                    with gr.Row():
                        epoch_plot = gr.Plot(label="loss per epoch", show_label=False)
                        evals_plot = gr.Plot(label="loss per gradient evaluation", show_label=False)
                    b_table = gr.Dataframe(interactive=False,
                                           label=_t("cost", "cost and stability"))
                    with gr.Accordion(_t("results_json", "Results as JSON"), open=False):
                        b_data = gr.JSON(show_label=False)
            b_inputs = [model, n_samples, batch_size, epochs, b_lr, b_seed]
            b_outputs = [path_plot, epoch_plot, evals_plot, b_table, b_data]
            gr.on(
                [
                    model.change,
                    n_samples.release,
                    batch_size.release,
                    epochs.release,
                    b_lr.change,
                    b_seed.change,
                ],
                batch_modes_run,
                b_inputs,
                b_outputs,
                api_name="batch_modes",
                trigger_mode="always_last",
                show_progress="hidden",
                **ui.LIGHT_QUEUE,
            )
            demo.load(batch_modes_run, b_inputs, b_outputs, api_visibility="private", **ui.LIGHT_QUEUE)
    return demo
