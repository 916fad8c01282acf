"""The CycleGAN tab: generator latency, and `/translate` end to end against the floor."""

from __future__ import annotations

import torch

import demos.cyclegan.registry  # noqa: F401  (registers the CycleGAN models)
from benchmarks.timing import ROOT, measure, row
from demos.cyclegan.inference import reverse_of
from demos.cyclegan.model import official_generator
from demos.cyclegan.registry import cyclegan_names
from shared.device import pick_device
from shared.loading import get_model

EXAMPLE = ROOT / "examples" / "cyclegan" / "texture_a_90.png"
GOAL_MS = 50.0  # a bundled generator on one 256x256 image
GOAL_RATIO = 1.3  # end to end / (model + floor)


def model_rows(repeats: int) -> tuple[list[dict], float]:
    x = (torch.rand(1, 3, 256, 256) * 2 - 1).to(pick_device())
    bundled = get_model("cyclegan-plain2striped")
    with torch.inference_mode():
        t = measure(lambda: bundled(x), repeats=repeats)
        official = official_generator().eval().to(x.device)  # random weights: the cost, not the picture
        big = measure(lambda: official(x), repeats=max(3, repeats // 5), warmup=1)
    rows = [
        row("cyclegan: bundled generator (8 wide, 6 blocks), model only, 256x256", t,
            goal=f"<= {GOAL_MS:.0f} ms", met=t.median_ms <= GOAL_MS),
        row("cyclegan: official 9-block generator (random weights), model only, 256x256", big),
    ]
    return rows, t.median_ms


def end_to_end_rows(client, floor_client, repeats: int) -> list[dict]:
    """One /translate runs the generator and its reverse (the cycle) on a 128 px scene.

    Its model time is those two generator passes; the metrics, the edge overlay and
    the change map are the tab's own work and count as overhead.
    """
    from gradio_client import handle_file

    path = handle_file(str(EXAMPLE))
    floor = measure(lambda: floor_client.predict(image=path, api_name="/echo_translate"), repeats=repeats)
    rows = [row("floor for /translate: same image in, before/after pair + 3 images + text + JSON out",
                floor)]
    x = (torch.rand(1, 3, 128, 128) * 2 - 1).to(pick_device())
    for name in cyclegan_names("bundled"):
        back = get_model(reverse_of(name))
        g = get_model(name)
        with torch.inference_mode():
            model = measure(lambda g=g, back=back: back(g(x)), repeats=repeats)
        t = measure(lambda name=name: client.predict(image=path, model=name, direction="A→B",
                                                     api_name="/translate"), repeats=repeats)
        ratio = t.median_ms / (model.median_ms + floor.median_ms)
        rows.append(row(f"cyclegan: {name} and its reverse, model only, 128x128", model))
        rows.append(row(f"cyclegan: /translate end to end, {name}, 128 px (overhead ratio {ratio:.2f})", t,
                        goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO))
    return rows
