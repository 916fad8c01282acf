"""The detector-limits tab: the oracle alone, and `/detector_limits` end to end against its floor.

The model part of one request is the scene, `oracle.run_all` (ten rules, with torchvision's
anchors and matchers) and `sweeps.all_curves` (the five sweeps behind the plots). No
network runs, so this is torch and Python on the CPU wherever the app runs. Drawing the
six pictures, building the five figures, the table and the JSON count as overhead, against
a floor that sends back six pictures of the same size, a table, five figures, a text and JSON.
"""

from __future__ import annotations

import torch

from benchmarks.timing import Timing, measure, row
from demos.limits import oracle, sweeps
from demos.limits.scenes import generate

# (label, crowding, size, aspect, rotation, groups, group size): the tab's first example and its densest.
CASES = [("24 pedestrians in groups of 3", 0.6, 56, 2.5, 0, 8, 3),
         ("a crowd of 200 small objects", 0.2, 16, 2.5, 0, 40, 5)]
GOAL_RATIO = 1.3  # end to end / (model + floor)


def _compute(crowding: float, size: float, aspect: float, rotation: float, groups: int, per: int) -> None:
    with torch.inference_mode():
        scene = generate(crowding, size, aspect, rotation, groups, per)
        oracle.run_all(scene, 0.5, 0.5)
        sweeps.all_curves(crowding, size, aspect, rotation, per, False, 0.5, 0.5)


def model_rows(repeats: int) -> tuple[list[dict], dict[str, Timing]]:
    rows, timings = [], {}
    for label, *settings in CASES:
        t = measure(lambda s=settings: _compute(*s), repeats=repeats)
        timings[label] = t
        rows.append(row(f"limits: oracle (10 rules) + 5 sweeps, {label}, compute only", t, device="cpu"))
    return rows, timings


def end_to_end_rows(client, floor_client, timings: dict[str, Timing], repeats: int) -> list[dict]:
    floor = measure(lambda: floor_client.predict(api_name="/echo_limits"), repeats=repeats)
    rows = [row("floor for /detector_limits: 6 pictures + table + 5 prebuilt plots + text + JSON out", floor)]
    for label, crowding, size, aspect, rotation, groups, per in CASES:
        t = measure(lambda c=crowding, s=size, a=aspect, r=rotation, g=groups, p=per: client.predict(
            source="generated", crowding=c, size=s, aspect=a, rotation=r, groups=g, group_size=p,
            api_name="/detector_limits"), repeats=repeats)
        ratio = t.median_ms / (timings[label].median_ms + floor.median_ms)
        rows.append(row(f"limits: /detector_limits end to end, {label} (overhead ratio {ratio:.2f})", t,
                        goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO))
    return rows
