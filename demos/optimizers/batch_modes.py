"""Batch, stochastic and mini-batch gradient descent on a two-parameter model.

The same model is trained from the same start three times, with batches of the
whole data set (BGD), of one sample (SGD) and of ``batch_size`` samples, using
the same shuffling seed. Each run records its path in (w, b) space, the
full-data loss after every update, how many per-sample gradients it has
computed so far and how long its updates took, which is what the panel needs
to show the trade-off: cheap noisy steps against expensive smooth ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from demos.optimizers import texts
from shared import errors
from shared.templates import fill
from shared.validation import MESSAGES as NUMBER
from shared.validation import BadInput

MESSAGES = errors.templates("error.batch", {
    "no_model": "Choose a model: 'linear' or 'logistic'.",
    "unknown_model": "Unknown model [name]. Choose 'linear' or 'logistic'.",
    "n_samples": "The number of samples", "batch_size": "The mini-batch size",
    "epochs": "The number of epochs", "seed": "The seed",
    "passes": "Samples x epochs must be at most [most] so the SGD run stays quick; use fewer samples or "
              "fewer epochs.",
    "lr": "The learning rate must be a number greater than 0 and at most 100.",
})

MODELS: tuple[str, ...] = ("linear", "logistic")
DEFAULT_LR = {"linear": 0.1, "logistic": 0.5}
START = (-1.0, 2.0)  # (w, b): the same far-away corner for every run
TRUE_PARAMS = {"linear": (2.0, -1.0), "logistic": (2.0, -0.5)}
# A small ridge term on the logistic loss keeps its optimum finite even when a
# small sample happens to be linearly separable.
LOGISTIC_L2 = 1e-3
MAX_SAMPLES = 1024
MAX_EPOCHS = 100
MAX_SAMPLE_PASSES = 10_240  # n_samples * epochs: bounds SGD's update count
MAX_PARAM = 1e6


def sigmoid(z: np.ndarray) -> np.ndarray:
    # The tanh form never overflows, however far a large learning rate throws z.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class Dataset:
    model: str
    x: np.ndarray
    y: np.ndarray


@dataclass
class ModeRun:
    """One training run; list entries are per update, index 0 is the start."""

    mode: str  # "batch GD", "SGD" or "mini-batch"
    label: str  # the same with its batch size, for legends
    batch_size: int
    ws: list[float]
    bs: list[float]
    losses: list[float]  # full-data loss
    grad_evals: list[int]  # per-sample gradients computed so far
    epoch_losses: list[float] = field(default_factory=list)  # index 0: start
    update_times_s: list[float] = field(default_factory=list)
    epoch_times_s: list[float] = field(default_factory=list)
    updates_per_epoch: int = 0
    stability: float = 0.0  # std of the full-data loss over the last epoch
    diverged: bool = False


@dataclass
class BatchModesResult:
    model: str
    n_samples: int
    epochs: int
    lr: float
    seed: int
    data: Dataset
    start: tuple[float, float]
    optimum: tuple[float, float]
    optimum_loss: float
    runs: list[ModeRun]
    grid: tuple[np.ndarray, np.ndarray, np.ndarray]  # (ws, bs, Z[b, w])


def make_data(model: str, n_samples: int, seed: int) -> Dataset:
    """Seeded 1-D inputs with targets from the true (w, b) of ``model``."""
    rng = np.random.default_rng(seed)
    w, b = TRUE_PARAMS[model]
    # Inputs centred off zero so w and b are correlated: the loss bowl is a
    # tilted ellipse rather than a circle, which makes the paths differ.
    x = rng.normal(0.5, 1.0, n_samples)
    if model == "linear":
        y = w * x + b + rng.normal(0.0, 0.5, n_samples)
    else:
        y = (rng.random(n_samples) < sigmoid(w * x + b)).astype(float)
    return Dataset(model, x, y)


def loss(model: str, w: Any, b: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """Mean loss over (x, y); ``w`` and ``b`` may be arrays (then over the last axis)."""
    z = np.multiply.outer(w, x) + np.expand_dims(b, -1) if np.ndim(w) else w * x + b
    if model == "linear":
        return 0.5 * np.mean((z - y) ** 2, axis=-1)
    # Binary cross-entropy from logits, in the overflow-safe softplus form.
    bce = np.mean(np.logaddexp(0.0, z) - y * z, axis=-1)
    return bce + 0.5 * LOGISTIC_L2 * (np.square(w) + np.square(b))


def gradient(model: str, w: float, b: float, x: np.ndarray,
             y: np.ndarray) -> tuple[float, float]:
    """Gradient of the mean loss over the batch (x, y) with respect to (w, b)."""
    # Dot products and ufunc reductions rather than np.mean: for the tiny
    # batches of SGD the call overhead, not the arithmetic, is the cost.
    z = w * x + b
    r = z - y if model == "linear" else sigmoid(z) - y
    k = len(x)
    gw, gb = float(r @ x) / k, float(np.add.reduce(r)) / k
    if model == "logistic":
        gw, gb = gw + LOGISTIC_L2 * w, gb + LOGISTIC_L2 * b
    return gw, gb


def optimum(data: Dataset) -> tuple[float, float]:
    """The exact minimiser: normal equations for linear, Newton for logistic."""
    X = np.stack([data.x, np.ones_like(data.x)], axis=1)
    if data.model == "linear":
        sol = np.linalg.solve(X.T @ X, X.T @ data.y)
        return float(sol[0]), float(sol[1])
    theta = np.zeros(2)
    for _ in range(100):
        p = sigmoid(X @ theta)
        g = X.T @ (p - data.y) / len(data.x) + LOGISTIC_L2 * theta
        H = (X.T * (p * (1 - p))) @ X / len(data.x) + LOGISTIC_L2 * np.eye(2)
        step = np.linalg.solve(H, g)
        theta -= step
        if np.max(np.abs(step)) < 1e-13:
            break
    return float(theta[0]), float(theta[1])


def validate_batch_inputs(model: str, n_samples: int, batch_size: int,
                          epochs: int, lr: float, seed: int) -> None:
    """Raise ``ValueError`` in plain words for inputs the panel cannot run."""
    if not model:
        raise BadInput(MESSAGES["no_model"])
    if model not in MODELS:
        raise BadInput(fill(MESSAGES["unknown_model"], name=repr(model)))

    def whole(value: Any, label: str, low: int, high: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not low <= value <= high:
            raise BadInput(fill(NUMBER["whole_range"], name=label, low=low, high=high))

    whole(n_samples, MESSAGES["n_samples"], 16, MAX_SAMPLES)
    whole(batch_size, MESSAGES["batch_size"], 1, n_samples)
    whole(epochs, MESSAGES["epochs"], 1, MAX_EPOCHS)
    whole(seed, MESSAGES["seed"], 0, 2**32 - 1)
    if n_samples * epochs > MAX_SAMPLE_PASSES:
        raise BadInput(fill(MESSAGES["passes"], most=MAX_SAMPLE_PASSES))
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not math.isfinite(lr) or not 0 < lr <= 100:
        raise BadInput(MESSAGES["lr"])


def _path_losses(data: Dataset, ws: list[float], bs: list[float]) -> list[float]:
    # Full-data loss at every recorded point, evaluated after training in
    # vectorised chunks: one call per update would cost more than the update.
    w, b = np.asarray(ws), np.asarray(bs)
    out = [loss(data.model, w[i:i + 512], b[i:i + 512], data.x, data.y)
           for i in range(0, len(w), 512)]
    return np.concatenate(out).tolist()


def _train(data: Dataset, mode: str, batch_size: int, epochs: int, lr: float,
           seed: int) -> ModeRun:
    x, y, model = data.x, data.y, data.model
    n = len(x)
    w, b = START
    label = {"batch GD": "Batch GD (all {n} samples)", "SGD": "SGD (1 sample)"}.get(
        mode, "Mini-batch ({b} samples)").format(n=n, b=batch_size)
    run = ModeRun(mode, label, batch_size, [w], [b], [], [0],
                  updates_per_epoch=math.ceil(n / batch_size))
    # The shuffling generator is seeded the same for every run, so all three
    # see the samples in the same order each epoch.
    order_rng = np.random.default_rng(seed + 1)
    evals = 0
    epoch_ends = [0]  # index into the path after each completed epoch
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = order_rng.permutation(n)
        epoch_time = time.perf_counter() - t0
        for start in range(0, n, batch_size):
            t0 = time.perf_counter()
            idx = order[start:start + batch_size]
            gw, gb = gradient(model, w, b, x[idx], y[idx])
            w, b = w - lr * gw, b - lr * gb
            spent = time.perf_counter() - t0
            run.update_times_s.append(spent)
            epoch_time += spent
            evals += len(idx)
            if not (math.isfinite(w) and math.isfinite(b)
                    and abs(w) <= MAX_PARAM and abs(b) <= MAX_PARAM):
                run.diverged = True
                break
            run.ws.append(w)
            run.bs.append(b)
            run.grad_evals.append(evals)
        run.epoch_times_s.append(epoch_time)
        if run.diverged:
            break
        epoch_ends.append(len(run.ws) - 1)
    run.losses = _path_losses(data, run.ws, run.bs)
    run.epoch_losses = [run.losses[i] for i in epoch_ends]
    if not run.diverged:
        run.stability = float(np.std(run.losses[-run.updates_per_epoch:]))
    return run


def loss_grid(data: Dataset, points: list[tuple[float, float]],
              n: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-data loss on an ``n`` x ``n`` (w, b) grid framing ``points``."""
    pts = np.asarray(points, dtype=float)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum(0.25 * (hi - lo), 0.5)
    ws = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    bs = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    W, B = np.meshgrid(ws, bs)
    Z = np.empty_like(W)
    for i in range(n):  # row by row keeps the temporary (n, n_samples) small
        Z[i] = loss(data.model, W[i], B[i], data.x, data.y)
    return ws, bs, Z


def run_batch_modes(model: str, n_samples: int = 256, batch_size: int = 32,
                    epochs: int = 20, lr: float | None = None,
                    seed: int = 0) -> BatchModesResult:
    """Train with BGD, SGD and mini-batches of ``batch_size`` from one start.

    ``lr=None`` uses the model's default learning rate.
    """
    lr = DEFAULT_LR.get(model, 0.1) if lr is None else lr
    validate_batch_inputs(model, n_samples, batch_size, epochs, lr, seed)
    data = make_data(model, n_samples, seed)
    best = optimum(data)
    runs = [
        _train(data, "batch GD", n_samples, epochs, lr, seed),
        _train(data, "SGD", 1, epochs, lr, seed),
        _train(data, "mini-batch", batch_size, epochs, lr, seed),
    ]
    grid = loss_grid(data, [START, best])
    return BatchModesResult(model, n_samples, epochs, float(lr), seed, data, START,
                            best, float(loss(model, *best, data.x, data.y)), runs, grid)


def batch_summary(result: BatchModesResult) -> list[dict[str, Any]]:
    """One JSON-ready row per run: cost, speed, accuracy and noise, all measured."""
    rows = []
    for run in result.runs:
        rows.append({
            "mode": run.mode,
            "label": run.label,
            "batch_size": run.batch_size,
            "updates_per_epoch": run.updates_per_epoch,
            "updates": len(run.ws) - 1,
            "gradient_evaluations": run.grad_evals[-1],
            "final_w": run.ws[-1],
            "final_b": run.bs[-1],
            "final_loss": run.losses[-1],
            "gap_to_optimum": run.losses[-1] - result.optimum_loss,
            "distance_to_optimum": math.hypot(run.ws[-1] - result.optimum[0],
                                              run.bs[-1] - result.optimum[1]),
            "mean_update_us": 1e6 * float(np.mean(run.update_times_s)) if run.update_times_s else 0.0,
            "mean_epoch_ms": 1e3 * float(np.mean(run.epoch_times_s)) if run.epoch_times_s else 0.0,
            "last_epoch_loss_std": run.stability,
            "diverged": run.diverged,
        })
    return rows


TABLE_HEADERS = ["mode", "batch size", "updates per epoch", "updates", "gradient evaluations",
                 "final loss", "loss − best", "mean time per update (µs)",
                 "mean time per epoch (ms)", "loss std over last epoch", "diverged"]
_HEADER_KEYS = ["mode", "batch_size", "updates_per_epoch", "updates", "evals", "final_loss", "gap",
                "update_us", "epoch_ms", "std", "diverged"]


def table_rows(result: BatchModesResult, lang: str = texts.EN) -> dict[str, Any]:
    """The summary as a table in ``lang``: ``{"headers": [...], "data": [[...], ...]}``."""
    data = [[texts.text(f"mode.{r['mode']}", lang, n=result.n_samples, b=r["batch_size"]),
             r["batch_size"], r["updates_per_epoch"], r["updates"],
             r["gradient_evaluations"], f"{r['final_loss']:.5g}", f"{r['gap_to_optimum']:.3g}",
             f"{r['mean_update_us']:.1f}", f"{r['mean_epoch_ms']:.3f}",
             f"{r['last_epoch_loss_std']:.3g}", texts.text("yes" if r["diverged"] else "no", lang)]
            for r in batch_summary(result)]
    return {"headers": [texts.text(f"bcol.{k}", lang) for k in _HEADER_KEYS], "data": data}


def _thin(values: list[Any], idx: np.ndarray) -> list[Any]:
    return [float(f"{values[i]:.6g}") if isinstance(values[i], float) else values[i] for i in idx]


def to_json(result: BatchModesResult, max_points: int = 500) -> dict[str, Any]:
    """JSON-ready results: settings, optimum, per-mode summary and thinned paths."""
    modes = []
    for row, run in zip(batch_summary(result), result.runs, strict=True):
        n = len(run.ws)
        idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
        modes.append({**row, "path": {
            "update": idx.tolist(), "w": _thin(run.ws, idx), "b": _thin(run.bs, idx),
            "loss": _thin(run.losses, idx), "gradient_evaluations": _thin(run.grad_evals, idx),
        }, "epoch_losses": [float(f"{v:.6g}") for v in run.epoch_losses]})
    return {
        "model": result.model, "n_samples": result.n_samples, "epochs": result.epochs,
        "lr": result.lr, "seed": result.seed, "start": list(result.start),
        "optimum": list(result.optimum), "optimum_loss": result.optimum_loss, "modes": modes,
    }
