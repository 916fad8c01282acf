"""The pose tab: top-down against bottom-up, on the same image.

A thin adapter over `inference.estimate`: validates input, runs each chosen method,
draws skeletons and the intermediate evidence. Endpoint: `/pose`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
import numpy as np

from demos.pose import registry as zoo
from demos.pose.data import SKELETON
from demos.pose.inference import as_json, estimate
from shared import components as inputs
from shared import ui
from shared.device import gpu
from shared.drawing import draw_skeletons, heat_overlay
from shared.i18n import tr
from shared.images import load_image
from shared.loading import ModelUnavailable, availability
from shared.registry import get_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIME_PLOT = ROOT / "docs" / "pose_time_vs_people.png"
PHOTO_METHODS = ["keypointrcnn_resnet50_fpn", "openpose_body_coco"]

QUESTION = "Top-down or bottom-up multi-person pose estimation: how do they differ, and when does each win?"
ANSWER = """\
**Top-down** (CPM, Hourglass, CPN, SimpleBaselines, HRNet, MSPN) first detects every
person, then estimates one pose per crop: accurate, because each crop is normalised in
scale, but its cost grows with the number of people and it fails where the detector
fails (heavy overlap, truncated people). **Bottom-up** (OpenPose, Associative
Embedding, HigherHRNet) finds every keypoint in one pass and then groups them into
people, with part affinity fields or embedding tags: its network cost is flat in the
crowd size and it needs no detector, but grouping is hard in crowds and small people
suffer from the single scale. On COCO, top-down leads in accuracy (HRNet-W32 74.4 AP vs
HigherHRNet-W32 67.1); bottom-up wins on crowded scenes under a fixed time budget.
"""


def _validate(methods, keypoint_threshold, person_threshold) -> tuple[list[str], float, float]:
    names = ui.chosen_models(methods, zoo.pose_names(), what="method")
    kt = ui.finite(keypoint_threshold, "The keypoint threshold", low=0.0, high=1.0)
    pt = ui.finite(person_threshold, "The person threshold", low=0.0, high=1.0)
    return names, kt, pt


def _evidence_images(picture, result: dict) -> list[tuple]:
    ev, name = result["evidence"], result["method"]
    shown = []
    if ev.get("crop_heatmaps") is not None and ev.get("crop_region") is not None:
        heat = np.asarray(ev["crop_heatmaps"]).max(axis=0)  # (17, h, w) -> (h, w): all joints at once
        shown.append(
            (
                heat_overlay(picture, heat / max(float(heat.max()), 1e-6), region=ev["crop_region"]),
                f"{name}: heat-maps of the best person's crop",
            )
        )
    if ev.get("heatmaps") is not None:
        heat = np.asarray(ev["heatmaps"]).max(axis=0)  # (17, h, w) -> (h, w)
        paf = np.asarray(ev["paf_magnitudes"]).max(axis=0)  # (L, h, w) -> (h, w)
        extent = tuple(ev["map_extent"])
        shown.append(
            (heat_overlay(picture, np.clip(heat, 0, 1), extent=extent), f"{name}: keypoint heat-maps")
        )
        shown.append(
            (
                heat_overlay(picture, paf / max(float(paf.max()), 1e-6), extent=extent),
                f"{name}: part affinity fields (magnitude)",
            )
        )
    return shown


@ui.handle_errors
@gpu
def pose_endpoint(
    image: str | None, methods: list[str], keypoint_threshold: float = 0.2, person_threshold: float = 0.2
):
    """Run each chosen method; return skeleton overlays, evidence images and JSON."""
    names, kt, pt = _validate(methods, keypoint_threshold, person_threshold)
    picture = load_image(image, max_side=1024)
    overlays, evidence, results, missing = [], [], [], []
    for name in names:
        try:
            result = estimate(name, picture.image, kt, pt)
        except ModelUnavailable as exc:
            missing.append(str(exc))
            results.append({"method": name, "error": str(exc)})
            continue
        boxes = result["evidence"].get("boxes")
        drawn = draw_skeletons(picture.image, result["people"], SKELETON, boxes=boxes)
        overlays.append(
            (drawn, f"{name} · {len(result['people'])} people · {result['seconds'] * 1000:.0f} ms")
        )
        evidence += _evidence_images(picture.image, result)
        data = as_json(result)
        for person in data["people"]:  # to input-image pixels; absent keypoints stay [0, 0, 0]
            person["keypoints"] = [
                [x * picture.scale, y * picture.scale, s] if s > 0 else [0.0, 0.0, 0.0]
                for x, y, s in person["keypoints"]
            ]
        results.append(data)
    ui.report_unavailable(missing, served=len(overlays))
    return (
        overlays,
        evidence,
        {"image_size": list(picture.original_size), "notes": picture.notes, "results": results},
    )


def _models_table() -> str:
    rows = ["| method | family | reference | size | here |", "|---|---|---|---:|---|"]
    for name in zoo.pose_names():
        spec = get_spec(name)
        _, status = availability(spec)
        family = spec.extra["method"]  # "top-down" or "bottom-up", as the registry records it
        rows.append(f"| `{name}` | {family} | {spec.reference_metric} | {spec.size_mb:.0f} MB | {status} |")
    return "\n".join(rows)


def create_demo() -> gr.Blocks:
    bundled = zoo.pose_names("bundled")
    scenes = sorted(str(p) for p in (EXAMPLES / "pose").glob("*.png"))
    photos = [str(EXAMPLES / "photos" / "astronaut.jpg")]
    with gr.Blocks() as demo:
        ui.intro("pose", QUESTION, ANSWER)
        # Outputs first (rendered further down), so the examples can be cached into them.
        overlays = gr.Gallery(label=tr("pose.overlays", "skeletons, one image per method"), columns=2,
                              height=420, elem_id="pose-gallery", object_fit="contain", render=False,
                              buttons=["download", "fullscreen"])
        evidence = gr.Gallery(
            label=tr("pose.evidence",
                     "the evidence: top-down crop heat-maps; bottom-up heat-maps and affinity fields"),
            columns=3, height=260, object_fit="contain", render=False, buttons=["download", "fullscreen"])
        data = gr.JSON(show_label=False, render=False)
        caching = ui.example_caching()
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                image = inputs.Image(type="filepath", label=tr("pose.image", "image"), height=300,
                                     value=scenes[0] if scenes else None)
                methods = inputs.CheckboxGroup(ui.model_choices(zoo.pose_names()), value=bundled,
                                               label=tr("pose.methods", "methods"))
                kt = inputs.Slider(0.0, 1.0, value=0.2, step=0.05,
                                   label=tr("pose.keypoint_threshold", "keypoint score threshold"))
                pt = inputs.Slider(0.0, 1.0, value=0.2, step=0.05,
                                   label=tr("pose.person_threshold", "person score threshold"))
                run = gr.Button(tr("pose.run", "Estimate poses"), variant="primary")
                gr.Examples([[p] for p in scenes], inputs=[image], elem_id="pose-examples",
                            label=tr("pose.examples_scenes", "generated scenes (bundled models)"),
                            fn=functools.partial(pose_endpoint, methods=bundled),
                            outputs=[overlays, evidence, data], **caching)
                # A photo example runs both published paradigms: Keypoint R-CNN and OpenPose.
                gr.Examples([[p, PHOTO_METHODS] for p in photos], inputs=[image, methods],
                            visible_columns=[0],
                            label=tr("pose.examples_photos", "photos (pretrained models)"),
                            fn=pose_endpoint, outputs=[overlays, evidence, data], **caching)
            with gr.Column(scale=2):
                overlays.render()
                evidence.render()
                with gr.Accordion(tr("pose.json", "Poses as JSON"), open=False):
                    data.render()
        with gr.Accordion(tr("pose.models", "The models: published and measured keypoint AP, size"),
                          open=False):
            gr.Markdown(_models_table())
        with gr.Accordion(tr("pose.cost", "Cost against the number of people (measured here)"), open=True):
            if TIME_PLOT.is_file():
                gr.Image(str(TIME_PLOT), show_label=False, buttons=["download", "fullscreen"])
            gr.Markdown(tr(
                "pose.cost_text",
                "Top-down runs the pose network once per detected person, so its time grows with "
                "the crowd; bottom-up runs one network per image and only its grouping step grows. "
                "Produced by `python -m demos.pose.evaluate` on generated scenes with 1–16 people.",
            ))
        io = dict(fn=pose_endpoint, inputs=[image, methods, kt, pt], outputs=[overlays, evidence, data],
                  **ui.MODEL_QUEUE)
        run.click(**io, api_name="pose")
        gr.on(
            [image.change, methods.change, kt.release, pt.release],
            **io,
            api_visibility="private",
            trigger_mode="always_last",
        )
        demo.load(**io, api_visibility="private")
    return demo
