"""A fair race: each optimizer's best learning rate on a log grid.

Optimizers are not comparable at one shared learning rate: Adam's steps are about
``lr`` long whatever the gradient, SGD's are ``lr`` times the gradient, Adadelta's
rate is a multiplier near 1. So each one is run once per grid value, from the same
start for the same number of steps, and keeps the value whose run scores best.

The score is ``log10(f - f*)``, floored at ``FLOOR``, read two ways: first its worst
value over the last quarter of the steps (where the run ends up and stays, so a run
that touches the minimum and bounces away does not win), then, to separate runs that
all end at the floor, its mean over every step (which of them got there soonest). A
run that diverges loses.
On a quadratic this picks plain gradient descent's textbook rate 2 / (λ_min + λ_max),
to within one grid step (see the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from demos.optimizers.optimizers import Hyper, Trajectory, run
from demos.optimizers.surfaces import Surface

PER_DECADE = 4
GRID: tuple[float, ...] = tuple(10 ** (k / PER_DECADE) for k in range(-4 * PER_DECADE, PER_DECADE + 1))
FLOOR = 1e-12  # below this, f - f* is rounding error on these surfaces


@dataclass(frozen=True)
class Pick:
    """The chosen learning rate of one optimizer and how every grid value scored."""

    optimizer: str
    lr: float
    scores: tuple[tuple[float, float], ...]  # per grid value: (worst of the tail, mean of the run)


def score(surface: Surface, traj: Trajectory, steps: int) -> tuple[float, float]:
    """(worst log10 gap over the last quarter of ``steps``, mean over all of them); lower is better."""
    if traj.diverged:
        return (math.inf, math.inf)
    logs = [math.log10(max(loss - surface.f_min, FLOOR)) for loss in traj.losses]
    tail = logs[-max(1, (steps + 1) // 4) :]
    return (max(tail), sum(logs) / len(logs))


def best_learning_rate(
    surface: Surface, name: str, x0: float, y0: float, steps: int, hyper: Hyper, grid: Sequence[float] = GRID
) -> Pick:
    """Run ``name`` at every rate in ``grid`` (the other settings from ``hyper``); keep the best."""
    scores = []
    for lr in grid:
        trial = replace(hyper, lrs={**hyper.lrs, name: lr})
        scores.append(score(surface, run(surface, name, x0, y0, steps, trial), steps))
    best = min(range(len(grid)), key=lambda i: scores[i])
    return Pick(name, float(f"{grid[best]:.3g}"), tuple(scores))


def best_learning_rates(
    surface: Surface,
    names: Sequence[str],
    x0: float,
    y0: float,
    steps: int,
    hyper: Hyper,
    grid: Sequence[float] = GRID,
) -> list[Pick]:
    """`best_learning_rate` for each optimizer in ``names``, in order."""
    return [best_learning_rate(surface, name, x0, y0, steps, hyper, grid) for name in names]
