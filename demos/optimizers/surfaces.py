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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Point = tuple[float, float]
# (x, y, xp) -> value; and (x, y, xp) -> (d/dx, d/dy).
SurfaceFn = Callable[[Any, Any, Any], Any]
GradFn = Callable[[Any, Any, Any], tuple[Any, Any]]


@dataclass(frozen=True)
class Surface:
    """A loss surface plus the defaults that make its picture instructive."""

    name: str
    f: SurfaceFn
    grad: GradFn
    domain: tuple[float, float, float, float]  # (xmin, xmax, ymin, ymax)
    minima: list[Point]
    f_min: float
    start: Point
    default_lr: float
    default_steps: int
    log_contour: bool  # colour by log(f - f*) when values span many decades
    description: str


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

_FIXED: dict[str, Surface] = {
    "Rosenbrock": Surface(
        "Rosenbrock", _rosenbrock, _rosenbrock_grad, (-2.0, 2.0, -1.0, 3.0),
        [(1.0, 1.0)], 0.0, (-1.5, 2.0), 1e-3, 500, True,
        "A curved valley whose floor is almost flat: finding the valley is easy, "
        "following it to (1, 1) is slow without momentum or adaptive steps.",
    ),
    "Beale": Surface(
        "Beale", _beale, _beale_grad, (-4.5, 4.5, -4.5, 4.5),
        [(3.0, 0.5)], 0.0, (0.5, -1.5), 1e-2, 500, True,
        "Steep walls near the corners and a long flat arm towards (3, 0.5); "
        "gradient sizes vary by orders of magnitude.",
    ),
    "Himmelblau": Surface(
        "Himmelblau", _himmelblau, _himmelblau_grad, (-5.0, 5.0, -5.0, 5.0),
        [(3.0, 2.0),
         (-2.805118086952745, 3.131312518250573),
         (-3.779310253377747, -3.2831859912861696),
         (3.5844283403304917, -1.8481265269644034)],
        0.0, (-0.3, -0.9), 1e-2, 300, True,
        "Four equally good minima. Starting next to the hilltop, different "
        "optimizers roll into different basins.",
    ),
    "Rastrigin": Surface(
        "Rastrigin", _rastrigin, _rastrigin_grad, (-5.12, 5.12, -5.12, 5.12),
        [(0.0, 0.0)], 0.0, (4.5, 4.2), 4e-3, 300, False,
        "A bowl covered in ripples: plain gradient descent stops in the first "
        "local minimum; momentum can roll over a few ridges.",
    ),
    "Saddle": Surface(
        "Saddle", _saddle, _saddle_grad, (-2.5, 2.5, -2.0, 2.0),
        [(0.0, 1.0), (0.0, -1.0)], -0.25, (2.0, 0.01), 0.05, 200, False,
        "The origin is a saddle point: the gradient vanishes there, so plain "
        "gradient descent lingers before sliding to a minimum at (0, +-1).",
    ),
}


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
        raise ValueError("The condition number must be a number between 1 and 1000.")
    if name in _FIXED:
        return _FIXED[name]
    if name != "Ill-conditioned quadratic":
        raise ValueError(
            f"Unknown surface {name!r}. Choose one of: {', '.join(SURFACE_NAMES)}."
        )
    f, grad = _make_quadratic(kappa)
    return Surface(
        "Ill-conditioned quadratic", f, grad, (-3.0, 3.0, -3.0, 3.0),
        [(0.0, 0.0)], 0.0, (-2.5, 1.0),
        # Above 1 / kappa, so plain gradient descent overshoots across the
        # narrow direction and zig-zags, yet below Nesterov's stability limit
        # (about 1.36 / kappa at momentum 0.9); capped for kappa near 1.
        min(0.5, 1.3 / kappa), 150, False,
        f"A bowl {kappa:g} times steeper across than along, tilted by 30 degrees: "
        "gradient descent zig-zags across it; momentum and Adam-style methods "
        "make faster progress along it.",
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
