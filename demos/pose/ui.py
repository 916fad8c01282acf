"""The pose tab: top-down against bottom-up, on the same image.

A thin adapter over `inference.estimate`: validates input, runs each chosen method,
draws skeletons and the intermediate evidence. Endpoint: `/pose`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
import numpy as np

from demos.domains import POSE
from demos.pose import plots
from demos.pose import registry as zoo
from demos.pose.data import SKELETON
from demos.pose.inference import as_json, estimate
from shared import components as inputs
from shared import domain, errors, ui
from shared.device import gpu
from shared.drawing import draw_skeletons, heat_overlay
from shared.i18n import (
    CHINESE,
    LANGUAGE_JS,
    domain_warning,
    register_domain_texts,
    request_language,
    text_in,
    tr,
)
from shared.images import load_image
from shared.loading import ModelUnavailable, availability, offline
from shared.registry import get_spec
from shared.templates import fill

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIME_PLOT = ROOT / "docs" / "pose_time_vs_people.png"
PHOTO_METHODS = ["keypointrcnn_resnet50_fpn", "openpose_body_coco"]

# Whole pictures: each gallery image at its own aspect ratio (a tall crop is not cut to a
# square) and its caption on a line of its own under it, wrapped rather than cut. Gradio's
# gallery draws square tiles with the caption over their lower corner; these rules, scoped
# to this tab's galleries, undo that. `.grid-wrap` keeps its columns; only heights change.
CSS = """
#pose-gallery .grid-wrap, #pose-evidence .grid-wrap { height: auto !important; max-height: none !important;
  overflow: visible !important; padding-top: var(--size-8); }  /* room for the label: not over a picture */
#pose-gallery .thumbnail-item, #pose-evidence .thumbnail-item { aspect-ratio: auto !important;
  height: auto !important; overflow: visible !important; display: flex; flex-direction: column; }
#pose-gallery .thumbnail-lg > img, #pose-evidence .thumbnail-lg > img { height: auto !important;
  max-height: 560px; object-fit: contain !important; }
#pose-gallery .caption-label, #pose-evidence .caption-label { position: static !important;
  max-width: none !important; white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; border: none !important; background: none !important;
  text-align: center; opacity: 1 !important; }
#pose-notice { border-left: 4px solid var(--color-accent); padding-left: var(--size-2); }
"""

# Caption words computed per request: registered here, looked up in the page's language.
for _key, _english in (("people", "people"), ("crop", "heat-maps of the best person's crop"),
                       ("heat", "keypoint heat-maps"), ("paf", "part affinity fields (magnitude)")):
    tr(f"pose.caption_{_key}", _english)

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


# The names the thresholds are refused under (shared.errors).
NAMES = errors.templates("error.pose", {"keypoint_threshold": "The keypoint threshold",
                                        "person_threshold": "The person threshold"})


def _validate(methods, keypoint_threshold, person_threshold) -> tuple[list[str], float, float]:
    names = ui.chosen_models(methods, zoo.pose_names(), what="method")
    kt = ui.finite(keypoint_threshold, NAMES["keypoint_threshold"], low=0.0, high=1.0)
    pt = ui.finite(person_threshold, NAMES["person_threshold"], low=0.0, high=1.0)
    return names, kt, pt


def _evidence_images(picture, result: dict, lang: str = "en") -> list[tuple]:
    ev, name = result["evidence"], result["method"]

    def caption(what: str) -> str:
        return f"{name}: {text_in(f'pose.caption_{what}', lang)}"

    shown = []
    if ev.get("crop_heatmaps") is not None and ev.get("crop_region") is not None:
        heat = np.asarray(ev["crop_heatmaps"]).max(axis=0)  # (17, h, w) -> (h, w): all joints at once
        shown.append(
            (
                heat_overlay(picture, heat / max(float(heat.max()), 1e-6), region=ev["crop_region"]),
                caption("crop"),
            )
        )
    if ev.get("heatmaps") is not None:
        heat = np.asarray(ev["heatmaps"]).max(axis=0)  # (17, h, w) -> (h, w)
        paf = np.asarray(ev["paf_magnitudes"]).max(axis=0)  # (L, h, w) -> (h, w)
        extent = tuple(ev["map_extent"])
        shown.append(
            (heat_overlay(picture, np.clip(heat, 0, 1), extent=extent), caption("heat"))
        )
        shown.append(
            (
                heat_overlay(picture, paf / max(float(paf.max()), 1e-6), extent=extent),
                caption("paf"),
            )
        )
    return shown


@ui.handle_errors
@gpu
def pose_endpoint(
    image: str | None, methods: list[str], keypoint_threshold: float = 0.2, person_threshold: float = 0.2,
    request: gr.Request | None = None,
):
    """Run each chosen method; return skeleton overlays, evidence images and JSON.

    The JSON's "domain" says whether the picture is like the bundled models' generated
    scenes (shared.domain), whenever a bundled model ran; null otherwise."""
    names, kt, pt = _validate(methods, keypoint_threshold, person_threshold)
    picture = load_image(image, max_side=1024)
    lang = request_language(request)
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
        people = f"{len(result['people'])} {text_in('pose.caption_people', lang)}"
        overlays.append((drawn, f"{name} · {people} · {result['seconds'] * 1000:.0f} ms"))
        evidence += _evidence_images(picture.image, result, lang)
        data = as_json(result)
        for person in data["people"]:  # to input-image pixels; absent keypoints stay [0, 0, 0]
            person["keypoints"] = [
                [x * picture.scale, y * picture.scale, s] if s > 0 else [0.0, 0.0, 0.0]
                for x, y, s in person["keypoints"]
            ]
        results.append(data)
    ui.report_unavailable(missing, served=len(overlays))
    ran_bundled = any(get_spec(r["method"]).tier == "bundled" for r in results if "error" not in r)
    verdict = domain.judge(picture.image, POSE).as_json() if ran_bundled else None
    return (
        overlays,
        evidence,
        {"image_size": list(picture.original_size), "notes": picture.notes, "domain": verdict,
         "results": results},
    )


def _notice(data: dict | None, request: gr.Request | None = None) -> dict:
    """The out-of-domain warning beside the skeletons, from the result's JSON (so a cached
    example shows it too); hidden when the picture is like the training scenes."""
    text = domain_warning((data or {}).get("domain"), request_language(request))
    return gr.update(value=text, visible=bool(text))


def _photo_example_methods(bundled: list[str]) -> tuple[list[str], bool]:
    """The methods a photo example runs, and whether they are the pretrained ones.

    Keypoint R-CNN and OpenPose when they are here or can be fetched; on a server that
    may not download (VISIONLAB_OFFLINE), the bundled models instead, whose result then
    says why they fail on a photo: an answer with a reason rather than an error box."""
    ready = [m for m in PHOTO_METHODS if availability(get_spec(m))[0] or not offline()]
    return (ready, True) if ready else (bundled, False)


# The texts translated by key; the punctuation that joins them goes by language (Chinese uses
# full-width marks and no "and").
PUNCTUATION = {"en": {k: plots.TEXTS[k] for k in ("join", "and", "end")},
               CHINESE: {"join": "；", "and": "；", "end": "。"}}
ACCURACY_TEXTS = {k: v for k, v in plots.TEXTS.items() if k not in PUNCTUATION["en"]} | {
    "source": "Styled val scenes ([n]), measured by `[command]` (`demos/pose/results/[file]`).",
}


def accuracy_view(request: gr.Request | None = None) -> tuple:
    """The accuracy-against-people figure and its sentence, in the page's language."""
    record, path = plots.load_measured()
    lang = request_language(request)
    texts = {key: text_in(f"pose.accuracy.{key}", lang) for key in ACCURACY_TEXTS} | PUNCTUATION[lang]
    scenes_n = next(iter(record["models"].values()))["sizes"]["styled_val"]
    command = record.get("command", "python -m demos.pose.goals")
    source = fill(texts["source"], n=scenes_n, command=command, file=path.name)
    return plots.accuracy_figure(record, texts), plots.accuracy_sentence(record, texts) + " " + source


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
    photo_methods, pretrained = _photo_example_methods(bundled)
    register_domain_texts([POSE])
    with gr.Blocks() as demo:
        gr.HTML(f"<style>{CSS}</style>", padding=False)
        ui.intro("pose", QUESTION, ANSWER)
        # Outputs first (rendered further down), so the examples can be cached into them.
        # Two columns: each picture about 400 px wide on a laptop, the evidence included.
        overlays = gr.Gallery(label=tr("pose.overlays", "skeletons, one image per method"), columns=2,
                              elem_id="pose-gallery", object_fit="contain", render=False,
                              buttons=["download", "fullscreen"])
        evidence = gr.Gallery(
            label=tr("pose.evidence",
                     "the evidence: top-down crop heat-maps; bottom-up heat-maps and affinity fields"),
            columns=2, elem_id="pose-evidence", object_fit="contain", render=False,
            buttons=["download", "fullscreen"])
        notice = gr.Markdown(visible=False, elem_id="pose-notice", render=False)
        data = gr.JSON(show_label=False, render=False)
        caching = ui.example_caching()
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                image = inputs.Image(type="filepath", label=tr("pose.image", "image"), height=300,
                                     value=scenes[0] if scenes else None, elem_id="pose-input")
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
                photo_labels = (tr("pose.examples_photos", "photos (pretrained models)"), tr(
                    "pose.examples_photos_offline",
                    "photos: the pretrained models need a download and this server is offline, so the "
                    "bundled models run on them, with a warning"))  # both registered for translation
                gr.Examples([[p, photo_methods] for p in photos], inputs=[image, methods],
                            visible_columns=[0], label=photo_labels[0 if pretrained else 1],
                            elem_id="pose-examples-photos", fn=pose_endpoint,
                            outputs=[overlays, evidence, data], **caching)
            with gr.Column(scale=2):
                notice.render()
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
        if plots.load_measured() is not None:
            for key, english in ACCURACY_TEXTS.items():
                tr(f"pose.accuracy.{key}", english)
            with gr.Accordion(tr("pose.accuracy", "Accuracy against the number of people (measured here)"),
                              open=True):
                accuracy_plot = gr.Plot(show_label=False, elem_id="pose-accuracy")
                accuracy_text = gr.Markdown(elem_id="pose-accuracy-text")
            ui.when_opened(demo)(accuracy_view, outputs=[accuracy_plot, accuracy_text], js=LANGUAGE_JS,
                                 api_visibility="private", **ui.LIGHT_QUEUE)
        # LANGUAGE_JS: the page's language travels with each request, for the captions.
        io = dict(fn=pose_endpoint, inputs=[image, methods, kt, pt], outputs=[overlays, evidence, data],
                  js=LANGUAGE_JS, **ui.MODEL_QUEUE)
        run.click(**io, api_name="pose")
        data.change(_notice, inputs=data, outputs=notice, js=LANGUAGE_JS, api_visibility="private",
                    **ui.LIGHT_QUEUE)
        gr.on(
            [image.change, methods.change, kt.release, pt.release],
            **io,
            api_visibility="private",
            trigger_mode="always_last",
        )
        ui.when_opened(demo)(**io, api_visibility="private")
    return demo
