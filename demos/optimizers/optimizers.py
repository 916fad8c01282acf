"""Nine optimizers on a two-parameter point, matching torch.optim step for step.

The playground must redraw as soon as a slider moves, so the optimizers do not
go through torch at all: the parameter is two python floats, the gradient is
the surface's analytic one evaluated with ``math``, and each update repeats the
exact arithmetic of the matching ``torch.optim._single_tensor_*`` function, in
the same order. The tests compare both implementations step by step.

Every step also records the optimizer's internal state, so the step-by-step
view can show *why* a step went where it did.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from demos.optimizers import update_rules
from demos.optimizers.surfaces import MESSAGES as SURFACE_ERRORS
from demos.optimizers.surfaces import SURFACE_NAMES, Surface, get_surface
from demos.optimizers.update_rules import EXPLANATIONS, OPTIMIZER_NAMES, default_eps
from shared import errors
from shared.templates import fill
from shared.validation import MESSAGES as CHOICE
from shared.validation import BadInput, finite

# The names the settings are refused under, and this module's own errors (shared.errors).
NAMES = errors.templates("error.optimizers", {
    "lr": "The learning rate", "momentum": "Momentum", "beta1": "beta1", "beta2": "beta2",
    "rho": "Adadelta's rho", "alpha": "RMSprop's alpha",
    "eps": "Epsilon", "weight_decay": "Weight decay", "adadelta_lr": "Adadelta's learning rate",
    "lr_of": "The learning rate of [optimizer]", "noise": "Gradient noise", "x0": "The start x",
    "y0": "The start y",
    "seed": "The seed must be a whole number from 0 to 2**32 - 1, got [value].",
    "no_optimizer": "Pick at least one optimizer.",
    "steps": "The number of steps must be a whole number from 1 to [most].",
})

__all__ = [
    "EXPLANATIONS", "OPTIMIZER_NAMES", "Hyper", "Trajectory", "default_eps",
    "run", "run_all", "summary", "time_all", "to_dict", "validate_hyper", "validate_run",
]

MAX_STEPS = 2000
MAX_COORD = 1e6  # beyond this a run has clearly left the picture: call it diverged


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters shared by all optimizers; each uses the ones it knows."""

    lr: float
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.9  # Adadelta's decay
    alpha: float = 0.99  # RMSprop's decay
    eps: float | None = None  # None: torch's default for each optimizer
    weight_decay: float = 0.0
    adadelta_lr: float = 1.0  # Adadelta's update is already unit-correct
    noise: float = 0.0  # std of Gaussian noise added to each gradient
    seed: int = 0
    # Learning rates of single optimizers, overriding `lr` (and `adadelta_lr` for
    # Adadelta): a fair race gives each optimizer the rate that suits it.
    lrs: Mapping[str, float] = field(default_factory=dict)

    def lr_of(self, name: str) -> float:
        """The learning rate optimizer ``name`` runs with."""
        return self.lrs.get(name, self.adadelta_lr if name == "Adadelta" else self.lr)

    def for_optimizer(self, name: str) -> Hyper:
        """These settings with ``name``'s own learning rate in the field its rule reads."""
        if name not in self.lrs:
            return self
        if name == "Adadelta":
            return replace(self, adadelta_lr=self.lrs[name])
        return replace(self, lr=self.lrs[name])


@dataclass
class Trajectory:
    """One optimizer's run. ``xs[k], ys[k]`` is the point after k steps;
    ``grads[k]`` (the gradient the optimizer was given, noise included, weight
    decay not) and ``states[k]`` describe step k + 1, from point k to k + 1."""

    name: str
    xs: list[float]
    ys: list[float]
    losses: list[float]
    grads: list[tuple[float, float]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    diverged: bool = False
    diverged_at: int | None = None


def validate_hyper(hyper: Hyper) -> None:
    """Raise ``BadInput`` with a plain-English message for a bad setting."""
    finite(hyper.lr, NAMES["lr"], low=0.0, low_open=True)
    finite(hyper.momentum, NAMES["momentum"], low=0.0, high=1.0, high_open=True)
    finite(hyper.beta1, NAMES["beta1"], low=0.0, high=1.0, high_open=True)
    finite(hyper.beta2, NAMES["beta2"], low=0.0, high=1.0, high_open=True)
    finite(hyper.rho, NAMES["rho"], low=0.0, high=1.0, high_open=True)
    finite(hyper.alpha, NAMES["alpha"], low=0.0, high=1.0, high_open=True)
    if hyper.eps is not None:
        finite(hyper.eps, NAMES["eps"], low=0.0, low_open=True)
    finite(hyper.weight_decay, NAMES["weight_decay"], low=0.0)
    finite(hyper.adadelta_lr, NAMES["adadelta_lr"], low=0.0, low_open=True)
    for name, lr in hyper.lrs.items():
        if name not in OPTIMIZER_NAMES:
            raise BadInput(fill(CHOICE["unknown"], what=CHOICE["what_optimizer"], name=repr(name),
                                known=", ".join(OPTIMIZER_NAMES)))
        finite(lr, fill(NAMES["lr_of"], optimizer=name), low=0.0, low_open=True)
    finite(hyper.noise, NAMES["noise"], low=0.0)
    if isinstance(hyper.seed, bool) or not isinstance(hyper.seed, (int, np.integer)) \
            or not 0 <= hyper.seed < 2**32:
        raise BadInput(fill(NAMES["seed"], value=repr(hyper.seed)))


def validate_run(surface_name: str, names: list[str] | tuple[str, ...],
                 steps: int, x0: float = 0.0, y0: float = 0.0) -> None:
    """Check the non-hyperparameter inputs of a run; raise ``BadInput``."""
    if surface_name not in SURFACE_NAMES:
        raise BadInput(fill(SURFACE_ERRORS["unknown_surface"], name=repr(surface_name),
                            known=", ".join(SURFACE_NAMES)))
    if not names:
        raise BadInput(NAMES["no_optimizer"])
    unknown = [n for n in names if n not in OPTIMIZER_NAMES]
    if unknown:
        raise BadInput(fill(CHOICE["unknown"], what=CHOICE["what_optimizer"], name=repr(unknown[0]),
                            known=", ".join(OPTIMIZER_NAMES)))
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) \
            or not 1 <= steps <= MAX_STEPS:
        raise BadInput(fill(NAMES["steps"], most=MAX_STEPS))
    finite(x0, NAMES["x0"], low=-MAX_COORD, high=MAX_COORD)
    finite(y0, NAMES["y0"], low=-MAX_COORD, high=MAX_COORD)


def _noise(hyper: Hyper, steps: int) -> list[list[float]] | None:
    # Drawn up front from the run's seed, so every optimizer sees the very same
    # noise sequence and differences between them are the optimizers' own.
    if hyper.noise == 0.0:
        return None
    rng = np.random.default_rng(hyper.seed)
    return (rng.standard_normal((steps, 2)) * hyper.noise).tolist()


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def run(surface: Surface, optimizer_name: str, x0: float, y0: float,
        steps: int, hyper: Hyper) -> Trajectory:
    """Run one optimizer from ``(x0, y0)`` for up to ``steps`` updates.

    A run stops early, marked diverged, as soon as a coordinate, the loss or
    the gradient stops being finite or a coordinate leaves [-1e6, 1e6]; only
    finite values are kept.
    """
    validate_hyper(hyper)
    validate_run(surface.name, [optimizer_name], steps, x0, y0)
    f, grad = surface.f, surface.grad
    step = update_rules.make(optimizer_name, hyper.for_optimizer(optimizer_name))
    noise = _noise(hyper, steps)

    p = [float(x0), float(y0)]
    traj = Trajectory(optimizer_name, [p[0]], [p[1]], [f(p[0], p[1], math)])
    for k in range(steps):
        try:
            gx, gy = grad(p[0], p[1], math)
            if noise is not None:
                gx += noise[k][0]
                gy += noise[k][1]
            if not _finite(gx, gy):
                raise OverflowError
            state = step(p, [gx, gy])
            x, y = p
            if not (_finite(x, y) and abs(x) <= MAX_COORD and abs(y) <= MAX_COORD):
                raise OverflowError
            loss = f(x, y, math)
            if not math.isfinite(loss):
                raise OverflowError
        except (OverflowError, ZeroDivisionError, ValueError):
            # Python floats raise on some overflows where numpy returns inf;
            # either way the run has blown up at step k + 1.
            traj.diverged, traj.diverged_at = True, k + 1
            break
        traj.xs.append(x)
        traj.ys.append(y)
        traj.losses.append(loss)
        traj.grads.append((gx, gy))
        traj.states.append(state)
    return traj


def run_all(surface: Surface, names: list[str] | tuple[str, ...], x0: float,
            y0: float, steps: int, hyper: Hyper) -> list[Trajectory]:
    """Run every optimizer in ``names`` from the same start with the same noise."""
    validate_run(surface.name, names, steps, x0, y0)
    return [run(surface, name, x0, y0, steps, hyper) for name in names]


def summary(surface: Surface, traj: Trajectory, tol: float = 1e-3) -> dict[str, Any]:
    """Final point and loss, distance to the nearest minimum, steps to tolerance."""
    x, y = traj.xs[-1], traj.ys[-1]
    distance = min(math.hypot(x - mx, y - my) for mx, my in surface.minima)
    reached = next((k for k, loss in enumerate(traj.losses)
                    if loss - surface.f_min <= tol), None)
    return {
        "optimizer": traj.name,
        "final_x": x,
        "final_y": y,
        "final_loss": traj.losses[-1],
        "gap_to_min": traj.losses[-1] - surface.f_min,
        "distance_to_nearest_min": distance,
        "steps_to_tol": reached,
        "steps_run": len(traj.xs) - 1,
        "diverged": traj.diverged,
        "diverged_at": traj.diverged_at,
    }


def _round(value: float, digits: int = 6) -> float:
    return float(f"{value:.{digits}g}")


def to_dict(traj: Trajectory, max_points: int = 500) -> dict[str, Any]:
    """A compact JSON-ready view: at most ``max_points`` evenly spaced steps,
    rounded to 6 significant digits (full runs are too large to ship)."""
    n = len(traj.xs)
    idx = sorted(set(np.linspace(0, n - 1, min(n, max_points)).round().astype(int).tolist()))
    return {
        "name": traj.name,
        "step": idx,
        "x": [_round(traj.xs[i]) for i in idx],
        "y": [_round(traj.ys[i]) for i in idx],
        "loss": [_round(traj.losses[i]) for i in idx],
        "diverged": traj.diverged,
        "diverged_at": traj.diverged_at,
    }


def time_all(surface_name: str = "Rosenbrock", steps: int = 500,
             repeats: int = 7) -> dict[str, float]:
    """Time all nine optimizers for ``steps`` steps from the surface's start.

    Returns the median and 95th-percentile wall time of one full sweep in ms.
    """
    surface = get_surface(surface_name)
    hyper = Hyper(lr=1e-3, lrs=surface.default_lrs)
    x0, y0 = surface.start
    run_all(surface, OPTIMIZER_NAMES, x0, y0, steps, hyper)  # warm caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_all(surface, OPTIMIZER_NAMES, x0, y0, steps, hyper)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    return {"median_ms": statistics.median(times), "p95_ms": p95}
