"""The optimizer playground tab: a thin adapter between the widgets and the math.

Two panels: optimizers on 2-D loss surfaces (`/optimize`, `/step_view`,
`/best_learning_rates`) and batch, stochastic and mini-batch gradient descent on a small
regression (`/batch_modes`). Every input change redraws at once; all the computing is in
the sibling modules. Texts computed per request (plot titles, table headers, the step
explanation) follow the page's language: each event's script leaves it in a cookie
(`LANGUAGE_JS`), and a request without one follows its Accept-Language header, so an API
call gets English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from demos.optimizers import batch_modes, layout, plots, texts, tuning
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
from demos.optimizers.surfaces import DEFAULT_CONDITION, SURFACE_NAMES, get_surface
from shared import errors, ui
from shared.i18n import tr
from shared.templates import fill
from shared.validation import BadInput

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
# The contour map's Play and Pause, and the relabelling on a change of language (player.js).
PLAYER_JS = Path(__file__).with_name("player.js").read_text(encoding="utf-8")
# Before every request: the page's language (Settings -> Language included) as a cookie,
# because an input for it would change the endpoints' positional arguments.
LANGUAGE_COOKIE = "visionlab-language"
LANGUAGE_JS = ("(...args) => { document.cookie = '" + LANGUAGE_COOKIE + "=' + (document.documentElement.lang"
               " || navigator.language || '') + '; path=/; SameSite=Lax'; return args; }")
Rate = float | dict[str, float]  # one learning rate for all, or {optimizer: its own}
# The surface endpoints' parameters after their first ones, in API order. The widgets fed to
# them are listed from it, and `_prepare` reads them by name; the tests check that the three
# signatures below follow it.
RUN_PARAMS = ("lr", "steps", "x0", "y0", "momentum", "beta1", "beta2", "rho", "alpha", "eps", "weight_decay",
              "noise", "seed", "condition", "adadelta_lr")
TABLE_KEYS = ["optimizer", "lr", "final", "gap", "distance", "steps_to_tol", "diverged"]


def _t(key: str, english: str):
    """This tab's interface text, in the visitor's language (see shared.i18n)."""
    return tr(f"optimizers.{key}", english)


def _about(name: str) -> Any:
    """A surface's description, translated in the browser like the labels."""
    key = "about_" + name.split()[0].lower().replace("-", "_")
    return _t(key, get_surface(name).description)


def _language(request: gr.Request | None) -> str:
    """The language of this request: the page's, else the browser's, else English."""
    if request is None:
        return texts.EN
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return texts.language_of(chosen or request.headers.get("accept-language", ""))


def _hyper(*, lr, momentum, beta1, beta2, rho, alpha, eps, weight_decay, noise, seed, adadelta_lr,
           **_: Any) -> Hyper:
    seed_value = 0 if seed is None else seed
    if isinstance(seed_value, float) and seed_value.is_integer() and abs(seed_value) < 2**32:
        seed_value = int(seed_value)
    # `lr` is one rate for all, or each optimizer's own: {"SGD": 0.002, "Adam": 0.1}.
    lrs = dict(lr) if isinstance(lr, dict) else {}
    # With one rate each, the shared one is only the step view's "plain GD" arrow for Adadelta.
    return Hyper(lr=1e-3 if lrs else lr, momentum=momentum, beta1=beta1, beta2=beta2, rho=rho, alpha=alpha,
                 eps=None if eps in (None, 0) else eps, weight_decay=weight_decay, noise=noise,
                 seed=seed_value, adadelta_lr=adadelta_lr, lrs=lrs)


# The errors of this tab's own checks, in English as the API gives them (shared.errors).
MESSAGES = errors.templates("error.optimizers", {
    "no_lr": "No learning rate for [optimizer]: give lr one rate per chosen optimizer, or one number for "
             "all.",
    "step": "The step to show must be a whole number from 1 on, not [value].",
    "diverged": "[optimizer] diverged on its first step: lower the learning rate.",
})


def _steps(steps: Any) -> int:
    if isinstance(steps, float) and steps.is_integer():
        return int(steps)
    return steps


def _prepare(surface: str, names: list[str], given: dict[str, Any]) -> tuple[Any, int, Hyper]:
    """What every surface endpoint does first: check the run's inputs, then build the surface
    and the hyperparameters. `given` holds the endpoint's arguments by name (its `locals()`).
    Returns (surface, steps, hyper)."""
    hyper = _hyper(**{name: given[name] for name in RUN_PARAMS})
    steps = _steps(given["steps"])
    validate_run(surface, names, steps, given["x0"], given["y0"])
    if hyper.lrs:
        missing = [n for n in names if n not in hyper.lrs and n != "Adadelta"]
        if missing:
            raise BadInput(fill(MESSAGES["no_lr"], optimizer=missing[0]))
    return get_surface(surface, condition=given["condition"]), steps, hyper


def _table(summaries: list[dict[str, Any]], hyper: Hyper, lang: str) -> dict[str, Any]:
    def fmt(v: float) -> str:
        return f"{v:.4g}"

    rows = [[s["optimizer"], fmt(hyper.lr_of(s["optimizer"])), f"({fmt(s['final_x'])}, {fmt(s['final_y'])})",
             fmt(s["gap_to_min"]), fmt(s["distance_to_nearest_min"]),
             "—" if s["steps_to_tol"] is None else s["steps_to_tol"],
             texts.text("yes_at", lang, step=s["diverged_at"]) if s["diverged"] else texts.text("no", lang)]
            for s in summaries]
    return {"headers": [texts.text(f"col.{k}", lang) for k in TABLE_KEYS], "data": rows}


@ui.handle_errors
def optimize(surface: str, optimizers: list[str], lr: Rate = 0.001, steps: int = 500, x0: float = -1.5,
             y0: float = 2.0, momentum: float = 0.9, beta1: float = 0.9, beta2: float = 0.999,
             rho: float = 0.9, alpha: float = 0.99, eps: float | None = None, weight_decay: float = 0.0,
             noise: float = 0.0, seed: int = 0, condition: float = 10.0, adadelta_lr: float = 1.0,
             request: gr.Request = None):
    """Run the chosen optimizers on a surface; return the plots, a table and JSON.

    `lr` is one learning rate for every optimizer, or each one's own as an object, e.g.
    {"SGD": 0.002, "Adam": 0.1}; Adadelta's is `adadelta_lr` (a multiplier, 1 in PyTorch).
    """
    lang = _language(request)
    surf, steps, hyper = _prepare(surface, optimizers, locals())
    trajectories = run_all(surf, list(optimizers), x0, y0, steps, hyper)
    summaries = [{**summary(surf, t), "lr": hyper.lr_of(t.name)} for t in trajectories]
    data = {
        "surface": surface,
        "minima": surf.minima,
        "f_min": surf.f_min,
        "results": summaries,
        # Paths thinned to 200 points: the plots carry the full detail.
        "trajectories": [to_dict(t, max_points=200) for t in trajectories],
    }
    return (
        plots.contour_figure(surf, trajectories, lang),
        plots.surface_figure(surf, trajectories, lang),
        plots.loss_figure(surf, trajectories, lang),
        _table(summaries, hyper, lang),
        data,
    )


def _state_markdown(traj, step: int, lang: str) -> str:
    k = step - 1  # the update from point k to point k + 1
    gx, gy = traj.grads[k]
    lines = [
        texts.text("step.heading", lang, name=traj.name, step=step, x0=traj.xs[k], y0=traj.ys[k],
                   x1=traj.xs[k + 1], y1=traj.ys[k + 1]),
        "",
        f"| {texts.text('step.quantity', lang)} | x | y |",
        "|---|---|---|",
        f"| {texts.text('step.gradient', lang)} | {gx:.4g} | {gy:.4g} |",
    ]
    for key, value in traj.states[k].items():
        label = texts.text(f"state.{key}", lang) if f"state.{key}" in texts.TEXTS else None
        if label is None:
            continue  # the three arrows: drawn, and named in the figure's legend
        if isinstance(value, (tuple, list)) and len(value) == 2:
            lines.append(f"| {label} | {value[0]:.4g} | {value[1]:.4g} |")
        elif isinstance(value, (int, float)):
            lines.append(f"| {label} | {value:.4g} | |")
    lines += ["", texts.explanation(traj.name, EXPLANATIONS[traj.name], lang)]
    return "\n".join(lines)


@ui.handle_errors
def step_view(surface: str, optimizer: str, step: int = 1, lr: Rate = 0.001, steps: int = 500,
              x0: float = -1.5, y0: float = 2.0, momentum: float = 0.9, beta1: float = 0.9,
              beta2: float = 0.999, rho: float = 0.9, alpha: float = 0.99, eps: float | None = None,
              weight_decay: float = 0.0, noise: float = 0.0, seed: int = 0, condition: float = 10.0,
              adadelta_lr: float = 1.0, request: gr.Request = None):
    """One optimizer's update at one step: the picture and the numbers behind it."""
    lang = _language(request)
    step = _steps(step)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise BadInput(fill(MESSAGES["step"], value=step))
    surf, steps, hyper = _prepare(surface, [optimizer] if optimizer else [], locals())
    traj = run(surf, optimizer, x0, y0, steps, hyper)
    if len(traj.xs) == 1:
        raise BadInput(fill(MESSAGES["diverged"], optimizer=optimizer))
    step = min(max(1, step), len(traj.xs) - 1)
    return plots.step_figure(surf, traj, step, lang), _state_markdown(traj, step, lang)


@ui.handle_errors
def best_learning_rates(surface: str, optimizers: list[str], lr: Rate = 0.001, steps: int = 500,
                        x0: float = -1.5, y0: float = 2.0, momentum: float = 0.9, beta1: float = 0.9,
                        beta2: float = 0.999, rho: float = 0.9, alpha: float = 0.99,
                        eps: float | None = None, weight_decay: float = 0.0, noise: float = 0.0,
                        seed: int = 0, condition: float = 10.0, adadelta_lr: float = 1.0,
                        request: gr.Request = None):
    """Each chosen optimizer's best learning rate on a log grid, for this surface, start and
    number of steps; returns a sentence and JSON ({"picked": {name: lr}, "grid": [...]})."""
    lang = _language(request)
    surf, steps, hyper = _prepare(surface, optimizers, locals())
    picks = tuning.best_learning_rates(surf, list(dict.fromkeys(optimizers)), x0, y0, steps, hyper)
    grid = tuning.GRID
    edge = [p.optimizer for p in picks if p.lr in (float(f"{grid[0]:.3g}"), float(f"{grid[-1]:.3g}"))]
    picked = ", ".join(f"{p.optimizer} {p.lr:g}" for p in picks)
    note = texts.text("best.heading", lang, picks=picked) + "\n\n" + texts.text(
        "best.rule", lang, lo=grid[0], hi=grid[-1], per=tuning.PER_DECADE, steps=steps, x0=x0, y0=y0)
    if edge:
        note += texts.text("best.edge", lang, names=", ".join(edge))
    data = {"picked": {p.optimizer: p.lr for p in picks}, "grid": [float(f"{g:.3g}") for g in grid],
            "steps": steps, "start": [x0, y0]}
    return note, data


def _apply_picks(data: dict[str, Any] | None) -> list[Any]:
    picked = (data or {}).get("picked", {})
    return [picked.get(name, gr.skip()) for name in OPTIMIZER_NAMES]


@ui.handle_errors
def batch_modes_run(model: str = "linear", n_samples: int = 256, batch_size: int = 32, epochs: int = 20,
                    lr: float = 0.1, seed: int = 0, request: gr.Request = None):
    """Batch, stochastic and mini-batch gradient descent on the same data and start."""
    lang = _language(request)
    result = batch_modes.run_batch_modes(model, n_samples=_steps(n_samples), batch_size=_steps(batch_size),
                                         epochs=_steps(epochs), lr=lr, seed=_steps(seed))
    path_fig, epoch_fig, evals_fig = plots.batch_figures(result, lang)
    table = batch_modes.table_rows(result, lang)
    return path_fig, epoch_fig, evals_fig, table, batch_modes.to_json(result)


def _rules(request: gr.Request = None) -> str:
    lang = _language(request)
    return "\n\n".join(f"**{n}.** {texts.explanation(n, EXPLANATIONS[n], lang)}" for n in OPTIMIZER_NAMES)


def _surface_defaults(name: str, condition: float) -> list[Any]:
    surf = get_surface(name, condition=condition)
    return [surf.start[0], surf.start[1], surf.default_steps,
            gr.update(visible=name == "Ill-conditioned quadratic"), _about(name),
            list(surf.default_optimizers), "", *[surf.default_lrs[n] for n in OPTIMIZER_NAMES]]


def _rates(*rates: float | None) -> dict[str, float]:
    """The eight rate boxes (all but Adadelta's) as the `lr` the endpoints take."""
    names = [n for n in OPTIMIZER_NAMES if n != "Adadelta"]
    return {n: r for n, r in zip(names, rates, strict=True) if r is not None}


def _shown_rates(optimizers: list[str] | None) -> list[Any]:
    return [gr.update(visible=n in (optimizers or [])) for n in OPTIMIZER_NAMES]


# The one-rate slider writes every box but Adadelta's (a multiplier, not a rate).
ONE_RATE_JS = "(v) => Array(8).fill(Number(Math.pow(10, v).toPrecision(3)))"


def create_demo() -> gr.Blocks:
    for name in SURFACE_NAMES:
        _about(name)  # every description's key now: the page gets its translations at launch
    with gr.Blocks() as demo:
        ui.intro("optimizers", QUESTION, ANSWER)
        w = layout.build(get_surface(SURFACE_NAMES[0], condition=DEFAULT_CONDITION), _t, _about)
        boxes = [w.rates[n] for n in OPTIMIZER_NAMES if n != "Adadelta"]
        params = [w.rates["Adadelta"] if name == "adadelta_lr" else getattr(w, name) for name in RUN_PARAMS]
        run_inputs = [w.surface, w.optimizers, *params]
        step_inputs = [w.surface, w.one, w.at, *params]
        light = dict(show_progress="hidden", js=LANGUAGE_JS, **ui.LIGHT_QUEUE)
        private = dict(api_visibility="private", queue=False, show_progress="hidden")
        triggers = [w.surface.change, w.optimizers.change] + [p.change for p in params]

        w.lr_log.release(None, w.lr_log, boxes, js=ONE_RATE_JS, api_visibility="private")
        gr.on([b.change for b in boxes], _rates, boxes, w.lr, **private)
        w.optimizers.change(_shown_rates, w.optimizers, list(w.rates.values()), **private)
        w.surface.input(_surface_defaults, [w.surface, w.condition],
                        [w.x0, w.y0, w.steps, w.condition, w.surface_info, w.optimizers, w.best_note,
                         *w.rates.values()], **private)
        # The up-close step stays inside the run.
        w.steps.change(lambda n: gr.update(maximum=n), w.steps, w.at, **private)

        outputs = [w.contour, w.surface_plot, w.loss_plot, w.table, w.data]
        gr.on(triggers, optimize, run_inputs, outputs, api_name="optimize", trigger_mode="always_last",
              **light)
        gr.on([w.one.change, w.at.release] + triggers, step_view, step_inputs, [w.step_plot, w.step_text],
              api_name="step_view", trigger_mode="always_last", **light)
        w.best.click(best_learning_rates, run_inputs, [w.best_note, w.picks], api_name="best_learning_rates",
                     **light).success(_apply_picks, w.picks, list(w.rates.values()), **private)

        # The first picture, and again in the new language when the page switches (player.js).
        demo.load(None, js=PLAYER_JS)
        # Each its own opening trigger, so the three start together (shared.ui.when_opened).
        gr.on([ui.when_opened(demo), w.relabel.click], optimize, run_inputs, outputs,
              api_visibility="private", **light)
        gr.on([ui.when_opened(demo), w.relabel.click], step_view, step_inputs, [w.step_plot, w.step_text],
              api_visibility="private", **light)
        gr.on([ui.when_opened(demo), w.relabel.click], _rules, None, w.rules, api_visibility="private",
              **light)

        b_inputs = [w.model, w.n_samples, w.batch_size, w.epochs, w.b_lr, w.b_seed]
        b_outputs = [w.path_plot, w.epoch_plot, w.evals_plot, w.b_table, w.b_data]
        gr.on([w.model.change, w.n_samples.release, w.batch_size.release, w.epochs.release,
               w.b_lr.change, w.b_seed.change], batch_modes_run, b_inputs, b_outputs, api_name="batch_modes",
              trigger_mode="always_last", **light)
        # The batch panel is a tab of its own inside this one: it computes when it is first opened.
        with ui.opened_by(w.batch_tab):
            gr.on([ui.when_opened(demo), w.relabel.click], batch_modes_run, b_inputs, b_outputs,
                  api_visibility="private", **light)
    return demo
