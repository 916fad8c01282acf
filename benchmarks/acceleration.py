"""The acceleration tab's goals: speed-ups over fp32 eager, each measured in one run on this machine.

- Pretrained tier (torchvision's COCO detectors and Keypoint R-CNN) at 640x480: the app's
  serving path (`shared.acceleration`: bf16 autocast + channels-last on a CPU with bf16
  units) against fp32 eager; goal >= 2x with the outputs faithful. Their weights are not
  downloaded here, so the models carry seeded random weights: the time of an architecture
  does not depend on its weights, and the output difference still shows a faithful path.
- Bundled tier: the fastest technique that keeps the outputs within its tolerance and loses
  at most 0.5 points of the model's own metric; goal >= 1.5x, where a technique allows it.

Each row is one `demos.acceleration.measure.measure`, the code behind the tab: the techniques
are timed in turns, so a change in the machine's load hits them alike.
"""

from __future__ import annotations

from benchmarks.timing import measure as timed
from benchmarks.timing import row
from demos.acceleration import measure, subjects
from shared import acceleration as serving
from shared.registry import get_spec

GOAL_PRETRAINED, GOAL_BUNDLED, MAX_LOSS = 2.0, 1.5, 0.005
PRETRAINED = ["retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2", "fasterrcnn_resnet50_fpn_v2",
              "fasterrcnn_mobilenet_v3_large_320_fpn", "ssd300_vgg16", "ssdlite320_mobilenet_v3_large",
              "keypointrcnn_resnet50_fpn"]
SERVED = serving.PATHS[0].name  # bf16 autocast + channels-last
# What can run on a CPU in a benchmark's time (torch.compile compiles for minutes here).
BUNDLED_TECHNIQUES = ["inference_mode", "channels-last", "bf16 autocast", "bf16 autocast + channels-last",
                      "int8 dynamic", "int8 static (x86)"]


def _pretrained_row(name: str, repeats: int) -> dict:
    m = measure.measure(name, 640, [SERVED], repeats=repeats)
    base, served = m.rows[0], m.rows[1]
    weights = "random weights" if m.weights == "random" else "real weights"
    if served.status != "measured" or served.max_rel is None:
        reason = served.reason or served.note
        return row(f"acceleration: {name} at 640x480 ({weights}), {SERVED}: {reason}", float("nan"),
                   unit="×", goal=f">= {GOAL_PRETRAINED:g}× and faithful", met=False)
    met = bool(served.speedup >= GOAL_PRETRAINED and served.faithful)
    return row(f"acceleration: {name} at 640x480 ({weights}), {SERVED} vs fp32 eager "
               f"({served.median_ms / 1000:.2f} s vs {base.median_ms / 1000:.2f} s per image, outputs "
               f"within {served.max_rel:.2g} of fp32's largest value, limit {served.tolerance:g}; "
               f"{repeats} calls each)",
               served.speedup, unit="×", goal=f">= {GOAL_PRETRAINED:g}× and faithful", met=met)


def _bundled_row(name: str, repeats: int) -> dict:
    m = measure.measure(name, subjects.DEFAULT_SIZE["bundled"], BUNDLED_TECHNIQUES, repeats=repeats)
    top = measure.best(m, MAX_LOSS)
    goal = f">= {GOAL_BUNDLED:g}× with <= {100 * MAX_LOSS:g} points lost"
    if top is None:
        return row(f"acceleration: {name}, no technique faster and within tolerance here", 1.0, unit="×",
                   goal=goal, met=False)
    change = "" if top.change is None else f", {top.metric} {100 * top.change:+.2f} points"
    if top.change_ci:
        change += f" [{100 * top.change_ci[0]:+.2f}, {100 * top.change_ci[1]:+.2f}]"
    return row(f"acceleration: {name} at {m.size[0]}x{m.size[1]}, fastest within tolerance: {top.technique} "
               f"({top.median_ms:.1f} ms vs {m.rows[0].median_ms:.1f} ms{change})", top.speedup, unit="×",
               goal=goal, met=bool(top.speedup >= GOAL_BUNDLED))


def model_rows(repeats: int) -> list[dict]:
    """One row per pretrained detector and Keypoint R-CNN, then one per bundled model."""
    slow = max(3, repeats // 5)  # a pretrained call takes seconds on a CPU
    rows = [_pretrained_row(name, slow) for name in PRETRAINED]
    bundled = [n for n in subjects.names() if get_spec(n).tier == "bundled"]
    return rows + [_bundled_row(name, max(5, repeats // 2)) for name in bundled]


E2E = dict(model="cyclegan-plain2striped", input_size=128, techniques=["channels-last"], repeats=3)
GOAL_RATIO = 1.3


def end_to_end_rows(client, floor_client, repeats: int) -> list[dict]:
    """`/accelerate` end to end on a small request, against the same measurement in-process plus the
    floor (a summary, a 13-row table, a prebuilt plot and JSON sent back without measuring)."""
    settings = dict(E2E)
    count = max(3, repeats // 4)
    inside = timed(lambda: measure.measure(settings["model"], settings["input_size"], settings["techniques"],
                                           settings["repeats"]), repeats=count, warmup=1)
    floor = timed(lambda: floor_client.predict(**settings, api_name="/echo_accelerate"), repeats=count)
    e2e = timed(lambda: client.predict(**settings, api_name="/accelerate"), repeats=count)
    ratio = e2e.median_ms / (inside.median_ms + floor.median_ms)
    what = (f"{settings['model']} at {settings['input_size']} px, {', '.join(settings['techniques'])}, "
            f"{settings['repeats']} timed calls each")
    return [row("floor for /accelerate: 4 settings in, text + 13-row table + prebuilt plot + JSON", floor),
            row(f"acceleration: measure in-process, {what}", inside),
            row(f"acceleration: /accelerate end to end, {what} (overhead ratio {ratio:.2f})", e2e,
                goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO)]
