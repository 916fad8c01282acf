"""The detection tab: focal loss against CE and OHEM, and the real COCO detectors.

A thin adapter: validates input, calls `inference`, turns results into components.
Endpoints: `/detect` (boxes from the chosen models) and `/loss_anatomy` (how CE and
focal loss spread over one image's anchors).
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from demos.detection import plots
from demos.detection import registry as zoo
from demos.detection.inference import ANATOMY_GAMMAS, anatomy, detect, example_truth
from shared import components as inputs
from shared import ui
from shared.device import gpu
from shared.drawing import draw_boxes
from shared.i18n import tr
from shared.images import load_image
from shared.loading import ModelUnavailable, availability
from shared.registry import get_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PHOTO_DETECTOR = "retinanet_resnet50_fpn"
MAX_SIDE = 1333  # torchvision's COCO detectors work at up to 1333 px anyway

QUESTION = "How do one-stage detectors cope with few foreground and much background?"
ANSWER = """\
A dense detector scores ~10⁴–10⁵ anchors per image and only a handful cover an object.
With plain cross-entropy the many *easy* background anchors, each with a small loss,
add up to most of the total and swamp the gradient of the few hard ones. **Focal loss**
multiplies CE by (1 − p_t)^γ, so well-classified anchors count almost nothing and
training focuses on the hard ones, with no sampling (RetinaNet, Lin et al. 2017).
**OHEM** instead keeps only the highest-loss anchors (here 1 positive : 3 negatives);
**two-stage** detectors (Faster R-CNN) filter with proposals, then sample 1:3
minibatches; **SSD** mines hard negatives at 3:1. Below: the same small detector trained
three ways, the loss of every anchor of your image, and the published COCO models.
"""


def _validate(models: list[str] | None, score_threshold: float) -> tuple[list[str], float]:
    names = ui.chosen_models(models, sorted(zoo.detection_names()))
    return names, ui.finite(score_threshold, "The score threshold", low=0.0, high=1.0)


@ui.handle_errors
@gpu
def detect_endpoint(image: str | None, models: list[str], score_threshold: float = 0.3):
    """Run the chosen detectors; return one annotated image per model and JSON."""
    names, threshold = _validate(models, score_threshold)
    picture = load_image(image, max_side=MAX_SIDE)
    gallery, results, missing = [], [], []
    for name in names:
        try:
            found = detect(name, picture.image, threshold, scale=1.0)
        except ModelUnavailable as exc:
            missing.append(str(exc))
            results.append({"model": name, "error": str(exc)})
            continue
        drawn = draw_boxes(picture.image, found.boxes, found.labels, found.scores, found.label_ids)
        gallery.append((drawn, f"{name} · {len(found.boxes)} boxes · {found.seconds * 1000:.0f} ms"))
        found.boxes = [[v * picture.scale for v in box] for box in found.boxes]
        results.append(found.as_json())
    if not gallery:
        raise ModelUnavailable(" ".join(missing))
    for message in missing:
        gr.Warning(message)
    return gallery, {"image_size": list(picture.original_size), "notes": picture.notes, "results": results}


@ui.handle_errors
@gpu
def anatomy_endpoint(image: str | None, model: str = zoo.bundled_name("focal"), gamma: float = 2.0):
    """Per-anchor CE and focal loss of one image: counts, Figure 1 and the loss mass."""
    if model not in zoo.detection_names("bundled"):
        choices = ", ".join(zoo.detection_names("bundled"))
        raise ValueError(f"The anatomy needs one of the bundled models: {choices}.")
    gamma = ui.finite(gamma, "γ", low=0.0, high=10.0)
    picture = load_image(image, max_side=MAX_SIDE)
    # Annotations exist for the generated examples only, and are in 256 px scene pixels.
    truth = example_truth(image) if picture.image.size == (256, 256) else None
    an = anatomy(model, picture.image, truth, gammas=tuple(dict.fromkeys((gamma, *ANATOMY_GAMMAS))))
    stats = an.as_json()
    ce_easy, fl_easy = an.share_from_easy(an.ce), an.share_from_easy(an.focal[gamma])
    text = (
        f"**{stats['anchors']:,} anchors**: {stats['positives']} positive, {stats['negatives']:,} "
        f"negative, {stats['ignored']} ignored — foreground : background = "
        f"**{stats['foreground_to_background']}**. Labels from {stats['labels_from']}.\n\n"
        f"Anchors the model already gets right (p_t > 0.9): {stats['easy_anchors_p_t_over_0.9']:,}. "
        f"They hold **{ce_easy:.0%}** of the total cross-entropy but only **{fl_easy:.1%}** of the "
        f"focal loss at γ = {gamma:g}."
    )
    return plots.focal_curve_figure(gamma), plots.loss_mass_figure(an, gamma), text, stats


def _pretrained_table() -> str:
    rows = ["| model | COCO box AP | GFLOPS | size | how it copes with background | here |",
            "|---|---:|---:|---:|---|---|"]
    for name in zoo.detection_names("pretrained"):
        spec = get_spec(name)
        _, status = availability(spec)
        rows.append(f"| `{name}` | {spec.extra['box_ap']} | {spec.extra['gflops']:.1f} | "
                    f"{spec.size_mb:.0f} MB | {spec.extra['how']} | {status} |")
    return ("Published figures from torchvision's model metadata (COCO val2017); they are "
            "fetched on first use and cached.\n\n" + "\n".join(rows))


def create_demo() -> gr.Blocks:
    bundled = zoo.detection_names("bundled")
    scenes = sorted(str(p) for p in (EXAMPLES / "detection").glob("scene_*.png"))
    photos = sorted(str(p) for p in (EXAMPLES / "photos").glob("*.jpg"))
    with gr.Blocks() as demo:
        ui.intro("detection", QUESTION, ANSWER)
        # Outputs first (rendered further down), so the examples can be cached into them.
        gallery = gr.Gallery(label=tr("detection.gallery", "detections, one image per model"),
                             columns=3, height=420, elem_id="detection-gallery", render=False,
                             object_fit="contain", buttons=["download", "fullscreen"])
        found = gr.JSON(show_label=False, render=False)
        caching = ui.example_caching()
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                image = inputs.Image(type="filepath", label=tr("detection.image", "image"),
                                     value=scenes[0] if scenes else None, height=320)
                models = inputs.CheckboxGroup(ui.model_choices(zoo.detection_names()), value=bundled,
                                              label=tr("detection.models", "models"))
                threshold = inputs.Slider(0.05, 0.95, value=0.3, step=0.05,
                                          label=tr("detection.threshold", "score threshold"))
                run = gr.Button(tr("detection.run", "Detect"), variant="primary")
                gr.Examples([[p] for p in scenes], inputs=[image], elem_id="detection-examples-scenes",
                            label=tr("detection.examples_scenes", "generated scenes (bundled models)"),
                            fn=functools.partial(detect_endpoint, models=bundled),
                            outputs=[gallery, found], **caching)
                # A photo example also picks RetinaNet, the detector that introduced focal loss.
                gr.Examples([[p, [PHOTO_DETECTOR]] for p in photos], inputs=[image, models],
                            visible_columns=[0],
                            label=tr("detection.examples_photos", "photos (COCO models)"),
                            fn=detect_endpoint, outputs=[gallery, found], **caching)
            with gr.Column(scale=2):
                gallery.render()
                with gr.Accordion(tr("detection.json", "Detections as JSON"), open=False):
                    found.render()
        with gr.Accordion(tr("detection.anatomy", "The anatomy of the loss, on this image"), open=True):
            with gr.Row():
                anatomy_model = inputs.Dropdown(bundled, value=bundled[0] if bundled else None,
                                                label=tr("detection.logits_from", "logits from"))
                gamma = inputs.Slider(0, 5, value=2, step=0.1, label=tr("detection.gamma", "focal loss γ"))
            stats_text = gr.Markdown()
            with gr.Row():
                curve = gr.Plot(show_label=False)
                mass = gr.Plot(show_label=False)
            with gr.Accordion(tr("detection.anatomy_json", "Anatomy as JSON"), open=False):
                stats = gr.JSON(show_label=False)
        with gr.Accordion(tr("detection.coco", "The published COCO detectors"), open=False):
            gr.Markdown(_pretrained_table())

        detect_io = dict(fn=detect_endpoint, inputs=[image, models, threshold], outputs=[gallery, found],
                         **ui.MODEL_QUEUE)
        anatomy_io = dict(fn=anatomy_endpoint, inputs=[image, anatomy_model, gamma],
                          outputs=[curve, mass, stats_text, stats], **ui.MODEL_QUEUE)
        run.click(**detect_io, api_name="detect")
        gr.on([image.change, models.change, threshold.release], **detect_io, api_visibility="private",
              trigger_mode="always_last")
        gr.on([image.change, anatomy_model.change, gamma.release], **anatomy_io, api_name="loss_anatomy",
              trigger_mode="always_last")
        demo.load(**detect_io, api_visibility="private")
        demo.load(**anatomy_io, api_visibility="private")
    return demo
