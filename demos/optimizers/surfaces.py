"""Two-dimensional loss surfaces for the optimizer playground.

Each surface is written once and evaluated three ways: with ``math`` on plain
floats (the fast path the optimizers step on), with ``numpy`` on arrays (the
contour grids) and with ``torch`` on tensors (so the tests can check the
hand-written gradients against autograd). That is why ``f`` and ``grad`` take
the array module ``xp`` as an argument and only use arithmetic plus
``xp.cos`` / ``xp.sin``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from demos.optimizers.update_rules import OPTIMIZER_NAMES
from shared import errors
from shared.templates import fill
from shared.validation import BadInput

MESSAGES = errors.templates("error.optimizers", {
    "condition": "The condition number must be a number between 1 and 1000.",
    "unknown_surface": "Unknown surface [name]. Choose one of: [known].",
})

Point = tuple[float, float]
# (x, y, xp) -> value; and (x, y, xp) -> (d/dx, d/dy).
SurfaceFn = Callable[[Any, Any, Any], Any]
GradFn = Callable[[Any, Any, Any], tuple[Any, Any]]


@dataclass(frozen=True)
class Surface:
    """A loss surface plus the defaults that make its picture instructive.

    ``default_lrs`` gives every optimizer its own learning rate (Adadelta's is its
    multiplier); ``description`` states what a run with these defaults shows, and
    tests/test_optimizers.py checks each statement against the numbers.
    """

    name: str
    f: SurfaceFn
    grad: GradFn
    domain: tuple[float, float, float, float]  # (xmin, xmax, ymin, ymax)
    minima: list[Point]
    f_min: float
    start: Point
    default_lrs: Mapping[str, float]
    default_steps: int
    log_contour: bool  # colour by log(f - f*) when values span many decades
    description: str
    default_optimizers: tuple[str, ...] = ("SGD", "Momentum", "Nesterov", "RMSprop", "Adam")

    @property
    def default_lr(self) -> float:
        """Plain SGD's default rate: one rate for callers that give all optimizers the same."""
        return self.default_lrs["SGD"]


# --- Rosenbrock: a curved, flat-bottomed valley -------------------------------

def _rosenbrock(x: Any, y: Any, xp: Any) -> Any:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(x: Any, y: Any, xp: Any) -> tuple[Any, Any]:
    r = y - x**2
    return -2 * (1 - x) - 400 * x * r, 200 * r


# --- Beale: steep walls and a long flat arm towards (3, 0.5) ------------------

def _beale(x: Any, y: Any, xp: Any) -> Any:
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y**2
    c = 2.625 - x + x * y**3
    return a**2 + b**2 + c**2


def _beale_grad(x: Any, y: Any, xp: Any) -> tuple[Any, Any]:
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y**2
    c = 2.625 - x + x * y**3
    gx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    gy = 2 * a * x + 4 * b * x * y + 6 * c * x * y**2
    return gx, gy


# --- Himmelblau: four equal minima; which one you reach depends on the path ---

def _himmelblau(x: Any, y: Any, xp: Any) -> Any:
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _himmelblau_grad(x: Any, y: Any, xp: Any) -> tuple[Any, Any]:
    a = x**2 + y - 11
    b = x + y**2 - 7
    return 4 * x * a + 2 * b, 2 * a + 4 * y * b


# --- Rastrigin: a bowl covered in local minima --------------------------------

_TWO_PI = 2.0 * math.pi


def _rastrigin(x: Any, y: Any, xp: Any) -> Any:
    return 20 + x**2 - 10 * xp.cos(_TWO_PI * x) + y**2 - 10 * xp.cos(_TWO_PI * y)


def _rastrigin_grad(x: Any, y: Any, xp: Any) -> tuple[Any, Any]:
    return (2 * x + 10 * _TWO_PI * xp.sin(_TWO_PI * x),
            2 * y + 10 * _TWO_PI * xp.sin(_TWO_PI * y))


# --- Saddle: the gradient vanishes at the origin, which is not a minimum ------

def _saddle(x: Any, y: Any, xp: Any) -> Any:
    return 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2


def _saddle_grad(x: Any, y: Any, xp: Any) -> tuple[Any, Any]:
    return x, y**3 - y


# --- Ill-conditioned quadratic: a long narrow bowl, tilted by 30 degrees ------
# The tilt matters: axis-aligned bowls flatter per-coordinate methods (Adagrad,
# RMSprop, Adam rescale each axis separately), a rotated one does not.

_COS30 = math.cos(math.pi / 6)
_SIN30 = math.sin(math.pi / 6)


def _make_quadratic(kappa: float) -> tuple[SurfaceFn, GradFn]:
    def f(x: Any, y: Any, xp: Any) -> Any:
        u = _COS30 * x + _SIN30 * y
        v = -_SIN30 * x + _COS30 * y
        return 0.5 * (u**2 + kappa * v**2)

    def grad(x: Any, y: Any, xp: Any) -> tuple[Any, Any]:
        u = _COS30 * x + _SIN30 * y
        v = -_SIN30 * x + _COS30 * y
        # Chain rule through the rotation: d/dx = u du/dx + kappa v dv/dx.
        return (_COS30 * u - kappa * _SIN30 * v,
                _SIN30 * u + kappa * _COS30 * v)

    return f, grad


SURFACE_NAMES: tuple[str, ...] = (
    "Rosenbrock",
    "Beale",
    "Himmelblau",
    "Rastrigin",
    "Saddle",
    "Ill-conditioned quadratic",
)
DEFAULT_CONDITION = 100.0  # the quadratic's κ in the tab; the API keeps 10 for old callers


def _lrs(*rates: float) -> dict[str, float]:
    """Learning rates in OPTIMIZER_NAMES order: SGD, Momentum, Nesterov, Adagrad,
    Adadelta, RMSprop, Adam, AdamW, NAdam."""
    return dict(zip(OPTIMIZER_NAMES, rates, strict=True))


# Unless a description says otherwise, every default rate is the one the "best learning
# rate for each" search (demos.optimizers.tuning) picks from the surface's start: a fair
# race. The tests re-run the search, so these cannot drift from it.
_FIXED: dict[str, Surface] = {
    "Rosenbrock": Surface(
        "Rosenbrock", _rosenbrock, _rosenbrock_grad, (-2.0, 2.0, -1.0, 3.0),
        [(1.0, 1.0)], 0.0, (-1.5, 2.0),
        _lrs(0.00178, 0.00178, 0.001, 1.78, 10.0, 0.0562, 1.0, 1.0, 10.0), 500, True,
        "A curved valley with an almost flat floor. Every optimizer starts at its own best "
        "learning rate from the grid search (the button under the rates). Plain SGD's is 0.00178, "
        "as it diverges at the next grid value, and that is too small to follow the floor: after "
        "500 steps it is still far from (1, 1), at f − f* = 0.7. Momentum and Adam build up speed "
        "along the floor and get within 0.001 of the minimum, in 310 and 415 steps.",
    ),
    "Beale": Surface(
        "Beale", _beale, _beale_grad, (-4.5, 4.5, -4.5, 4.5),
        [(3.0, 0.5)], 0.0, (0.5, -1.5),
        # Adagrad, RMSprop and Adam (with AdamW, its twin) share one rate here, so their rules
        # are what differs; the others run at their picks.
        _lrs(0.0316, 0.0178, 0.01, 0.1, 1.78, 0.1, 0.1, 0.1, 0.0562), 500, True,
        "Steep walls and a long flat arm towards (3, 0.5). Adagrad, RMSprop and Adam share the "
        "learning rate 0.1 here, so only their rules differ. Adagrad's sum of squared gradients "
        "only grows: its steps shrink more than 100-fold and it stalls on the flat arm, 0.35 short "
        "of the minimum. RMSprop's average of g² starts at zero and is not bias-corrected, so its "
        "first step is 10 times Adam's; its steps never shrink, and it ends still hopping around "
        "the minimum. Adam gets within 0.001 of it in 43 steps.",
        default_optimizers=("SGD", "Momentum", "Adagrad", "RMSprop", "Adam"),
    ),
    "Himmelblau": Surface(
        "Himmelblau", _himmelblau, _himmelblau_grad, (-5.0, 5.0, -5.0, 5.0),
        [(3.0, 2.0),
         (-2.805118086952745, 3.131312518250573),
         (-3.779310253377747, -3.2831859912861696),
         (3.5844283403304917, -1.8481265269644034)],
        0.0, (-0.3, -0.9),
        _lrs(0.01, 0.01, 0.00562, 1.0, 0.562, 0.0562, 1.78, 1.78, 0.178), 300, True,
        "Four equally good minima. From next to the hilltop, at each optimizer's best learning "
        "rate, SGD, Momentum and Nesterov roll into the basin at (−3.78, −3.28), while RMSprop "
        "and Adam, which rescale each coordinate, end in the one at (−2.81, 3.13).",
    ),
    "Rastrigin": Surface(
        "Rastrigin", _rastrigin, _rastrigin_grad, (-5.12, 5.12, -5.12, 5.12),
        [(0.0, 0.0)], 0.0, (4.5, 4.2),
        _lrs(0.00316, 0.00562, 0.00316, 3.16, 0.562, 0.178, 1.0, 1.0, 0.0316), 300, False,
        "A bowl covered in ripples, each one a local minimum. At their best learning rates plain "
        "SGD stops in the dip next to its start, at (3.98, 3.98); Momentum rolls over one ridge "
        "and stops lower; RMSprop and Adam, whose steps do not shrink with the gradient, hop over "
        "several. None reaches the centre in 300 steps.",
    ),
    "Saddle": Surface(
        "Saddle", _saddle, _saddle_grad, (-2.5, 2.5, -2.0, 2.0),
        [(0.0, 1.0), (0.0, -1.0)], -0.25, (2.0, 1e-4),
        _lrs(0.562, 0.316, 0.562, 1.0, 10.0, 0.1, 0.316, 0.316, 0.178), 100, False,
        "The origin is a saddle: the gradient vanishes there, yet it is no minimum. Starting "
        "0.0001 off the ridge, at its best learning rate, plain gradient descent spends 15 steps "
        "within 0.25 of the saddle, where the gradient is almost zero, before it slides off to "
        "(0, 1). Adam and RMSprop, which divide the gradient by its own size, do not stop there "
        "at all; Momentum passes in 2 steps.",
    ),
}
# The quadratic's rates are its picks at κ = DEFAULT_CONDITION; other κ keep them.
_QUADRATIC_LRS = _lrs(0.0178, 0.00316, 0.00562, 3.16, 10.0, 0.316, 1.0, 1.0, 1.0)


def get_surface(name: str, condition: float = 10.0) -> Surface:
    """Return the surface called ``name``; ``condition`` is the quadratic's kappa.

    ``condition`` is checked even where it is unused, so a bad value sent to the API
    is reported rather than silently ignored.
    """
    try:
        kappa = float(condition)
    except (TypeError, ValueError):
        kappa = math.nan
    if not math.isfinite(kappa) or not 1.0 <= kappa <= 1000.0:
        raise BadInput(MESSAGES["condition"])
    if name in _FIXED:
        return _FIXED[name]
    if name != "Ill-conditioned quadratic":
        raise BadInput(fill(MESSAGES["unknown_surface"], name=repr(name), known=", ".join(SURFACE_NAMES)))
    f, grad = _make_quadratic(kappa)
    return Surface(
        "Ill-conditioned quadratic", f, grad, (-3.0, 3.0, -3.0, 3.0),
        [(0.0, 0.0)], 0.0, (-2.5, 1.0), _QUADRATIC_LRS, 150, False,
        "A bowl κ times steeper across than along, tilted by 30 degrees. At κ = 100 and each "
        "optimizer's best learning rate, plain gradient descent, whose rate the steep direction "
        "caps below 2/κ, still crawls along the valley after 150 steps (f − f* = 0.006), while "
        "Momentum and Adam get within 0.001 of the minimum in 94 and 93 steps, and Nesterov in "
        "40. In a rounder bowl tuned plain gradient descent catches up: at κ = 10 the button "
        "finds rates with which it needs 22 steps, Momentum 81 and Adam 61.",
    )


def grid(surface: Surface, n: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate the surface on an ``n`` x ``n`` grid over its domain.

    Returns ``(xs, ys, Z)`` with ``Z[i, j] = f(xs[j], ys[i])`` (row = y), the
    layout plotly's contour and surface traces expect.
    """
    xmin, xmax, ymin, ymax = surface.domain
    xs = np.linspace(xmin, xmax, n)
    ys = np.linspace(ymin, ymax, n)
    X, Y = np.meshgrid(xs, ys)
    return xs, ys, surface.f(X, Y, np)
