"""The update rule of each optimizer, over a parameter of two python floats.

Each rule mirrors the matching ``torch.optim._single_tensor_*`` function:
same formulas, same order of operations (e.g. ``addcdiv(t1, t2, value=c)`` is
``p + c * t1 / t2`` evaluated left to right) and the same weight-decay
convention, so trajectories agree with torch to rounding error.

``make(name, hyper)`` returns ``step(p, g) -> state``: it updates the list
``p`` in place from the gradient ``g`` and returns a dict describing the step.
Every state has ``raw_step`` (where plain gradient descent with ``hyper.lr``
would go, for comparison) and ``update`` (the step actually taken); optimizers
with a velocity or first moment also give ``momentum_step`` (that vector
times ``-lr``) so the step view can draw it on the same scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Step = Callable[[list[float], list[float]], dict[str, Any]]

OPTIMIZER_NAMES: tuple[str, ...] = (
    "SGD", "Momentum", "Nesterov", "Adagrad", "Adadelta",
    "RMSprop", "Adam", "AdamW", "NAdam",
)

# torch's default epsilon per class; SGD and its momentum variants have none.
_DEFAULT_EPS = {"Adagrad": 1e-10, "Adadelta": 1e-6, "RMSprop": 1e-8,
                "Adam": 1e-8, "AdamW": 1e-8, "NAdam": 1e-8}
_NADAM_MOMENTUM_DECAY = 4e-3

EXPLANATIONS: dict[str, str] = {
    "SGD": (
        r"Steps straight down the gradient: $\theta_t = \theta_{t-1} - \eta\, g_t$. "
        "One learning rate for every direction, so it crawls where the surface is "
        "flat and bounces across narrow valleys where it is steep."
    ),
    "Momentum": (
        r"Keeps a velocity $v_t = \mu v_{t-1} + g_t$ and steps "
        r"$\theta_t = \theta_{t-1} - \eta\, v_t$. Gradients that agree add up "
        r"(up to $1/(1-\mu)$ times larger steps) and alternating ones cancel, "
        "which damps zig-zags and carries it across flat stretches."
    ),
    "Nesterov": (
        r"Momentum with a look-ahead: $v_t = \mu v_{t-1} + g_t$, "
        r"$\theta_t = \theta_{t-1} - \eta\,(g_t + \mu v_t)$ (torch's form of "
        "evaluating the gradient where the velocity is about to take you). It "
        "brakes earlier when the velocity overshoots."
    ),
    "Adagrad": (
        r"Divides each coordinate's step by the root of all its past squared "
        r"gradients: $s_t = s_{t-1} + g_t^2$, "
        r"$\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{s_t} + \epsilon)$. "
        r"Steep directions get small steps, but $s_t$ only grows, so every step "
        "keeps shrinking."
    ),
    "Adadelta": (
        r"$E[g^2]_t = \rho E[g^2]_{t-1} + (1-\rho) g_t^2$, "
        r"$\Delta_t = \frac{\sqrt{E[\Delta^2]_{t-1} + \epsilon}}{\sqrt{E[g^2]_t + \epsilon}}\, g_t$, "
        r"$\theta_t = \theta_{t-1} - \gamma\, \Delta_t$, "
        r"$E[\Delta^2]_t = \rho E[\Delta^2]_{t-1} + (1-\rho)\Delta_t^2$. "
        r"The ratio of RMS step to RMS gradient has the units of $\theta$, so it "
        r"needs no learning rate ($\gamma = 1$); it starts slowly because "
        r"$E[\Delta^2]_0 = 0$."
    ),
    "RMSprop": (
        r"Adagrad with a leaky memory: $v_t = \alpha v_{t-1} + (1-\alpha) g_t^2$, "
        r"$\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{v_t} + \epsilon)$. "
        "Step sizes follow the recent gradient size and do not decay to zero."
    ),
    "Adam": (
        r"Momentum plus RMSprop, both bias-corrected: "
        r"$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$, "
        r"$v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$, "
        r"$\theta_t = \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$ "
        r"with $\hat m_t = m_t / (1-\beta_1^t)$, $\hat v_t = v_t / (1-\beta_2^t)$. "
        r"Each step is about $\eta$ long whatever the size of the gradient."
    ),
    "AdamW": (
        r"Adam with decoupled weight decay: first shrink "
        r"$\theta \leftarrow (1 - \eta\lambda)\,\theta$, then take the Adam step. "
        r"Adam's own weight decay adds $\lambda\theta$ to $g_t$, where "
        r"$\sqrt{\hat v_t}$ rescales it; with $\lambda = 0$ the two are identical."
    ),
    "NAdam": (
        r"Adam with Nesterov momentum: the step mixes the fresh gradient and the "
        r"momentum one step ahead, $\theta_t = \theta_{t-1} - \eta \big("
        r"\frac{(1-\mu_t)\, g_t}{1 - \prod_{i \le t} \mu_i} + "
        r"\frac{\mu_{t+1}\, m_t}{1 - \prod_{i \le t+1} \mu_i}\big) / (\sqrt{\hat v_t} + \epsilon)$, "
        r"with $\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{0.004\, t})$."
    ),
}


def default_eps(name: str) -> float | None:
    """torch's default epsilon for optimizer ``name`` (None if it has none)."""
    return _DEFAULT_EPS.get(name)


def _lerp(start: float, end: float, weight: float) -> float:
    # torch's lerp picks the form that is exact at its nearer end.
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def _sgd(h: Any, eps: float | None, kind: str) -> Step:
    lr, mu, wd = h.lr, h.momentum, h.weight_decay
    buf: list[float] | None = None  # torch creates the buffer on the first step

    def step(p: list[float], g: list[float]) -> dict[str, Any]:
        nonlocal buf
        old = (p[0], p[1])
        d = [g[i] + wd * p[i] if wd != 0 else g[i] for i in (0, 1)]
        state: dict[str, Any] = {"raw_step": (-lr * g[0], -lr * g[1])}
        if kind != "SGD" and mu != 0:
            if buf is None:
                buf = [d[0], d[1]]
            else:
                buf = [buf[i] * mu + d[i] for i in (0, 1)]  # dampening 0
            d = [d[i] + mu * buf[i] for i in (0, 1)] if kind == "Nesterov" else buf
            state["velocity"] = (buf[0], buf[1])
            state["momentum_step"] = (-lr * buf[0], -lr * buf[1])
        for i in (0, 1):
            p[i] = p[i] + -lr * d[i]
        state["update"] = (p[0] - old[0], p[1] - old[1])
        return state

    return step


def _adagrad(h: Any, eps: float, kind: str) -> Step:
    lr, wd = h.lr, h.weight_decay
    acc = [0.0, 0.0]

    def step(p: list[float], g: list[float]) -> dict[str, Any]:
        old = (p[0], p[1])
        eff = [0.0, 0.0]
        for i in (0, 1):
            gi = g[i] + wd * p[i] if wd != 0 else g[i]
            acc[i] = acc[i] + gi * gi
            std = math.sqrt(acc[i]) + eps
            p[i] = p[i] + -lr * gi / std  # lr_decay = 0, so clr = lr
            eff[i] = lr / std
        return {"raw_step": (-lr * g[0], -lr * g[1]),
                "sum_sq_grad": (acc[0], acc[1]),
                "effective_lr": (eff[0], eff[1]),
                "update": (p[0] - old[0], p[1] - old[1])}

    return step


def _adadelta(h: Any, eps: float, kind: str) -> Step:
    lr, rho, wd = h.adadelta_lr, h.rho, h.weight_decay
    sq, acc = [0.0, 0.0], [0.0, 0.0]

    def step(p: list[float], g: list[float]) -> dict[str, Any]:
        old = (p[0], p[1])
        eff = [0.0, 0.0]
        for i in (0, 1):
            gi = g[i] + wd * p[i] if wd != 0 else g[i]
            sq[i] = sq[i] * rho + (1 - rho) * gi * gi
            std = math.sqrt(sq[i] + eps)
            delta = math.sqrt(acc[i] + eps) / std
            eff[i] = lr * delta
            delta = delta * gi
            acc[i] = acc[i] * rho + (1 - rho) * delta * delta
            p[i] = p[i] + -lr * delta
        return {"raw_step": (-h.lr * g[0], -h.lr * g[1]),
                "avg_sq_grad": (sq[0], sq[1]),
                "avg_sq_update": (acc[0], acc[1]),
                "effective_lr": (eff[0], eff[1]),
                "update": (p[0] - old[0], p[1] - old[1])}

    return step


def _rmsprop(h: Any, eps: float, kind: str) -> Step:
    lr, alpha, wd = h.lr, h.alpha, h.weight_decay
    sq = [0.0, 0.0]

    def step(p: list[float], g: list[float]) -> dict[str, Any]:
        old = (p[0], p[1])
        eff = [0.0, 0.0]
        for i in (0, 1):
            gi = g[i] + wd * p[i] if wd != 0 else g[i]
            sq[i] = sq[i] * alpha + (1 - alpha) * gi * gi
            avg = math.sqrt(sq[i]) + eps
            p[i] = p[i] + -lr * gi / avg
            eff[i] = lr / avg
        return {"raw_step": (-lr * g[0], -lr * g[1]),
                "avg_sq_grad": (sq[0], sq[1]),
                "effective_lr": (eff[0], eff[1]),
                "update": (p[0] - old[0], p[1] - old[1])}

    return step


def _adam(h: Any, eps: float, kind: str) -> Step:
    lr, b1, b2, wd = h.lr, h.beta1, h.beta2, h.weight_decay
    decoupled = kind == "AdamW"
    nadam = kind == "NAdam"
    m, v = [0.0, 0.0], [0.0, 0.0]
    t = 0
    # NAdam only: product of the momentum schedule so far. torch keeps it in the
    # default dtype, so it matches this float64 value when that is float64.
    mu_product = 1.0

    def step(p: list[float], g: list[float]) -> dict[str, Any]:
        nonlocal t, mu_product
        old = (p[0], p[1])
        t += 1
        bc2 = 1 - b2 ** float(t)
        if nadam:
            mu = b1 * (1.0 - 0.5 * (0.96 ** (t * _NADAM_MOMENTUM_DECAY)))
            mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * _NADAM_MOMENTUM_DECAY)))
            mu_product *= mu
            c_grad = -lr * (1.0 - mu) / (1.0 - mu_product)
            c_mom = (-lr * mu_next) / (1.0 - mu_product * mu_next)
            bc1 = 1.0 - mu_product  # NAdam's bias correction of the first moment
        else:
            bc1 = 1 - b1 ** float(t)
            step_size = lr / bc1
            bc2_sqrt = bc2**0.5
        eff = [0.0, 0.0]
        for i in (0, 1):
            gi = g[i]
            if wd != 0:
                if decoupled:
                    p[i] = p[i] * (1 - lr * wd)
                else:
                    gi = gi + wd * p[i]
            m[i] = _lerp(m[i], gi, 1 - b1)  # torch: exp_avg.lerp_(grad, 1 - beta1)
            v[i] = v[i] * b2 + (1 - b2) * gi * gi
            if nadam:
                denom = math.sqrt(v[i] / bc2) + eps
                p[i] = p[i] + c_grad * gi / denom
                p[i] = p[i] + c_mom * m[i] / denom
                eff[i] = lr / denom
            else:
                denom = math.sqrt(v[i]) / bc2_sqrt + eps
                p[i] = p[i] + -step_size * m[i] / denom
                eff[i] = lr / denom
        state = {"raw_step": (-lr * g[0], -lr * g[1]),
                 "first_moment": (m[0], m[1]),
                 "second_moment": (v[0], v[1]),
                 "momentum_step": (-lr * m[0] / bc1, -lr * m[1] / bc1),
                 "effective_lr": (eff[0], eff[1]),
                 "update": (p[0] - old[0], p[1] - old[1])}
        if nadam:
            state["mu"] = mu
        return state

    return step


_BUILDERS: dict[str, Callable[[Any, Any, str], Step]] = {
    "SGD": _sgd, "Momentum": _sgd, "Nesterov": _sgd,
    "Adagrad": _adagrad, "Adadelta": _adadelta, "RMSprop": _rmsprop,
    "Adam": _adam, "AdamW": _adam, "NAdam": _adam,
}


def make(name: str, hyper: Any) -> Step:
    """A fresh optimizer ``name`` (no state yet) using ``hyper``'s settings."""
    if name not in _BUILDERS:
        raise ValueError(f"Unknown optimizer {name!r}. Choose from: {', '.join(OPTIMIZER_NAMES)}.")
    eps = hyper.eps if hyper.eps is not None else _DEFAULT_EPS.get(name)
    return _BUILDERS[name](hyper, eps, name)
