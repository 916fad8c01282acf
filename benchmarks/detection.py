"""The detection tab: model-only latency, and `/detect` end to end against the floor."""

from __future__ import annotations

from pathlib import Path

from benchmarks.timing import ROOT, Timing, measure
from demos.detection.inference import detect
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
        rows.append({
            "what": f"detection: {name}, model only, 256x256",
            "median_ms": t.median_ms, "p95_ms": t.p95_ms,
            "goal": f"<= {GOAL_MODEL_MS:.0f} ms" if bundled else "",
            "met": t.median_ms <= GOAL_MODEL_MS if bundled else None,
        })
    return rows, timings


def floor_rows(floor_client, repeats: int) -> tuple[list[dict], Timing]:
    from gradio_client import handle_file

    path = handle_file(str(Path(SCENE)))
    floor = measure(lambda: floor_client.predict(image=path, api_name="/echo"), repeats=repeats)
    return [{"what": "floor: identity endpoint, same image in, gallery + JSON out",
             "median_ms": floor.median_ms, "p95_ms": floor.p95_ms, "goal": "", "met": None}], floor


def end_to_end_rows(client, floor: Timing, timings: dict[str, Timing], repeats: int) -> list[dict]:
    from gradio_client import handle_file

    path = handle_file(str(Path(SCENE)))
    rows = []
    for name in timings:
        t = measure(lambda name=name: client.predict(image=path, models=[name], score_threshold=0.3,
                                                     api_name="/detect"), repeats=repeats)
        ratio = t.median_ms / (timings[name].median_ms + floor.median_ms)
        rows.append({
            "what": f"detection: /detect end to end, {name} (overhead ratio {ratio:.2f})",
            "median_ms": t.median_ms, "p95_ms": t.p95_ms, "goal": f"ratio <= {GOAL_RATIO}",
            "met": ratio <= GOAL_RATIO,
        })
    return rows
