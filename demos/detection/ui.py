"""The detection tab: the focal-loss experiment, the bundled detectors on an image, the
anatomy of the loss, and the real COCO detectors.

A thin adapter: validates input, calls `inference` and `anatomy`, turns results into
components. Endpoints: `/detect` (boxes from the chosen models) and `/loss_anatomy`
(where α-balanced CE and focal loss put their loss and gradient).

What a visitor reads follows the page's language: labels by key (shared.i18n.tr), and the
texts computed per request (captions, tables, the anatomy sentence, the sweep's findings and
plots) from templates in the request's language; the JSON payloads stay English.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
import torch
from PIL import Image

from demos.detection import findings, plots, texts
from demos.detection import registry as zoo
from demos.detection.anatomy import VAL_SCENES, anatomy_of_terms, image_terms, val_terms
from demos.detection.inference import detect, example_truth, match_truth
from demos.domains import DETECTION
from shared import components as inputs
from shared import domain, errors, ui
from shared.device import gpu
from shared.drawing import draw_boxes
from shared.i18n import (
    CHINESE,
    LANGUAGE_JS,
    domain_warning,
    register_domain_texts,
    request_language,
    text_in,
    tr,
)
from shared.images import BadInput, load_image
from shared.loading import ModelUnavailable, availability, offline
from shared.registry import get_spec
from shared.templates import fill

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PHOTO_DETECTOR = "retinanet_resnet50_fpn"
MAX_SIDE = 1333  # torchvision's COCO detectors work at up to 1333 px anyway
SHOW_SIDE = 512  # small scenes are drawn at this size, so boxes and labels stay legible
SCOPES = {"val": f"{VAL_SCENES} val scenes", "image": "this image"}


def _say(name: str, lang: str, /, **values: object) -> str:
    return texts.text(f"detection.{name}", texts.PAGE[name], lang, **values)


def _register_texts() -> None:
    """Register every text this tab computes per request, so its Chinese is checked and sent."""
    for key, english in texts.PAGE.items():
        tr(f"detection.{key}", english)
    for key, english in findings.TEXTS.items():
        tr(f"detection.findings.{key}", english)
    for arm, english in findings.ARM_NAMES.items():
        tr(findings.arm_key(arm), english)
    for key, english in plots.TEXTS.items():
        tr(f"detection.plot.{key}", english)
    for name in zoo.detection_names("pretrained"):
        tr(f"detection.how.{name}", get_spec(name).extra["how"])


def _status(status: str, lang: str) -> str:
    """A loader status ("needs download (13 MB)", "cached") in `lang`, its numbers kept."""
    if lang != CHINESE:
        return status
    for prefix, key in (("needs download", "models.status.needs_download"),
                        ("missing checkpoint file", "models.status.missing_file")):
        if status.startswith(prefix):
            return text_in(key, lang) + status[len(prefix):]
    return _say(f"status_{status}", lang) if status in ("bundled", "cached") else status


QUESTION = "How do one-stage detectors cope with few foreground and much background?"
ANSWER = """\
A dense detector scores ~10⁴–10⁵ anchors per image and only a handful cover an object.
With plain cross-entropy the many *easy* background anchors, each with a small loss,
can add up to most of the total and of the gradient. **Focal loss** multiplies CE by
(1 − p_t)^γ, so well-classified terms count almost nothing, with no sampling
(RetinaNet, Lin et al. 2017). The paper's **OHEM** instead scores every anchor, removes
near-duplicates with NMS on the loss and trains on a fixed minibatch of the hardest
(here 128 per image, at most a quarter positive); **SSD** keeps all positives and the
3 hardest negatives per positive; **two-stage** detectors filter with proposals and
sample 1:3 minibatches. Below, the same small detector is trained with each loss at four
levels of imbalance, with seeds and intervals; what was measured, and where it agrees
with the paper, is stated under the plots.
"""


# The errors of this tab's own checks, in English as the API gives them (shared.errors).
MESSAGES = errors.templates("error.detection", {
    "score_threshold": "The score threshold",
    "bundled_only": "The anatomy needs one of the bundled models: [known].",
    "scope": "The scope is 'val' ([val]) or 'image' (this image), not [value].",
})


def _validate(models: list[str] | None, score_threshold: float) -> tuple[list[str], float]:
    names = ui.chosen_models(models, sorted(zoo.detection_names()))
    return names, ui.finite(score_threshold, MESSAGES["score_threshold"], low=0.0, high=1.0)


def _measured_ap(name: str) -> str:
    spec = get_spec(name)
    if spec.tier == "pretrained":
        return f"COCO AP {spec.extra['box_ap']}"
    return spec.reference_metric.split(" on ")[0]  # "AP 58.1" from "AP 58.1 on generated val scenes ..."


def _ap_in(measured: str, lang: str) -> str:
    """A measured AP for the page: a sweep model's "AP 40.1 (class-agnostic 60.2)" has a word to translate."""
    return measured.replace("class-agnostic", _say("class_agnostic", lang)) if lang == CHINESE else measured


def _drawn(picture: Image.Image, found, truth, scored: dict | None) -> Image.Image:
    """The detections over the image (enlarged when small), with the annotations when known:
    white boxes are the objects, ✗ marks a wrong detection and "missed" an object not found."""
    factor = max(1, SHOW_SIDE // max(picture.size))
    big = picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST)
    boxes = [[v * factor for v in b] for b in found.boxes]
    labels = list(found.labels)
    if truth is not None and scored is not None:
        labels = [lab if ok else f"✗ {lab}" for lab, ok in zip(labels, scored["correct"], strict=True)]
        missed = [[v * factor for v in truth[0][i].tolist()] for i in scored["missed"]]
        objects = [[v * factor for v in b] for b in truth[0].tolist()]
        big = draw_boxes(big, objects, [""] * len(objects), colour_ids=[-1] * len(objects))
        big = draw_boxes(big, missed, ["missed"] * len(missed), colour_ids=[-1] * len(missed))
    return draw_boxes(big, boxes, labels, found.scores, found.label_ids)


@ui.handle_errors
@gpu
def detect_endpoint(image: str | None, models: list[str], score_threshold: float = 0.3,
                    show_truth: bool = False, request: gr.Request | None = None):
    """Run the chosen detectors; return one annotated image per model and JSON.

    show_truth: for the generated example scenes, draw their annotations and count each
    model's right and wrong detections and missed objects (IoU >= 0.5, same class).
    """
    names, threshold = _validate(models, score_threshold)
    picture = load_image(image, max_side=MAX_SIDE)
    lang = request_language(request)
    truth = example_truth(image, picture.image) if show_truth else None
    gallery, results, missing = [], [], []
    for name in names:
        try:
            found = detect(name, picture.image, threshold, scale=1.0)
        except ModelUnavailable as exc:
            missing.append(_unavailable(name, str(exc), lang))
            results.append({"model": name, "error": str(exc)})
            continue
        scored = match_truth(found, *truth) if truth is not None else None
        caption = _say("caption", lang, name=name, ap=_ap_in(_measured_ap(name), lang), n=len(found.boxes))
        if scored is not None:
            caption += _say("caption_scored", lang, **{k: scored[k] for k in ("tp", "fp", "fn")})
        gallery.append((_drawn(picture.image, found, truth, scored), caption))
        found.boxes = [[v * picture.scale for v in box] for box in found.boxes]
        result = found.as_json() | {"measured_ap": _measured_ap(name)}
        if scored is not None:
            result["against_annotations"] = {k: scored[k] for k in ("tp", "fp", "fn")}
        results.append(result)
    ui.report_unavailable(missing, served=len(gallery))
    ran_bundled = any(get_spec(r["model"]).tier == "bundled" for r in results if "error" not in r)
    verdict = domain.judge(picture.image, DETECTION).as_json() if ran_bundled else None
    notes = list(picture.notes)
    if show_truth and truth is None:
        notes.append(_say("no_annotations", "en"))  # the JSON's words; the counts line translates it
    return gallery, {"image_size": list(picture.original_size), "notes": notes, "domain": verdict,
                     "results": results}


def _unavailable(name: str, message: str, lang: str) -> str:
    """Why a model did not run, for the page: the loader's message, or in Chinese its status."""
    if lang != CHINESE:
        return message
    return _say("unavailable", lang, name=name, status=_status(availability(get_spec(name))[1], lang))


def _counts_markdown(found: dict, request: gr.Request | None = None) -> str:
    """The per-model line under the gallery: boxes, measured AP, and the score against the annotations;
    first, when the picture is unlike the bundled models' scenes, a warning saying so."""
    lang = request_language(request)
    warning = domain_warning(found.get("domain") if isinstance(found, dict) else None, lang)
    rows = [_say("counts_header", lang), "|---|---|---:|---|---:|"]
    for r in found.get("results", []) if isinstance(found, dict) else []:
        if "error" in r:
            rows.append(f"| {r['model']} | – | – | {_unavailable(r['model'], r['error'], lang)} | – |")
            continue
        a = r.get("against_annotations")
        score = f"{a['tp']} / {a['fp']} / {a['fn']}" if a else "–"
        rows.append(f"| {r['model']} | {_ap_in(r['measured_ap'], lang)} | {len(r['detections'])} | {score} | "
                    f"{r['seconds'] * 1000:.0f} |")
    notes = found.get("notes", []) if isinstance(found, dict) else []
    notes = "".join(f"\n\n{texts.note_in(n, lang)}" for n in notes)
    return (f"**{warning}**\n\n" if warning else "") + "\n".join(rows) + notes


@ui.handle_errors
@gpu
def anatomy_endpoint(image: str | None, model: str = zoo.bundled_name("focal"), gamma: float = 2.0,
                     scope: str = "val", request: gr.Request | None = None):
    """Where α-balanced CE (α = 0.75) and focal loss (α = 0.25, this γ) put their loss and gradient,
    per binary term (anchor × class), over 100 fixed val scenes (scope "val") or this image ("image")."""
    bundled = zoo.detection_names("bundled")
    if model not in bundled:
        raise BadInput(fill(MESSAGES["bundled_only"], known=", ".join(bundled)))
    if scope not in SCOPES:
        raise BadInput(fill(MESSAGES["scope"], val=SCOPES["val"], value=repr(scope)))
    gamma = ui.finite(gamma, "γ", low=0.0, high=10.0)
    lang = request_language(request)
    if scope == "val":
        terms, source = val_terms(model), ("source_val", {"last": VAL_SCENES - 1})
    else:
        picture = load_image(image, max_side=MAX_SIDE)
        truth = example_truth(image, picture.image) if picture.image.size == (256, 256) else None
        source = ("source_scene", {})
        if truth is None:  # no annotations: the model's own confident detections stand in
            found = detect(model, picture.image, score_threshold=0.5)
            truth = (torch.tensor(found.boxes, dtype=torch.float32).reshape(-1, 4),
                     torch.tensor(found.label_ids, dtype=torch.int64))
            source = ("source_own", {})
        terms = image_terms(model, picture.image, *truth)
    an = anatomy_of_terms(terms, gamma, scope)
    stats = an.as_json() | {"model": model, "labels_from": _say(source[0], "en", **source[1])}
    ce, fl = plots.LOSS_NAMES
    text = _say(
        "anatomy_text", lang, terms=f"{an.terms:,}", source=_say(source[0], lang, **source[1]),
        positive=f"{an.positive_terms:,}", per_term=f"{stats['negative_terms_per_positive_term']:,.0f}",
        background=f"{an.background_anchors:,}", foreground=f"{an.positive_anchors:,}",
        per_anchor=f"{stats['background_per_foreground_anchor']:,.0f}", model=model,
        ce_loss=f"{an.easy_negative_loss[ce]:.0%}", ce_grad=f"{an.easy_negative_grad[ce]:.0%}",
        fl_loss=f"{an.easy_negative_loss[fl]:.1%}", fl_grad=f"{an.easy_negative_grad[fl]:.1%}",
        gamma=f"{gamma:g}")
    return plots.focal_curve_figure(gamma, lang), plots.loss_mass_figure(an, lang), text, stats


def _pretrained_table(lang: str = "en") -> str:
    rows = [_say("coco_header", lang), "|---|---:|---:|---:|---|---|"]
    for name in zoo.detection_names("pretrained"):
        spec = get_spec(name)
        _, status = availability(spec)
        how = texts.text(f"detection.how.{name}", spec.extra["how"], lang)
        rows.append(f"| `{name}` | {spec.extra['box_ap']} | {spec.extra['gflops']:.1f} | "
                    f"{spec.size_mb:.0f} MB | {how} | {_status(status, lang)} |")
    return _say("coco_intro", lang) + "\n\n" + "\n".join(rows)


def static_texts(request: gr.Request | None = None) -> tuple:
    """What the tab shows whatever the input, in the page's language: the sweep's findings, its four
    plots and tables (from results/summary.json, read now, so a finished run shows on the next visit)
    and the published detectors' table (whose status changes once one is fetched)."""
    lang = request_language(request)
    summary = findings.load_summary()
    return (findings.headline(summary, lang),
            plots.ap_vs_imbalance_figure(summary, "agnostic", lang),
            plots.ap_vs_imbalance_figure(summary, "aware", lang),
            plots.gamma_figure(summary, lang=lang), plots.easy_share_figure(summary, lang=lang),
            "\n\n".join(t for t in (findings.table_markdown(summary, lang),
                                     findings.tuning_markdown(summary, lang),
                                     findings.checks_markdown(summary, lang)) if t),
            _pretrained_table(lang))


def _experiment_section() -> list:
    """The experiment's intro, and the outputs `static_texts` fills (findings, four plots, the table)."""
    gr.Markdown(tr("detection.experiment_intro",
                   "The same detector (a half-width RetinaNet) trained with each loss on generated scenes "
                   "with 1, 2, 4 or 8 objects, so the background per object grows eightfold at the same "
                   "cost. "
                   "SGD with momentum, the learning rate tuned per loss and level on separate scenes, "
                   "seeds paired across losses; AP on 500 val scenes per level with 95 % intervals over "
                   "seeds and scenes. "
                   "Class-agnostic AP asks only *object or background?*, the question focal loss is about."))
    shown = [gr.Markdown(elem_id="detection-findings")]
    with gr.Row():
        shown += [gr.Plot(show_label=False, elem_id="detection-ap-vs-imbalance"), gr.Plot(show_label=False)]
    with gr.Row():
        shown += [gr.Plot(show_label=False), gr.Plot(show_label=False)]
    with gr.Accordion(tr("detection.experiment_table", "Every cell of the sweep"), open=False):
        shown.append(gr.Markdown(elem_id="detection-sweep-table"))
    return shown


def create_demo() -> gr.Blocks:
    bundled = zoo.detection_names("bundled")
    legacy = [n for n in bundled if not n.startswith("sweep-")]  # the three the page opens with
    scenes = sorted(str(p) for p in (EXAMPLES / "detection").glob("scene_*.png"))
    photos = sorted(str(p) for p in (EXAMPLES / "photos").glob("*.jpg"))
    # Offline (nothing may be fetched) the photo examples run the bundled models, whose result
    # then says why they fail on a photo: an answer with a reason rather than an error box.
    photo_models = [PHOTO_DETECTOR] if availability(get_spec(PHOTO_DETECTOR))[0] or not offline() else legacy
    register_domain_texts([DETECTION])
    _register_texts()
    with gr.Blocks() as demo:
        ui.intro("detection", QUESTION, ANSWER)
        with gr.Accordion(tr("detection.experiment", "The experiment: focal loss, CE and OHEM as the "
                                                     "imbalance grows"), open=True):
            experiment = _experiment_section()
        # Outputs first (rendered further down), so the examples can be cached into them.
        gallery = gr.Gallery(label=tr("detection.gallery", "detections, one image per model"),
                             columns=3, height="auto", elem_id="detection-gallery", render=False,
                             object_fit="contain", buttons=["download", "fullscreen"], allow_preview=True)
        found = gr.JSON(show_label=False, render=False)
        counts = gr.Markdown(render=False, elem_id="detection-counts")
        caching = ui.example_caching()
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                image = inputs.Image(type="filepath", label=tr("detection.image", "image"),
                                     value=scenes[0] if scenes else None, height=320)
                models = inputs.CheckboxGroup(ui.model_choices(zoo.detection_names()), value=legacy,
                                              label=tr("detection.models", "models"))
                threshold = inputs.Slider(0.05, 0.95, value=0.3, step=0.05,
                                          label=tr("detection.threshold", "score threshold"))
                show_truth = gr.Checkbox(value=True, label=tr("detection.truth", "show the annotations "
                                                                                  "(generated scenes)"))
                run = gr.Button(tr("detection.run", "Detect"), variant="primary")
                gr.Examples([[p] for p in scenes], inputs=[image], elem_id="detection-examples-scenes",
                            label=tr("detection.examples_scenes", "generated scenes (bundled models)"),
                            fn=functools.partial(detect_endpoint, models=legacy, show_truth=True),
                            outputs=[gallery, found], **caching)
                # A photo example also picks RetinaNet, the detector that introduced focal loss.
                gr.Examples([[p, photo_models] for p in photos], inputs=[image, models],
                            visible_columns=[0],
                            label=tr("detection.examples_photos", "photos (COCO models)"),
                            elem_id="detection-examples-photos",
                            fn=detect_endpoint, outputs=[gallery, found], **caching)
                # The sweep's shipped models, side by side on a scene of each extreme level.
                sweep = [n for n in bundled if n.startswith("sweep-")]
                levels = sorted(str(p) for p in (EXAMPLES / "detection").glob("scene_*_*obj.png"))
                sweep_label = tr("detection.examples_sweep", "the sweep's models at 1 and 8 objects")
                if sweep and levels:
                    gr.Examples([[p, sweep] for p in levels], inputs=[image, models], visible_columns=[0],
                                label=sweep_label,
                                fn=functools.partial(detect_endpoint, show_truth=True),
                                outputs=[gallery, found], **caching)
            with gr.Column(scale=2):
                gallery.render()
                counts.render()
                with gr.Accordion(tr("detection.json", "Detections as JSON"), open=False):
                    found.render()
        with gr.Accordion(tr("detection.anatomy", "The anatomy of the loss"), open=True):
            with gr.Row():
                anatomy_model = inputs.Dropdown(bundled, value=bundled[0] if bundled else None,
                                                label=tr("detection.logits_from", "logits from"))
                gamma = inputs.Slider(0, 5, value=2, step=0.1, label=tr("detection.gamma", "focal loss γ"))
                scopes = [(tr(f"detection.scope_{k}", v), k) for k, v in SCOPES.items()]
                scope = inputs.Radio(scopes, value="val", label=tr("detection.scope", "over"),
                                     elem_id="detection-scope")
            stats_text = gr.Markdown(elem_id="detection-anatomy-text")
            with gr.Row():
                curve = gr.Plot(show_label=False)
                mass = gr.Plot(show_label=False)
            with gr.Accordion(tr("detection.anatomy_json", "Anatomy as JSON"), open=False):
                stats = gr.JSON(show_label=False)
        with gr.Accordion(tr("detection.coco", "The published COCO detectors"), open=False):
            coco = gr.Markdown(elem_id="detection-coco")

        # LANGUAGE_JS: the page's language travels with each request, for the texts computed there.
        detect_io = dict(fn=detect_endpoint, inputs=[image, models, threshold, show_truth],
                         outputs=[gallery, found], js=LANGUAGE_JS, **ui.MODEL_QUEUE)
        anatomy_io = dict(fn=anatomy_endpoint, inputs=[image, anatomy_model, gamma, scope],
                          outputs=[curve, mass, stats_text, stats], js=LANGUAGE_JS, **ui.MODEL_QUEUE)
        run.click(**detect_io, api_name="detect")
        gr.on([image.change, models.change, threshold.release, show_truth.change], **detect_io,
              api_visibility="private", trigger_mode="always_last")
        found.change(_counts_markdown, found, counts, api_visibility="private", queue=False, js=LANGUAGE_JS)
        gr.on([image.change, anatomy_model.change, gamma.release, scope.change], **anatomy_io,
              api_name="loss_anatomy", trigger_mode="always_last")
        ui.when_opened(demo)(static_texts, outputs=[*experiment, coco], js=LANGUAGE_JS,
                             api_visibility="private", **ui.LIGHT_QUEUE)
        ui.when_opened(demo)(**detect_io, api_visibility="private")
        ui.when_opened(demo)(**anatomy_io, api_visibility="private")
    return demo
