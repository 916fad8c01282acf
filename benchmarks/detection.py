"""The detection tab: model-only latency, and `/detect` and `/loss_anatomy` end to end.

`/loss_anatomy` is an image endpoint too (an image in; two plots, a summary and JSON
out), so it is measured like the others, on one image (scope "image"): its model part
is the forward pass, anchor matching and binning of every binary term (`image_terms`)
plus both losses and their gradients (`anatomy_of_terms`); building the two plotly
figures and sending them count as overhead, against a floor that returns two prebuilt
figures. (The default scope, 100 val scenes, is computed once per model and cached.)
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.timing import ROOT, Timing, measure, row
from demos.detection.anatomy import anatomy_of_terms, image_terms
from demos.detection.inference import detect, example_truth
from demos.detection.registry import detection_names
from shared.images import load_image
from shared.loading import availability
from shared.registry import get_spec

SCENE = ROOT / "examples" / "detection" / "scene_1000011.png"
GOAL_MODEL_MS = 30.0  # a bundled detector on one 256x256 image
GOAL_RATIO = 1.3  # end to end / (model + floor)


def usable_models() -> list[str]:
    return [n for n in detection_names() if availability(get_spec(n))[0]]


def model_rows(repeats: int) -> tuple[list[dict], dict[str, Timing]]:
    image = load_image(SCENE).image
    rows, timings = [], {}
    for name in usable_models():
        t = measure(lambda name=name: detect(name, image, 0.3), repeats=repeats)
        timings[name] = t
        bundled = get_spec(name).tier == "bundled"
        rows.append(row(f"detection: {name}, model only, 256x256", t,
                        goal=f"<= {GOAL_MODEL_MS:.0f} ms" if bundled else "",
                        met=t.median_ms <= GOAL_MODEL_MS if bundled else None))
    truth = example_truth(str(SCENE))
    for name in [n for n in timings if get_spec(n).tier == "bundled"]:
        t = measure(lambda name=name: anatomy_of_terms(image_terms(name, image, *truth), 2.0, "image"),
                    repeats=repeats)
        timings[f"anatomy:{name}"] = t
        rows.append(row(f"detection: anatomy of the loss, {name}, model only, 256x256", t))
    return rows, timings


def floor_rows(floor_client, repeats: int) -> tuple[list[dict], Timing]:
    from gradio_client import handle_file

    path = handle_file(str(Path(SCENE)))
    floor = measure(lambda: floor_client.predict(image=path, count=1, api_name="/echo"), repeats=repeats)
    anat = measure(lambda: floor_client.predict(image=path, api_name="/echo_anatomy"), repeats=repeats)
    return [row("floor for /detect: same image in, gallery of 1 + JSON out", floor),
            row("floor for /loss_anatomy: same image in, 2 prebuilt plots + text + JSON out", anat)], \
        {"detect": floor, "anatomy": anat}


def end_to_end_rows(client, floors: dict[str, Timing], timings: dict[str, Timing],
                    repeats: int) -> list[dict]:
    from gradio_client import handle_file

    path = handle_file(str(Path(SCENE)))
    rows = []
    for name in [n for n in timings if not n.startswith("anatomy:")]:
        t = measure(lambda name=name: client.predict(image=path, models=[name], score_threshold=0.3,
                                                     api_name="/detect"), repeats=repeats)
        ratio = t.median_ms / (timings[name].median_ms + floors["detect"].median_ms)
        rows.append(row(f"detection: /detect end to end, {name} (overhead ratio {ratio:.2f})", t,
                        goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO))
    for key in [n for n in timings if n.startswith("anatomy:")]:
        name = key.removeprefix("anatomy:")
        t = measure(lambda name=name: client.predict(image=path, model=name, gamma=2.0, scope="image",
                                                     api_name="/loss_anatomy"), repeats=repeats)
        ratio = t.median_ms / (timings[key].median_ms + floors["anatomy"].median_ms)
        rows.append(row(f"detection: /loss_anatomy end to end, {name} (overhead ratio {ratio:.2f})", t,
                        goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO))
    return rows
