"""The optimizer playground's compute core: surfaces, optimizers, batch modes, plots.

Offline and fast: everything here runs on two-parameter problems in well under
twenty seconds, and torch is used only as the reference implementation.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch

from demos.optimizers import batch_modes, plots, texts, tuning
from demos.optimizers.optimizers import (
    EXPLANATIONS,
    OPTIMIZER_NAMES,
    Hyper,
    default_eps,
    run,
    run_all,
    summary,
    time_all,
    to_dict,
    validate_hyper,
    validate_run,
)
from demos.optimizers.surfaces import DEFAULT_CONDITION, SURFACE_NAMES, Surface, get_surface, grid

SURFACES = [get_surface(n) for n in SURFACE_NAMES] + [
    get_surface("Ill-conditioned quadratic", condition=37.0)
]


@pytest.fixture
def float64_default():
    # torch keeps NAdam's running momentum product in the default dtype; with
    # float32 it drifts from the float64 reference by ~1e-9 within 50 steps.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _random_points(surface: Surface, n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    xmin, xmax, ymin, ymax = surface.domain
    u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    return torch.stack([xmin + u[:, 0] * (xmax - xmin), ymin + u[:, 1] * (ymax - ymin)], dim=1)


# --- surfaces ---------------------------------------------------------------------

@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
def test_analytic_gradient_matches_autograd(surface):
    pts = _random_points(surface, 64, seed=1).requires_grad_(True)
    f = surface.f(pts[:, 0], pts[:, 1], torch)
    (auto,) = torch.autograd.grad(f.sum(), pts)
    gx, gy = surface.grad(pts[:, 0].detach(), pts[:, 1].detach(), torch)
    torch.testing.assert_close(torch.stack([gx, gy], dim=1), auto, rtol=1e-10, atol=1e-9)
    # The math and numpy paths agree with the torch one.
    x, y = pts[0, 0].item(), pts[0, 1].item()
    assert surface.f(x, y, math) == pytest.approx(f[0].item(), rel=1e-12)
    assert surface.f(np.array([x]), np.array([y]), np)[0] == pytest.approx(f[0].item(), rel=1e-12)


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
def test_listed_minima_are_minima(surface):
    for mx, my in surface.minima:
        assert surface.f(mx, my, math) == pytest.approx(surface.f_min, abs=1e-9)
        gx, gy = surface.grad(mx, my, math)
        assert math.hypot(gx, gy) < 1e-6
        hess = torch.autograd.functional.hessian(
            lambda p: surface.f(p[0], p[1], torch), torch.tensor([mx, my], dtype=torch.float64))
        assert torch.linalg.eigvalsh(hess).min() > 0
        for angle in np.linspace(0, 2 * math.pi, 12, endpoint=False):
            nearby = surface.f(mx + 1e-3 * math.cos(angle), my + 1e-3 * math.sin(angle), math)
            assert nearby > surface.f_min
    xmin, xmax, ymin, ymax = surface.domain
    assert xmin <= surface.start[0] <= xmax and ymin <= surface.start[1] <= ymax


def test_saddle_origin_is_a_saddle_not_a_minimum():
    saddle = get_surface("Saddle")
    assert saddle.grad(0.0, 0.0, math) == (0.0, 0.0)
    hess = torch.autograd.functional.hessian(
        lambda p: saddle.f(p[0], p[1], torch), torch.zeros(2, dtype=torch.float64))
    eig = torch.linalg.eigvalsh(hess)
    assert eig.min() < 0 < eig.max()


def test_grid_layout_and_bad_surface_requests():
    surface = get_surface("Beale")
    xs, ys, Z = grid(surface, n=80)
    assert Z.shape == (80, 80) and Z[5, 7] == pytest.approx(surface.f(xs[7], ys[5], math))
    with pytest.raises(ValueError, match="Unknown surface"):
        get_surface("Everest")
    with pytest.raises(ValueError, match="condition number"):
        get_surface("Ill-conditioned quadratic", condition=0.5)


# --- optimizers against torch.optim -----------------------------------------------

def _torch_optimizer(name: str, params: list[torch.Tensor], h: Hyper) -> torch.optim.Optimizer:
    eps = h.eps if h.eps is not None else default_eps(name)
    common = dict(weight_decay=h.weight_decay, foreach=False)
    adam_like = dict(lr=h.lr, betas=(h.beta1, h.beta2), eps=eps, **common)
    return {
        "SGD": lambda: torch.optim.SGD(params, lr=h.lr, **common),
        "Momentum": lambda: torch.optim.SGD(params, lr=h.lr, momentum=h.momentum, **common),
        "Nesterov": lambda: torch.optim.SGD(params, lr=h.lr, momentum=h.momentum, nesterov=True,
                                            **common),
        "Adagrad": lambda: torch.optim.Adagrad(params, lr=h.lr, eps=eps, **common),
        "Adadelta": lambda: torch.optim.Adadelta(params, lr=h.adadelta_lr, rho=h.rho, eps=eps,
                                                 **common),
        "RMSprop": lambda: torch.optim.RMSprop(params, lr=h.lr, alpha=h.alpha, eps=eps, **common),
        "Adam": lambda: torch.optim.Adam(params, **adam_like),
        "AdamW": lambda: torch.optim.AdamW(params, **adam_like),
        "NAdam": lambda: torch.optim.NAdam(params, **adam_like),
    }[name]()


CASES = {
    "Rosenbrock-defaults": ("Rosenbrock", Hyper(lr=1e-3)),
    "Himmelblau-weight-decay": ("Himmelblau", Hyper(lr=1e-2, weight_decay=0.05)),
    "Beale-custom": ("Beale", Hyper(lr=3e-3, momentum=0.8, beta1=0.8, beta2=0.99, rho=0.95,
                                    alpha=0.9, eps=1e-6, weight_decay=0.01, adadelta_lr=0.5)),
}


@pytest.mark.usefixtures("float64_default")
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_matches_torch_optim_step_for_step(name, case):
    surface_name, hyper = CASES[case]
    surface = get_surface(surface_name)
    ours = run(surface, name, *surface.start, 50, hyper)
    assert not ours.diverged and len(ours.xs) == 51

    p = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    opt = _torch_optimizer(name, [p], hyper)
    theirs = []
    for _ in range(50):
        opt.zero_grad()
        surface.f(p[0], p[1], torch).backward()
        opt.step()
        theirs.append(p.detach().tolist())
    np.testing.assert_allclose(np.column_stack([ours.xs[1:], ours.ys[1:]]), np.array(theirs),
                               rtol=1e-9, atol=1e-12)


def test_default_eps_follow_torch():
    for name, cls in [("Adagrad", torch.optim.Adagrad), ("Adadelta", torch.optim.Adadelta),
                      ("RMSprop", torch.optim.RMSprop), ("Adam", torch.optim.Adam),
                      ("AdamW", torch.optim.AdamW), ("NAdam", torch.optim.NAdam)]:
        opt = cls([torch.zeros(1, requires_grad=True)])
        assert default_eps(name) == opt.defaults["eps"]
    assert default_eps("SGD") is None


CONVERGENCE_LR = {"SGD": 0.5, "Momentum": 0.1, "Nesterov": 0.1, "Adagrad": 0.5, "Adadelta": 1.0,
                  "RMSprop": 0.01, "Adam": 0.05, "AdamW": 0.05, "NAdam": 0.05}


@pytest.mark.parametrize("kappa", [1.0, 2.0])
@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_every_optimizer_converges_on_a_round_bowl(name, kappa):
    bowl = get_surface("Ill-conditioned quadratic", condition=kappa)
    traj = run(bowl, name, *bowl.start, 2000, Hyper(lr=CONVERGENCE_LR[name]))
    result = summary(bowl, traj, tol=1e-6)
    assert result["steps_to_tol"] is not None and not result["diverged"]
    # RMSprop's constant step size keeps it hovering within about lr of the minimum.
    assert result["distance_to_nearest_min"] < 10 * CONVERGENCE_LR[name]


def test_state_is_recorded_for_the_step_view():
    surface = get_surface("Rosenbrock")
    for traj in run_all(surface, OPTIMIZER_NAMES, *surface.start, 20, Hyper(lr=1e-3)):
        assert len(traj.states) == len(traj.grads) == len(traj.xs) - 1 == 20
        for k, state in enumerate(traj.states):
            dx, dy = state["update"]
            assert dx == pytest.approx(traj.xs[k + 1] - traj.xs[k], abs=1e-15)
            assert dy == pytest.approx(traj.ys[k + 1] - traj.ys[k], abs=1e-15)
            assert state["raw_step"] == pytest.approx((-1e-3 * traj.grads[k][0], -1e-3 * traj.grads[k][1]))
        has_momentum = traj.name not in ("SGD", "Adagrad", "Adadelta", "RMSprop")
        assert ("momentum_step" in traj.states[0]) == has_momentum
    assert set(EXPLANATIONS) == set(OPTIMIZER_NAMES)
    assert all("$" in text for text in EXPLANATIONS.values())


def test_noise_is_seeded_and_shared_by_all_optimizers():
    surface = get_surface("Himmelblau")
    hyper = Hyper(lr=1e-2, noise=1.0, seed=3)
    trajs = run_all(surface, ["SGD", "Adam"], 0.0, 0.0, 30, hyper)
    exact = surface.grad(0.0, 0.0, math)
    first_noise = [np.subtract(t.grads[0], exact) for t in trajs]
    np.testing.assert_allclose(first_noise[0], first_noise[1])
    assert np.abs(first_noise[0]).max() > 0
    assert run(surface, "SGD", 0.0, 0.0, 30, hyper).xs == trajs[0].xs
    assert run(surface, "SGD", 0.0, 0.0, 30, Hyper(lr=1e-2, noise=1.0, seed=4)).xs != trajs[0].xs


def test_divergence_is_detected_and_output_stays_finite():
    surface = get_surface("Rosenbrock")
    trajs = run_all(surface, ["SGD", "Adam"], *surface.start, 200, Hyper(lr=1.0))
    sgd, adam = trajs
    assert sgd.diverged and sgd.diverged_at is not None and sgd.diverged_at <= 200
    assert len(sgd.xs) == sgd.diverged_at
    assert not adam.diverged
    for traj in trajs:
        assert all(math.isfinite(v) for v in traj.xs + traj.ys + traj.losses)
        json.dumps(to_dict(traj), allow_nan=False)
        json.dumps(traj.states, allow_nan=False)
        json.dumps(summary(surface, traj), allow_nan=False)


BAD_HYPER = [
    (dict(lr=float("nan")), "learning rate"), (dict(lr=float("inf")), "learning rate"),
    (dict(lr=-0.1), "learning rate"), (dict(lr=0.0), "learning rate"),
    (dict(lr="fast"), "learning rate"), (dict(momentum=1.0), "Momentum"),
    (dict(beta1=-0.1), "beta1"), (dict(beta2=1.0), "beta2"), (dict(rho=1.5), "rho"),
    (dict(alpha=float("nan")), "alpha"), (dict(eps=0.0), "Epsilon"), (dict(eps=-1e-8), "Epsilon"),
    (dict(weight_decay=-1.0), "Weight decay"), (dict(noise=float("inf")), "noise"),
    (dict(adadelta_lr=0.0), "Adadelta"), (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
]


@pytest.mark.parametrize(("change", "message"), BAD_HYPER)
def test_bad_hyperparameters_are_refused_in_plain_words(change, message):
    with pytest.raises(ValueError, match=message):
        validate_hyper(Hyper(**{"lr": 1e-3, **change}))


@pytest.mark.parametrize(("args", "message"), [
    (("Everest", ["SGD"], 10), "Unknown surface"),
    (("Rosenbrock", ["SGD", "Lion"], 10), "Unknown optimizer"),
    (("Rosenbrock", [], 10), "at least one optimizer"),
    (("Rosenbrock", ["SGD"], 0), "steps"),
    (("Rosenbrock", ["SGD"], 2001), "steps"),
    (("Rosenbrock", ["SGD"], 10.5), "steps"),
    (("Rosenbrock", ["SGD"], 10, float("inf"), 0.0), "start x"),
    (("Rosenbrock", ["SGD"], 10, 0.0, float("nan")), "start y"),
])
def test_bad_run_arguments_are_refused_in_plain_words(args, message):
    with pytest.raises(ValueError, match=message):
        validate_run(*args)


def test_nine_optimizers_run_fast():
    # A loose guard against gross slowdowns; time_all itself measures the 150 ms target.
    assert time_all(steps=500, repeats=3)["median_ms"] < 600


# --- batch, stochastic and mini-batch ------------------------------------------------

def test_batch_gd_reaches_the_exact_optimum():
    for model, lr in [("linear", 0.5), ("logistic", 4.0)]:
        result = batch_modes.run_batch_modes(model, n_samples=64, batch_size=16, epochs=100, lr=lr)
        bgd = result.runs[0]
        assert bgd.mode == "batch GD"
        assert math.hypot(bgd.ws[-1] - result.optimum[0], bgd.bs[-1] - result.optimum[1]) < 1e-3
        gw, gb = batch_modes.gradient(model, *result.optimum, result.data.x, result.data.y)
        assert math.hypot(gw, gb) < 1e-9


def test_modes_differ_in_updates_noise_and_work():
    n, b, epochs = 100, 32, 4
    result = batch_modes.run_batch_modes("linear", n_samples=n, batch_size=b, epochs=epochs, lr=0.1)
    bgd, sgd, mini = result.runs
    assert (sgd.updates_per_epoch, mini.updates_per_epoch, bgd.updates_per_epoch) == (n, 4, 1)
    for r in result.runs:
        assert len(r.ws) - 1 == r.updates_per_epoch * epochs == len(r.update_times_s)
        assert r.grad_evals[-1] == n * epochs
        assert len(r.epoch_losses) == epochs + 1 and len(r.epoch_times_s) == epochs
        assert all(t >= 0 for t in r.update_times_s)
    assert sgd.stability > bgd.stability
    again = batch_modes.run_batch_modes("linear", n_samples=n, batch_size=b, epochs=epochs, lr=0.1)
    assert again.runs[1].ws == sgd.ws  # same seed, same shuffling
    payload = batch_modes.to_json(result)
    assert [m["mode"] for m in payload["modes"]] == ["batch GD", "SGD", "mini-batch"]
    json.dumps(payload, allow_nan=False)
    assert batch_modes.table_rows(result)["headers"] == batch_modes.TABLE_HEADERS


@pytest.mark.parametrize(("change", "message"), [
    (dict(model="quadratic"), "model"), (dict(n_samples=8), "samples"),
    (dict(batch_size=0), "batch"), (dict(batch_size=65), "batch"), (dict(epochs=-3), "epochs"),
    (dict(lr=float("nan")), "learning rate"), (dict(lr=-1.0), "learning rate"),
    (dict(seed=-2), "seed"), (dict(n_samples=1024, epochs=100), "epochs"),
])
def test_bad_batch_mode_inputs_are_refused(change, message):
    kwargs = dict(model="linear", n_samples=64, batch_size=8, epochs=3, lr=0.05, seed=0)
    with pytest.raises(ValueError, match=message):
        batch_modes.run_batch_modes(**{**kwargs, **change})


def test_huge_batch_learning_rate_diverges_cleanly():
    result = batch_modes.run_batch_modes("linear", n_samples=64, batch_size=8, epochs=5, lr=50.0)
    assert all(r.diverged for r in result.runs)
    json.dumps(batch_modes.to_json(result), allow_nan=False)


# --- figures --------------------------------------------------------------------------

def _no_nan(text: str) -> dict:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in figure JSON")

    return json.loads(text, parse_constant=refuse)


def test_figures_build_and_stay_small():
    surface = get_surface("Rosenbrock")
    trajs = run_all(surface, OPTIMIZER_NAMES, *surface.start, 500, Hyper(lr=1e-3))
    contour = plots.contour_figure(surface, trajs)
    contour_json = contour.to_json()
    assert len(contour_json) < 1_000_000
    spec = _no_nan(contour_json)
    steps = spec["layout"]["sliders"][0]["steps"]
    assert 2 <= len(steps) <= 51 and "frames" not in spec
    response = [contour_json] + [
        fig.to_json() for fig in (plots.surface_figure(surface, trajs),
                                  plots.loss_figure(surface, trajs),
                                  plots.step_figure(surface, trajs[6], 10))
    ] + [json.dumps([to_dict(t) for t in trajs] + [summary(surface, t) for t in trajs])]
    assert sum(map(len, response)) < 1_000_000
    for text in response[1:4]:
        _no_nan(text)


def test_step_and_loss_figures_handle_divergence():
    surface = get_surface("Rosenbrock")
    sgd, adam = run_all(surface, ["SGD", "Adam"], *surface.start, 100, Hyper(lr=1.0))
    for build in (plots.loss_figure, plots.contour_figure, plots.surface_figure):
        _no_nan(build(surface, [sgd, adam]).to_json())
    for step in (1, sgd.diverged_at, 10_000):
        fig = plots.step_figure(surface, sgd, step)
        assert "SGD" in fig.layout.title.text
    instant = run(surface, "SGD", *surface.start, 5, Hyper(lr=1e6))
    assert instant.diverged_at == 1 and not instant.states
    assert "no step" in plots.step_figure(surface, instant, 1).layout.title.text


def test_batch_figures_build():
    result = batch_modes.run_batch_modes("logistic", n_samples=128, batch_size=16, epochs=5)
    figs = plots.batch_figures(result)
    assert len(figs) == 3 and figs[2].layout.xaxis.type == "log"
    assert sum(len(f.to_json()) for f in figs) < 300_000


# --- a fair race: each optimizer's own learning rate, and the search for the best ----

def test_each_optimizer_runs_at_its_own_learning_rate():
    surface = get_surface("Beale")
    hyper = Hyper(lr=1e-3, adadelta_lr=0.5, lrs={"Adam": 0.05})
    assert (hyper.lr_of("SGD"), hyper.lr_of("Adam"), hyper.lr_of("Adadelta")) == (1e-3, 0.05, 0.5)
    for name, lr in [("Adam", 0.05), ("SGD", 1e-3)]:
        ours = run(surface, name, *surface.start, 30, hyper)
        alone = run(surface, name, *surface.start, 30, Hyper(lr=lr))
        assert ours.xs == alone.xs and ours.ys == alone.ys
    # Adadelta's own rate is its multiplier, set by `lrs` like the others'.
    assert run(surface, "Adadelta", *surface.start, 30, Hyper(lr=1e-3, lrs={"Adadelta": 0.5})).xs == \
        run(surface, "Adadelta", *surface.start, 30, Hyper(lr=1e-3, adadelta_lr=0.5)).xs


@pytest.mark.parametrize(("lrs", "message"), [
    ({"Adam": 0.0}, "learning rate of Adam"), ({"SGD": float("nan")}, "learning rate of SGD"),
    ({"Lion": 0.1}, "Unknown optimizer"),
])
def test_bad_own_learning_rates_are_refused(lrs, message):
    with pytest.raises(ValueError, match=message):
        validate_hyper(Hyper(lr=1e-3, lrs=lrs))


@pytest.mark.parametrize("kappa", [4.0, 10.0, 30.0, 100.0])
def test_search_finds_gradient_descents_textbook_rate_on_a_quadratic(kappa):
    # On f = (u² + κ v²) / 2 plain gradient descent contracts fastest at lr = 2 / (1 + κ),
    # where the slow direction's factor 1 - lr equals the fast one's lr κ - 1.
    bowl = get_surface("Ill-conditioned quadratic", condition=kappa)
    pick = tuning.best_learning_rate(bowl, "SGD", *bowl.start, 300, Hyper(lr=1e-3))
    one_step = 1 / tuning.PER_DECADE
    assert abs(math.log10(pick.lr) - math.log10(2 / (1 + kappa))) <= one_step + 1e-9


def test_search_picks_the_one_step_rate_on_a_round_bowl():
    # At κ = 1 the bowl is |p|² / 2: lr = 1 lands on the minimum in one step, and 1 is on the grid.
    bowl = get_surface("Ill-conditioned quadratic", condition=1.0)
    assert tuning.best_learning_rate(bowl, "SGD", 2.0, -1.0, 50, Hyper(lr=1e-3)).lr == 1.0
    # A diverging rate never wins, however early it would have been near the minimum.
    assert all(s == (math.inf, math.inf) for g, s in zip(tuning.GRID, tuning.best_learning_rate(
        bowl, "SGD", 2.0, -1.0, 50, Hyper(lr=1e-3)).scores, strict=True) if g > 2.0)


# Each surface's rates that deliberately are not the search's picks (its description says why).
SHARED_RATE = {"Beale": {"Adagrad", "RMSprop", "Adam", "AdamW"}}


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_default_rates_are_the_searchs_picks(name):
    surface = get_surface(name, condition=DEFAULT_CONDITION)
    hyper = Hyper(lr=1e-3, lrs=surface.default_lrs)
    picks = tuning.best_learning_rates(surface, OPTIMIZER_NAMES, *surface.start, surface.default_steps, hyper)
    differ = {p.optimizer for p in picks if p.lr != surface.default_lrs[p.optimizer]}
    assert differ == SHARED_RATE.get(name, set())


# --- what each surface's description says, against what its defaults produce -------------
# Each test re-derives the numbers its description quotes and checks that the text (in
# English and in Chinese) quotes them, so neither the defaults nor the text can drift.

def _zh_description(name: str) -> str:
    from shared.i18n import ZH

    return ZH["optimizers.about_" + name.split()[0].lower().replace("-", "_")]


def _defaults(name: str, condition: float = DEFAULT_CONDITION) -> tuple[Surface, dict]:
    surface = get_surface(name, condition=condition)
    hyper = Hyper(lr=1e-3, lrs=surface.default_lrs)
    runs = {}
    for n in OPTIMIZER_NAMES:
        traj = run(surface, n, *surface.start, surface.default_steps, hyper)
        runs[n] = (traj, summary(surface, traj))
    return surface, runs


def _quotes(surface: Surface, *numbers: str) -> None:
    """Each number stands in both descriptions on its own (``10`` does not match ``100``)."""
    for number in numbers:
        alone = re.compile(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)")
        assert alone.search(surface.description), number
        assert alone.search(_zh_description(surface.name)), number


def _step_length(traj, k: int) -> float:
    return math.hypot(traj.xs[k + 1] - traj.xs[k], traj.ys[k + 1] - traj.ys[k])


def _steps_near(traj, point: tuple[float, float], radius: float) -> int:
    return sum(math.hypot(x - point[0], y - point[1]) < radius for x, y in zip(traj.xs, traj.ys, strict=True))


NUMBER = re.compile(r"[−-]?\d+(?:\.\d+)?")


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_both_languages_quote_the_same_numbers(name):
    def numbers(text: str) -> list[str]:
        return sorted(n.replace("−", "-") for n in NUMBER.findall(text.replace("10⁻³", "0.001")))

    assert numbers(get_surface(name).description) == numbers(_zh_description(name))


def test_rosenbrock_momentum_and_adam_win_in_the_narrow_valley():
    surface, runs = _defaults("Rosenbrock")
    sgd_lr = surface.default_lrs["SGD"]
    larger = next(g for g in tuning.GRID if g > sgd_lr * 1.01)
    assert run(surface, "SGD", *surface.start, surface.default_steps, Hyper(lr=larger)).diverged
    sgd, momentum, adam = (runs[n][1] for n in ("SGD", "Momentum", "Adam"))
    assert sgd["steps_to_tol"] is None and momentum["steps_to_tol"] and adam["steps_to_tol"]
    _quotes(surface, f"{sgd_lr:g}", f"f − f* = {sgd['gap_to_min']:.1f}", str(surface.default_steps),
            str(momentum["steps_to_tol"]), str(adam["steps_to_tol"]))


def test_beale_adagrads_steps_vanish_and_adam_needs_its_bias_correction():
    surface, runs = _defaults("Beale")
    shared = surface.default_lrs["Adam"]
    assert surface.default_lrs["Adagrad"] == surface.default_lrs["RMSprop"] == shared
    adagrad, rmsprop, adam = (runs[n] for n in ("Adagrad", "RMSprop", "Adam"))
    last = surface.default_steps - 1
    # Adagrad: steps more than 100 times shorter by the end, stalled short of the minimum.
    assert _step_length(adagrad[0], last) < _step_length(adagrad[0], 0) / 100
    # RMSprop: an uncorrected first step 1 / sqrt(1 - α) = 10 times Adam's, and no shrinking.
    assert round(_step_length(rmsprop[0], 0) / _step_length(adam[0], 0)) == 10
    assert _step_length(rmsprop[0], last) > shared / 2 and rmsprop[1]["gap_to_min"] > 1e-3
    _quotes(surface, f"{shared:g}", "100", f"{adagrad[1]['distance_to_nearest_min']:.2f}", "10",
            str(adam[1]["steps_to_tol"]))


def test_himmelblau_plain_and_adaptive_methods_roll_into_different_basins():
    surface, runs = _defaults("Himmelblau")

    def basin(name: str) -> tuple[float, float]:
        _, result = runs[name]
        assert result["distance_to_nearest_min"] < 1e-3
        end = (result["final_x"], result["final_y"])
        return min(surface.minima, key=lambda m: math.dist(end, m))

    plain = {basin(n) for n in ("SGD", "Momentum", "Nesterov")}
    adaptive = {basin(n) for n in ("RMSprop", "Adam")}
    assert len(plain) == len(adaptive) == 1 and plain != adaptive
    for (x, y) in plain | adaptive:
        _quotes(surface, f"({x:.2f}, {y:.2f})".replace("-", "−"))


def test_rastrigin_momentum_rolls_over_ridges_plain_sgd_does_not():
    surface, runs = _defaults("Rastrigin")

    def dip(name: str) -> tuple[int, int]:
        _, result = runs[name]
        return round(result["final_x"]), round(result["final_y"])

    def ridges(name: str) -> int:
        return sum(abs(a - b) for a, b in zip(dip(name), dip("SGD"), strict=True))

    sgd = runs["SGD"][1]
    assert dip("SGD") == (round(surface.start[0]), round(surface.start[1]))  # the dip by the start
    assert ridges("Momentum") == 1 and runs["Momentum"][1]["final_loss"] < sgd["final_loss"]
    assert ridges("RMSprop") >= 3 and ridges("Adam") >= 3
    assert all(result["distance_to_nearest_min"] > 0.5 for _, result in runs.values())
    _quotes(surface, f"({sgd['final_x']:.2f}, {sgd['final_y']:.2f})", str(surface.default_steps))


def test_saddle_plain_gradient_descent_lingers_where_the_gradient_vanishes():
    surface, runs = _defaults("Saddle")
    near = {n: _steps_near(runs[n][0], (0.0, 0.0), 0.25) for n in ("SGD", "Momentum", "Adam", "RMSprop")}
    assert near["SGD"] >= 10 and near["Adam"] == near["RMSprop"] == 0 and near["Momentum"] < near["SGD"]
    assert runs["SGD"][1]["distance_to_nearest_min"] < 1e-6
    _quotes(surface, f"{surface.start[1]:f}".rstrip("0"), str(near["SGD"]), "0.25", str(near["Momentum"]))


def test_quadratic_momentum_and_adam_beat_tuned_gradient_descent_only_when_it_is_narrow():
    surface, runs = _defaults("Ill-conditioned quadratic")
    sgd, momentum, adam, nesterov = (runs[n][1] for n in ("SGD", "Momentum", "Adam", "Nesterov"))
    assert surface.default_lrs["SGD"] < 2 / DEFAULT_CONDITION
    assert sgd["steps_to_tol"] is None
    _quotes(surface, f"κ = {DEFAULT_CONDITION:g}", str(surface.default_steps),
            f"f − f* = {sgd['gap_to_min']:.1g}",
            str(momentum["steps_to_tol"]), str(adam["steps_to_tol"]), str(nesterov["steps_to_tol"]))
    # A rounder bowl, every optimizer at the rate the search picks there.
    bowl = get_surface("Ill-conditioned quadratic", condition=10.0)
    picks = tuning.best_learning_rates(bowl, ["SGD", "Momentum", "Adam"], *bowl.start, bowl.default_steps,
                                       Hyper(lr=1e-3))
    took = {p.optimizer: summary(bowl, run(bowl, p.optimizer, *bowl.start, bowl.default_steps,
                                           Hyper(lr=p.lr)))["steps_to_tol"] for p in picks}
    assert took["SGD"] < took["Momentum"] and took["SGD"] < took["Adam"]
    _quotes(surface, "κ = 10", str(took["SGD"]), str(took["Momentum"]), str(took["Adam"]))


# --- the figures and tables speak the request's language -----------------------------------

# Words that stay as they are in Chinese: names, units and symbols.
NAMES = set(OPTIMIZER_NAMES) | {"Rosenbrock", "Beale", "Himmelblau", "Rastrigin", "PyTorch", "JSON", "log",
                                "lr", "ms", "µs"}
WORD = re.compile(r"[A-Za-z]{2,}")


def test_every_text_has_both_languages_with_the_same_fields():
    import string

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    cjk = re.compile(r"[\u4e00-\u9fff]")
    for key, (english, chinese) in texts.TEXTS.items():
        assert chinese.strip() and fields(english) == fields(chinese), key
        assert cjk.search(chinese) or not WORD.search(english.replace("f − f*", "")), key
    assert set(texts.EXPLANATIONS_ZH) == set(EXPLANATIONS)
    assert texts.language_of("zh-CN,zh;q=0.9") == texts.language_of("zh") == "zh-CN"
    assert texts.language_of("en-US") == texts.language_of(None) == "en"


def _figure_words(fig) -> list[str]:
    spec = fig.to_plotly_json()
    layout = spec["layout"]
    found = [layout.get("title", {}).get("text", "")]
    for key, value in layout.items():
        if key.startswith(("xaxis", "yaxis")):
            found.append(value.get("title", {}).get("text", ""))
        if key == "scene":
            found += [value[a].get("title", {}).get("text", "") for a in ("xaxis", "yaxis", "zaxis")]
    for slider in layout.get("sliders", []):
        found += [slider["currentvalue"].get("prefix", ""), slider["currentvalue"].get("suffix", "")]
    for menu in layout.get("updatemenus", []):
        found += [button["label"] for button in menu["buttons"]]
    for trace in spec["data"]:
        if trace.get("showlegend", True):
            found.append(trace.get("name") or "")
        found.append(trace.get("colorbar", {}).get("title", {}).get("text", ""))
    for note in layout.get("annotations", []):
        found.append(note.get("text", ""))
    return [w for text in found for w in WORD.findall(text.replace("<br>", " "))]


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_figures_in_chinese_have_no_english_words(name):
    surface = get_surface(name)
    trajs = run_all(surface, OPTIMIZER_NAMES, *surface.start, 60, Hyper(lr=1e-3, lrs=surface.default_lrs))
    figs = [plots.contour_figure(surface, trajs, "zh-CN"), plots.surface_figure(surface, trajs, "zh-CN"),
            plots.loss_figure(surface, trajs, "zh-CN")]
    figs += [plots.step_figure(surface, t, 5, "zh-CN") for t in trajs]
    for fig in figs:
        assert set(_figure_words(fig)) <= NAMES, fig.layout.title.text
    english = plots.contour_figure(surface, trajs)
    assert "paths" in english.layout.title.text and _figure_words(english) != _figure_words(figs[0])


def test_batch_panel_in_chinese_has_no_english_words():
    result = batch_modes.run_batch_modes("logistic", n_samples=64, batch_size=8, epochs=3)
    for fig in plots.batch_figures(result, "zh-CN"):
        assert set(_figure_words(fig)) <= NAMES, fig.layout.title.text
    table = batch_modes.table_rows(result, "zh-CN")
    cells = table["headers"] + [str(c) for row in table["data"] for c in row]
    assert {w for c in cells for w in WORD.findall(c)} <= NAMES


def test_contour_slider_steps_move_only_the_markers_to_each_steps_points():
    # No animation frames (Gradio's Plotly.react drops them): each slider step restyles the
    # marker trace, the last one, to where every optimizer is after that many steps.
    surface = get_surface("Saddle")
    trajs = run_all(surface, ["SGD", "Adam"], *surface.start, 80, Hyper(lr=0.1))
    spec = plots.contour_figure(surface, trajs).to_plotly_json()
    markers = len(spec["data"]) - 1
    for step in spec["layout"]["sliders"][0]["steps"]:
        k = int(step["label"])
        assert step["method"] == "restyle" and step["args"][1] == [markers]
        assert step["args"][0] == {"x": [[t.xs[k] for t in trajs]], "y": [[t.ys[k] for t in trajs]]}
    assert int(spec["layout"]["sliders"][0]["steps"][-1]["label"]) == 80
    buttons = spec["layout"]["updatemenus"][0]["buttons"]
    assert [(b["name"], b["method"]) for b in buttons] == [("play", "skip"), ("pause", "skip")]
