"""The pose tab: model-only latency per method, and `/pose` end to end against its floor."""

from __future__ import annotations

from benchmarks.timing import ROOT, Timing, measure, row
from demos.pose.inference import estimate
from demos.pose.registry import pose_names
from shared.images import load_image
from shared.loading import availability
from shared.registry import get_spec

SCENE = next((ROOT / "examples" / "pose").glob("scene_*_4people.png"))
GOAL_MODEL_MS = 100.0  # a bundled pose method on one generated scene, people found and grouped
GOAL_RATIO = 1.3  # end to end / (model + floor)
# Evidence images per method in the response: the top-down crop's heat-maps; the
# bottom-up heat-maps and affinity fields (see demos/pose/ui.py). Pretrained: none.
EVIDENCE = {"tiny-topdown-pose": 1, "tiny-bottomup-pose": 2}


def usable_models() -> list[str]:
    return [n for n in pose_names() if availability(get_spec(n))[0]]


def model_rows(repeats: int) -> tuple[list[dict], dict[str, Timing]]:
    """`estimate` per method: tensor conversion, network, decoding and grouping."""
    image = load_image(SCENE).image
    rows, timings = [], {}
    for name in usable_models():
        t = measure(lambda name=name: estimate(name, image, 0.2, 0.2), repeats=repeats)
        timings[name] = t
        bundled = get_spec(name).tier == "bundled"
        rows.append(row(f"pose: {name}, model only, {image.width}x{image.height}, 4 people", t,
                        goal=f"<= {GOAL_MODEL_MS:.0f} ms" if bundled else "",
                        met=t.median_ms <= GOAL_MODEL_MS if bundled else None))
    return rows, timings


def end_to_end_rows(client, floor_client, timings: dict[str, Timing], repeats: int) -> list[dict]:
    """`/pose` with each method alone, then with all of them; each against its own floor."""
    from gradio_client import handle_file

    path = handle_file(str(SCENE))
    cases = [[name] for name in timings]
    if len(timings) > 1:
        cases.append(list(timings))
    rows = []
    for methods in cases:
        evidence = sum(EVIDENCE.get(m, 0) for m in methods)
        floor = measure(lambda methods=methods, evidence=evidence: floor_client.predict(
            image=path, count=len(methods), evidence=evidence, api_name="/echo_pose"), repeats=repeats)
        t = measure(lambda methods=methods: client.predict(
            image=path, methods=methods, keypoint_threshold=0.2, person_threshold=0.2, api_name="/pose"),
            repeats=repeats)
        model_ms = sum(timings[m].median_ms for m in methods)
        ratio = t.median_ms / (model_ms + floor.median_ms)
        label = methods[0] if len(methods) == 1 else "both methods"
        rows.append(row(f"floor for /pose ({len(methods)} skeleton + {evidence} evidence images)", floor))
        rows.append(row(f"pose: /pose end to end, {label} (overhead ratio {ratio:.2f})", t,
                        goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO))
    return rows
