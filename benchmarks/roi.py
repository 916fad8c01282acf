"""The ROI tab: the computation alone, and `/roi_pool_vs_align` end to end against its floor.

The model part of one request is `feature_map` (the detector's backbone, or the image
averaged over blocks) plus `analyse` (torchvision's roi_pool and roi_align on the region,
129 shifted copies of it and three times 129 point-feature maps). Drawing the two
pictures, building the two plots and the summary count as overhead, against a floor
that sends back two images, two prebuilt plots, a text and JSON.
"""

from __future__ import annotations

from benchmarks.timing import ROOT, Timing, measure, row
from demos.roi.pooling import analyse, feature_map
from shared.images import load_image

SCENE = ROOT / "examples" / "detection" / "scene_1000001.png"
BOX = (188.2, 130.9, 235.1, 177.8)  # the scene's largest object, as the tab's first example
CASES = [("detector", 16), ("image", 16)]
GOAL_RATIO = 1.3  # end to end / (model + floor)


def model_rows(repeats: int) -> tuple[list[dict], dict[str, Timing]]:
    image = load_image(SCENE).image
    rows, timings = [], {}
    for source, stride in CASES:
        t = measure(lambda s=source, st=stride: analyse(feature_map(image, s, st), BOX, 7, 2, True),
                    repeats=repeats)
        timings[source] = t
        rows.append(row(f"roi: {source} features, stride {stride}, both poolings + 129 shifts, "
                        f"256x256, model only", t))
    return rows, timings


def end_to_end_rows(client, floor_client, timings: dict[str, Timing], repeats: int) -> list[dict]:
    from gradio_client import handle_file

    path = handle_file(str(SCENE))
    floor = measure(lambda: floor_client.predict(image=path, api_name="/echo_roi"), repeats=repeats)
    rows = [row("floor for /roi_pool_vs_align: same image in, 2 images + 2 prebuilt plots + text + JSON out",
                floor)]
    for source, stride in CASES:
        t = measure(lambda s=source, st=stride: client.predict(
            image=path, x1=BOX[0], y1=BOX[1], x2=BOX[2], y2=BOX[3], features=s, stride=st, output_size=7,
            sampling_ratio=2, aligned=True, api_name="/roi_pool_vs_align"), repeats=repeats)
        ratio = t.median_ms / (timings[source].median_ms + floor.median_ms)
        rows.append(row(f"roi: /roi_pool_vs_align end to end, {source} features (overhead ratio {ratio:.2f})",
                        t, goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO))
    return rows
