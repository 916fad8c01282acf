"""The optimizer playground: compute time, and a redraw through the real app."""

from __future__ import annotations

from benchmarks.timing import measure
from demos.optimizers.optimizers import OPTIMIZER_NAMES, Hyper, run_all
from demos.optimizers.surfaces import get_surface

GOAL_COMPUTE_MS = 150.0  # nine optimizers x 500 steps
GOAL_REDRAW_MS = 300.0  # one slider change, end to end through gradio_client


def compute_rows(repeats: int) -> list[dict]:
    surface = get_surface("Rosenbrock")
    x0, y0 = surface.start

    def sweep() -> None:
        run_all(surface, OPTIMIZER_NAMES, x0, y0, 500, Hyper(lr=surface.default_lr))

    t = measure(sweep, repeats=repeats)
    # Plain Python and NumPy: always on the CPU, whatever device the models use.
    return [{
        "what": "optimizers: 9 optimizers x 500 steps, compute only", "device": "cpu",
        "median_ms": t.median_ms, "p95_ms": t.p95_ms, "goal": f"<= {GOAL_COMPUTE_MS:.0f} ms",
        "met": t.median_ms <= GOAL_COMPUTE_MS,
    }]


def redraw_rows(client, repeats: int) -> list[dict]:
    """A slider change is one `/optimize` call with one input changed."""
    rows = []
    for label, names in (("default 5 optimizers", ["SGD", "Momentum", "Nesterov", "RMSprop", "Adam"]),
                         ("all 9 optimizers", list(OPTIMIZER_NAMES))):
        lrs = iter([1e-3 * (1 + 0.01 * k) for k in range(10_000)])

        def call(names=names, lrs=lrs) -> None:
            client.predict(surface="Rosenbrock", optimizers=names, lr=next(lrs), steps=500,
                           x0=-1.5, y0=2.0, api_name="/optimize")

        t = measure(call, repeats=repeats)
        rows.append({
            "what": f"optimizers: /optimize end to end, {label} x 500 steps",
            "median_ms": t.median_ms, "p95_ms": t.p95_ms, "goal": f"<= {GOAL_REDRAW_MS:.0f} ms",
            "met": t.median_ms <= GOAL_REDRAW_MS,
        })
    t = measure(lambda: client.predict(model="linear", n_samples=256, batch_size=32, epochs=20,
                                       lr=0.1, api_name="/batch_modes"), repeats=repeats)
    rows.append({"what": "optimizers: /batch_modes end to end, N=256, 20 epochs",
                 "median_ms": t.median_ms, "p95_ms": t.p95_ms, "goal": "", "met": None})
    return rows
