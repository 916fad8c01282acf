"""The detector-limits tab: what SSD, YOLOv3 and Faster R-CNN miss even with a perfect network.

A thin adapter: validates the settings, builds or parses the scene, runs the oracle and
the sweeps, and lays out the evidence. Endpoint: `/detector_limits`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import torch
from torchvision.ops import box_iou

from demos.limits import oracle, plots, sweeps
from demos.limits.scenes import EXAMPLE_JSON, Scene, generate, parse_objects, render
from shared import components as inputs
from shared import errors, ui
from shared.drawing import cjk_font
from shared.i18n import CHINESE, LANGUAGE_JS, request_language, text_in, tr
from shared.images import BadInput, load_image
from shared.templates import fill
from shared.validation import MESSAGES as NUMBER

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GENERATED, TYPED = "generated", "typed boxes (JSON)"
# Rules shown as pictures, in gallery order, by their keys in oracle.NAMES (the Soft-NMS rows
# and the no-rescue variants are in the table only).
PICTURED = ("nms", "retinanet", "faster_rcnn", "ssd300", "yolov3", "axis")
FAMILIES = PICTURED[1:5]

QUESTION = ("Suppose the network fits perfectly: what can SSD, YOLOv3 or Faster R-CNN still not detect, "
            "and what is left to work on in detection?")
ANSWER = """\
A network that reproduces its training targets exactly still only outputs what the
detector's rules let through. Four rules cap recall before anything is learned.
**NMS** deletes every box that overlaps a higher-scoring box of its class by more than
the threshold, so in a crowd whose members really overlap that much one of each pair is
gone, whatever the scores (Faster R-CNN's RPN does this across classes, too).
**Anchor matching** trains an anchor as a positive only above an IoU threshold (0.5 in
RetinaNet and SSD, 0.7 in the RPN): an object too small or too elongated for every
anchor gets no positive, unless a rescue rule (torchvision's low-quality matches, SSD's
best box) hands it its best anchor, which a neighbour can still take.
**One slot per cell**: YOLOv3 gives each object one prior in the cell that holds its
centre, so two similar objects whose centres share a cell collide and one is never trained.
**Axis-aligned boxes** on turned, thin objects are mostly background, and turned
neighbours that merely touch get boxes that overlap enough for NMS.
Below, the ground truth itself goes through each family's rules as torchvision runs
them, and the recall that survives is counted. The directions at the foot of the tab
each remove one of these limits.
"""

DIRECTIONS = """\
**What is worth working on, and which limit above it removes**

- **Set prediction without NMS** (DETR, Carion et al. 2020): a one-to-one Hungarian
  matching gives every object exactly one query and there is nothing to suppress, which
  empties the *NMS* and *anchor taken* columns; the number of queries (100 in DETR)
  becomes the per-image cap.
- **Anchor-free centre sampling** (FCOS, Tian et al. 2019; ATSS, Zhang et al. 2020):
  positives are the feature locations near an object's centre at the pyramid level its
  size selects, or anchors picked from each object's own IoU statistics, so no fixed IoU
  has to be reached: this targets the *no anchor fits* column and the size and aspect
  plots. A location inside two objects still serves one of them (FCOS: the smaller).
- **Feature pyramids and higher resolution** (FPN, Lin et al. 2017; SNIP, Singh and
  Davis 2018): the size plot shows where the best anchor IoU collapses for small
  objects; doubling the input halves that size, and SSD300's fixed 300×300 input is
  why its curve sits furthest right.
- **Oriented boxes** (rotated proposals, RoI Transformer, Ding et al. 2019, on aerial
  images): the rotation plot measures what an axis-aligned box costs on turned thin
  objects, both against the object itself and between touching neighbours.
- **Crowd-aware NMS and losses** (Soft-NMS, Bodla et al. 2017; Adaptive NMS, Liu et al.
  2019; repulsion loss, Wang et al. 2018; several predictions per proposal, CrowdDet,
  Chu et al. 2020): the crowding plot shows where plain NMS starts deleting real
  objects and how far Soft-NMS's decaying scores push that point.
"""


TYPED_HELP = """\
A list of `[x1, y1, x2, y2]`, or of objects with `"box"` and optionally `"label"` and
`"angle"` (degrees), in the picture's pixels. Without a picture, an object with
`"image_size": [640, 480]` and `"objects"`, the list. With an angle the box is the
object's own rectangle, turned about its centre.
"""


def _t(key: str, english: str):
    """This tab's interface text, in the visitor's language (see shared.i18n)."""
    return tr(f"limits.{key}", english)


# The summary's sentence and the examples' labels, in English; with plots.TEXTS, every text this
# tab computes per request. Registered here for translation, looked up in the request's language.
SUMMARY_TEXTS = {
    "summary": "**[n] objects** ([what]); the most two boxes of one class overlap is IoU **[crowd]**. "
               "Share of objects a perfect detector can still report: [parts]; "
               "Soft-NMS (Gaussian) **[soft]**. Lowest of the detector families here: **[worst]**, "
               "losing [lost] ([why]). "
               "Axis-aligned boxes covering their object with IoU ≥ 0.5: **[shape]**.",
    "summary.groups": "[groups] groups of [size]",
    "summary.typed": "typed",
    "summary.none": "none",
}
EXAMPLE_LABELS = {
    "pedestrians": "pedestrians side by side",
    "two_classes": "two classes overlapping",
    "thin_turned": "thin objects turned 45°, touching",
    "small_clusters": "small objects in clusters",
    "dense_crowd": "a dense crowd of 200",
    "typed_queue": "typed: a queue and a car park",
    "typed_scene": "typed: a detection-tab scene",
}
TEXTS = (plots.TEXTS | SUMMARY_TEXTS
         | {f"example.{key}": label for key, label in EXAMPLE_LABELS.items()})
# The punctuation that joins a list goes by language, not by translation (Chinese uses full-width marks).
PUNCTUATION = {"en": {"list_join": plots.TEXTS["list_join"]}, CHINESE: {"list_join": "，"}}
for _key, _english in TEXTS.items():
    if _key not in PUNCTUATION["en"]:
        _t(_key, _english)


def texts_in(language: str) -> dict[str, str]:
    """Every text of TEXTS in `language` (English as written here, whatever the files hold)."""
    if language != CHINESE:
        return dict(TEXTS)
    texts = {key: text_in(f"limits.{key}", language) for key in TEXTS if key not in PUNCTUATION["en"]}
    return texts | PUNCTUATION[CHINESE]


# The names the settings are refused under, and this tab's own errors (shared.errors).
NAMES = errors.templates("error.limits", {
    "crowding": "The crowding", "size": "The object size", "aspect": "The aspect ratio",
    "rotation": "The rotation", "groups": "The number of groups",
    "group_size": "The number of objects per group",
    "seed": "The seed", "nms_threshold": "The NMS threshold", "sigma": "Soft-NMS σ",
    "mixed_classes": "Mixed classes",
    "unknown_scene": "Unknown scene [name]: choose [generated] or [typed].",
})


def _whole(value: Any, name: str, low: int, high: int) -> int:
    number = ui.finite(value, name, low=low, high=high)
    if not float(number).is_integer():
        raise BadInput(fill(NUMBER["whole_not"], name=name, value=value))
    return int(number)


def _scene(source: str, crowding: float, size: float, aspect: float, rotation: float, groups: int,
           group_size: int, mixed: bool, seed: int, image: str | None, boxes_json: str | None) -> Scene:
    if source == GENERATED:
        return generate(crowding, size, aspect, rotation, groups, group_size, mixed, seed)
    if source != TYPED:
        raise BadInput(fill(NAMES["unknown_scene"], name=repr(source), generated=repr(GENERATED),
                            typed=repr(TYPED)))
    picture = load_image(image, max_side=1024) if image else None
    scene = parse_objects(boxes_json, picture.original_size if picture else None)
    scene.background = picture.image if picture else None
    scene.notes = picture.notes if picture else []
    return scene


def _summary(scene: Scene, outcomes: list[oracle.Outcome], source: str, groups: int, group_size: int,
             t: dict[str, str] = TEXTS) -> str:
    """The scene and its recall ceilings in one paragraph, in the language of the texts `t`."""
    boxes = scene.boxes
    iou = box_iou(boxes, boxes).fill_diagonal_(0)
    same = scene.labels[:, None] == scene.labels[None]
    crowd = float((iou * same).max()) if len(scene) > 1 else 0.0
    what = (fill(t["summary.groups"], groups=groups, size=group_size) if source == GENERATED
            else t["summary.typed"])
    by_rule = {o.key: o for o in outcomes}
    parts = " · ".join(f"{plots.rule_name(key, t)} **{by_rule[key].recall:.0%}**" for key in PICTURED[:5])
    worst = min((by_rule[key] for key in FAMILIES), key=lambda o: o.recall)
    counts = worst.counts()
    return fill(t["summary"], n=len(scene), what=what, crowd=f"{crowd:.2f}", parts=parts,
                soft=f"{by_rule['soft_gaussian'].recall:.0%}", worst=plots.rule_name(worst.key, t),
                lost=len(worst.fate) - counts[oracle.REACHED],
                why=plots.lost_list(counts, t) or t["summary.none"], shape=f"{by_rule['axis'].recall:.0%}")


@ui.handle_errors
def detector_limits(source: str = GENERATED, crowding: float = 0.6, size: float = 56.0, aspect: float = 2.5,
                    rotation: float = 0.0, groups: int = 8, group_size: int = 3, mixed_classes: bool = False,
                    seed: int = 0, nms_threshold: float = 0.5, soft_nms_sigma: float = 0.5,
                    image: str | None = None, boxes_json: str | None = "", request: gr.Request | None = None):
    """The recall ceiling of NMS, Soft-NMS, RetinaNet, Faster R-CNN, SSD300 and YOLOv3 on one
    scene, fed its own ground truth; pictures of the objects each loses, a table, the sweeps
    behind it as plots, a summary and JSON. A generated scene uses the crowding (IoU of
    neighbours' shapes), size (px), aspect (h/w), rotation (degrees), groups, group size,
    mixed classes and seed; `typed boxes (JSON)` uses `boxes_json` and the optional image."""
    crowding = ui.finite(crowding, NAMES["crowding"], low=0.0, high=0.95)
    size = ui.finite(size, NAMES["size"], low=4.0, high=256.0)
    aspect = ui.finite(aspect, NAMES["aspect"], low=0.1, high=10.0)
    rotation = ui.finite(rotation, NAMES["rotation"], low=-90.0, high=90.0)
    groups = _whole(groups, NAMES["groups"], 1, 40)
    group_size = _whole(group_size, NAMES["group_size"], 1, 10)
    seed = _whole(seed, NAMES["seed"], 0, 2**31 - 1)
    nms_threshold = ui.finite(nms_threshold, NAMES["nms_threshold"], low=0.05, high=0.95)
    sigma = ui.finite(soft_nms_sigma, NAMES["sigma"], low=0.05, high=2.0)
    if not isinstance(mixed_classes, bool):
        raise BadInput(fill(NUMBER["true_or_false"], name=NAMES["mixed_classes"], value=repr(mixed_classes)))
    language = request_language(request)
    scene = _scene(source, crowding, size, aspect, rotation, groups, group_size, mixed_classes, seed,
                   image, boxes_json)
    with torch.inference_mode():
        outcomes = oracle.run_all(scene, nms_threshold, sigma)
        curves = sweeps.all_curves(crowding, size, aspect, rotation, group_size, mixed_classes, nms_threshold,
                                   sigma)
    t = texts_in(language)
    drawn = t if cjk_font(12) is not None else TEXTS  # the pictures need a font with Chinese glyphs
    base = render(scene)
    by_rule = {o.key: o for o in outcomes}
    gallery = [(plots.fate_picture(scene, base, by_rule[key], drawn), plots.rule_name(key, t))
               for key in PICTURED]
    objects = [{"box": [round(v, 2) for v in box], "label": scene.class_names[k], "angle": round(a, 2),
                "shape_iou": round(s, 4)}
               for box, k, a, s in zip(scene.boxes.tolist(), scene.labels.tolist(), scene.angles.tolist(),
                                       scene.shape_iou.tolist(), strict=True)]
    data = {
        "scene": {"source": source, "image_size": [scene.width, scene.height], "notes": scene.notes,
                  "objects": objects},
        "rules": [o.as_json() for o in outcomes],
        "curves": curves,
    }
    return (
        gallery,
        plots.table_rows(outcomes, t),
        plots.crowding_figure(curves["crowding"], crowding if source == GENERATED else None, t),
        plots.anchor_figure(curves["size"], curves["sizes"], "size", size, t),
        plots.anchor_figure(curves["aspect"], curves["aspects"], "aspect", aspect, t),
        plots.collision_figure(curves["collisions"], t),
        plots.rotation_figure(curves["rotation"], scene, t),
        _summary(scene, outcomes, source, groups, group_size, t),
        data,
    )


def _examples() -> tuple[list[list[Any]], list[str]]:
    """Example rows in API order, and their labels' keys in EXAMPLE_LABELS."""
    def gen(label: str, crowding: float, size: float, aspect: float, rotation: float, groups: int, per: int,
            mixed: bool = False) -> tuple[str, list[Any]]:
        return label, [GENERATED, crowding, size, aspect, rotation, groups, per, mixed, 0, 0.5, 0.5, None, ""]

    def typed(label: str, name: str, image: str | None) -> tuple[str, list[Any]]:
        text = (EXAMPLES / "limits" / name).read_text(encoding="utf-8").strip()
        return label, [TYPED, 0.5, 56, 2.5, 0, 8, 3, False, 0, 0.5, 0.5, image, text]

    rows = [
        gen("pedestrians", 0.6, 56, 2.5, 0, 8, 3),
        gen("two_classes", 0.75, 64, 1.0, 0, 6, 2, mixed=True),
        gen("thin_turned", 0.0, 40, 6.0, 45, 6, 4),
        gen("small_clusters", 0.3, 12, 1.0, 0, 30, 4),
        gen("dense_crowd", 0.2, 16, 2.5, 0, 40, 5),
        typed("typed_queue", "queue_and_parking.json", None),
        typed("typed_scene", "scene_1000024.json", str(EXAMPLES / "detection" / "scene_1000024.png")),
    ]
    return [r for _, r in rows], [label for label, _ in rows]


def example_labels(request: gr.Request | None = None) -> Any:
    """The examples' labels in the page's language (Gradio shows example labels as they are sent)."""
    language = request_language(request)
    if language != CHINESE:
        return gr.skip()
    return gr.update(sample_labels=[text_in(f"limits.example.{key}", language) for key in _examples()[1]])


def create_demo() -> gr.Blocks:
    rows, keys = _examples()
    labels = [EXAMPLE_LABELS[key] for key in keys]
    with gr.Blocks() as demo:
        ui.intro("limits", QUESTION, ANSWER)
        # Outputs first (rendered further down), so the examples can be cached into them.
        gallery = gr.Gallery(label=_t("gallery", "the objects each rule loses"), columns=3, height=560,
                             elem_id="limits-gallery", render=False, object_fit="contain",
                             buttons=["download", "fullscreen"])
        table = gr.Dataframe(headers=plots.TABLE_COLUMNS, interactive=False, wrap=True, render=False,
                             label=_t("table", "recall ceiling, rule by rule"), max_height=620,
                             column_widths=["22%", "9%", "9%", "25%", "35%"])
        crowd_plot, size_plot, aspect_plot, collision_plot, rotation_plot = (
            gr.Plot(show_label=False, render=False, elem_id=f"limits-{name}")
            for name in ("crowding", "size", "aspect", "collisions", "rotation"))
        summary = gr.Markdown(render=False, elem_id="limits-summary")
        data = gr.JSON(show_label=False, render=False)
        outputs = [gallery, table, crowd_plot, size_plot, aspect_plot, collision_plot, rotation_plot, summary,
                   data]
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                choices = [(_t("generated", GENERATED), GENERATED), (_t("typed_source", TYPED), TYPED)]
                source = inputs.Radio(choices, value=GENERATED, label=_t("source", "scene"))
                crowding = inputs.Slider(0, 0.95, value=0.6, step=0.05,
                                         label=_t("crowding", "crowding: IoU of neighbouring objects"))
                size = inputs.Slider(4, 256, value=56, step=1, label=_t("size", "object size, px"))
                aspect = inputs.Slider(0.1, 10, value=2.5, step=0.1, label=_t("aspect", "aspect ratio h / w"))
                rotation = inputs.Slider(-90, 90, value=0, step=1, label=_t("rotation", "rotation, degrees"))
                with gr.Row():
                    groups = inputs.Slider(1, 40, value=8, step=1, label=_t("groups", "groups"))
                    group_size = inputs.Slider(1, 10, value=3, step=1,
                                               label=_t("group_size", "objects per group"))
                with gr.Row():
                    mixed = gr.Checkbox(False, label=_t("mixed", "neighbours alternate between two classes"))
                    seed = inputs.Number(0, precision=0, label=_t("seed", "placement seed"))
                nms = inputs.Slider(0.05, 0.95, value=0.5, step=0.05, label=_t("nms", "NMS IoU threshold"))
                sigma = inputs.Slider(0.05, 2, value=0.5, step=0.05,
                                      label=_t("sigma", "Soft-NMS σ (Gaussian)"))
                with gr.Accordion(_t("typed", "Typed boxes (JSON) and an optional picture"), open=False):
                    gr.Markdown(_t("typed_help", TYPED_HELP))
                    boxes_json = gr.Textbox("", lines=5, max_lines=12, show_label=False,
                                            placeholder=EXAMPLE_JSON)
                    image = inputs.Image(type="filepath", label=_t("image", "picture (optional)"), height=220)
                run = gr.Button(_t("run", "Count what survives"), variant="primary")
                params = [source, crowding, size, aspect, rotation, groups, group_size, mixed, seed, nms,
                          sigma, image, boxes_json]
                # LANGUAGE_JS: the page's language travels with each request, for the texts computed.
                io = dict(fn=detector_limits, inputs=params, outputs=outputs, js=LANGUAGE_JS,
                          **ui.MODEL_QUEUE)
                # Named before the examples are made: their click event would take the handler's name.
                run.click(**io, api_name="detector_limits")
                # Sliders recompute on release, which filling them from an example does not
                # send, so an example click runs the tab itself (or opens its cached result).
                examples = gr.Examples(rows, inputs=params, outputs=outputs, fn=detector_limits,
                                       example_labels=labels, elem_id="limits-examples", run_on_click=True,
                                       label=_t("examples", "examples"), **ui.example_caching())
            with gr.Column(scale=2):
                gallery.render()
                summary.render()
                table.render()
        with gr.Row():
            crowd_plot.render()
            rotation_plot.render()
        with gr.Row():
            size_plot.render()
            aspect_plot.render()
        with gr.Row():
            collision_plot.render()
            with gr.Column():
                gr.Markdown(_t("directions", DIRECTIONS))
        with gr.Accordion(_t("json", "Everything as JSON"), open=False):
            data.render()

        gr.on([source.change, mixed.change, seed.change, boxes_json.blur, image.change]
              + [s.release for s in (crowding, size, aspect, rotation, groups, group_size, nms, sigma)],
              **io, api_visibility="private", trigger_mode="always_last")
        ui.when_opened(demo)(**io, api_visibility="private")
        ui.when_opened(demo)(example_labels, outputs=examples.dataset, js=LANGUAGE_JS,
                             api_visibility="private", **ui.LIGHT_QUEUE)
    return demo
