"""The CycleGAN tab: generator latency, and `/translate` end to end against the floor."""

from __future__ import annotations

import torch

import demos.cyclegan.registry  # noqa: F401  (registers the CycleGAN models)
from benchmarks.timing import ROOT, measure
from demos.cyclegan.model import official_generator
from shared.loading import get_model

EXAMPLE = ROOT / "examples" / "cyclegan" / "texture_a_90.png"
GOAL_MS = 50.0  # a bundled generator on one 256x256 image


def model_rows(repeats: int) -> tuple[list[dict], float]:
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    bundled = get_model("cyclegan-plain2striped")
    with torch.inference_mode():
        t = measure(lambda: bundled(x), repeats=repeats)
        official = official_generator().eval()  # random weights: the cost, not the picture
        big = measure(lambda: official(x), repeats=max(3, repeats // 5), warmup=1)
    rows = [
        {"what": "cyclegan: bundled generator (8 wide, 6 blocks), model only, 256x256",
         "median_ms": t.median_ms, "p95_ms": t.p95_ms, "goal": f"<= {GOAL_MS:.0f} ms",
         "met": t.median_ms <= GOAL_MS},
        {"what": "cyclegan: official 9-block generator (random weights), model only, 256x256",
         "median_ms": big.median_ms, "p95_ms": big.p95_ms, "goal": "", "met": None},
    ]
    return rows, t.median_ms


def end_to_end_rows(client, floor_ms: float, repeats: int) -> list[dict]:
    """One /translate runs the generator and its reverse (the cycle) on a 128 px scene."""
    from gradio_client import handle_file

    path = handle_file(str(EXAMPLE))
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    g = get_model("cyclegan-plain2striped")
    with torch.inference_mode():
        model = measure(lambda: (g(x), g(x)), repeats=repeats)
    t = measure(lambda: client.predict(image=path, model="cyclegan-plain2striped", direction="A→B",
                                       api_name="/translate"), repeats=repeats)
    ratio = t.median_ms / (model.median_ms + floor_ms)
    return [{"what": f"cyclegan: /translate end to end, 128 px, both directions (overhead ratio {ratio:.2f})",
             "median_ms": t.median_ms, "p95_ms": t.p95_ms, "goal": "", "met": None}]
