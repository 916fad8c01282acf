"""The ROI tab: ROIPool against ROIAlign on a real feature map, region by sub-pixel region.

A thin adapter over `pooling` and `plots`: validates input, computes the feature map and
the analysis, and lays out the evidence. Endpoint: `/roi_pool_vs_align`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from demos.detection.inference import example_truth
from demos.roi import plots
from demos.roi.pooling import (
    DESCRIPTIONS,
    DETECTOR,
    FEATURES,
    MAX_OUTPUT,
    MAX_SAMPLING,
    METHODS,
    STRIDES,
    Analysis,
    analyse,
    describe,
    detector_cell_centre,
    feature_map,
)
from demos.roi.pooling import MESSAGES as POOLING
from shared import components as inputs
from shared import errors, ui
from shared.device import gpu
from shared.drawing import cjk_font
from shared.i18n import CHINESE, LANGUAGE_JS, request_language, text_in, tr
from shared.images import BadInput, load_image
from shared.templates import fill
from shared.validation import MESSAGES as NUMBER

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MAX_SIDE = 640  # the example photos' size; larger images are downscaled to it
# The labels are translated in the page; the model's name is added as it is.
FEATURE_CHOICES = [(tr("roi.features_detector", "detector FPN") + f" ({DETECTOR})", "detector"),
                   (tr("roi.features_image", "raw image (average-pooled)"), "image")]
# Hand-picked regions on the photos, with sub-pixel edges: a face, an eye, a thin spoon.
PHOTO_REGIONS = {"astronaut.jpg": ((166.4, 52.7, 285.3, 171.9), "image", 16),
                 "cat.jpg": ((131.6, 78.3, 213.4, 152.7), "detector", 8),
                 "coffee.jpg": ((321.7, 62.4, 410.9, 330.2), "image", 8)}

QUESTION = "What is the difference between ROIPool and ROIAlign?"
ANSWER = """\
Both cut a fixed grid of features (say 7×7) out of a region of any size. **ROIPool**
(Fast R-CNN) rounds twice: the region's edges, divided by the stride, are rounded to
whole feature cells; then the rounded region is split into bins whose edges are rounded
to whole cells again, and each bin keeps the maximum of its cells. At stride 16 each
rounding can move what is pooled by up to half a cell, 8 image pixels, and by a
different amount for every box, so no head can learn to undo it. **ROIAlign** (Mask
R-CNN) rounds nothing: it splits the exact region into equal bins, reads a few evenly
spaced points in each bin by bilinear interpolation of the four nearest cells, and
averages them. This matters more for masks and keypoints than for boxes: a class score
hardly changes when its features move a few pixels, and a box on a large object loses
little IoU to them, but a mask or keypoint heat-map is predicted bin by bin in the
pooled grid and pasted back into the box, so every pixel of misalignment moves its
boundary or its peak (Mask R-CNN reports 10–50 % relative gains in mask AP from ROIAlign,
largest at the strictest IoU). **aligned=True** removes a half-cell shift: if cell j
summarises pixels s·j to s·(j+1), its centre is at s·(j+½), but the legacy ROIAlign reads
cell j at s·j, so its whole sampling grid sits half a cell right of and below the box.
"""

WHY = """\
**Reading the evidence.** Left picture: the white box is the region asked for; orange is
what ROIPool pools (rounded region and rounded, overlapping bins); blue is where ROIAlign's
bins lie and the points it interpolates. The plots move the region right in steps of
1/64 cell: ROIPool's output does not change until an edge crosses half a cell, then jumps,
while ROIAlign's follows every step. The localisation plot places a synthetic point
feature (a Gaussian bump one cell wide, drawn on a feature grid of the same stride) at the
region's centre, pools it, finds its peak in the pooled grid by soft-argmax and puts it back
into the region, as a mask or keypoint head would. Where a real network's cells are
centred depends on its padding: the summary measures it for the bundled backbone.
"""


# The summary's sentences, in English; with plots.TEXTS and the feature maps' descriptions, every
# text this tab computes per request. Registered here for translation ("roi.<key>"), looked up in
# the request's language; values go in at [name].
SUMMARY_TEXTS = {
    "summary.map": "**[description]**: [w]×[h] cells, computed in [ms] ms; the region is [rw]×[rh] px = "
                   "[cw]×[ch] cells[scaled].",
    "summary.scaled": " (in the image downscaled ×[factor])",
    "summary.pool": "**ROIPool** pooled cells x [x0]–[x1], y [y0]–[y1]: its region is off by [left], [top], "
                    "[right], [bottom] px (left, top, right, bottom), i.e. [left_c], [top_c], [right_c], "
                    "[bottom_c] cells.",
    "summary.span": "[low] to [high] px in [n] steps of [step] px",
    "summary.shift": "**Shifting the region** [span]: ROIPool's output took **[pool_n]** distinct values "
                     "(its largest jump [pool_jump] of the value range), ROIAlign's **[align_n]** (largest "
                     "step [align_jump]). The centre of what ROIPool pools is off by [pool_low] to "
                     "[pool_high] px ([pool_low_c] to [pool_high_c] cells); ROIAlign's (aligned=[aligned]) "
                     "by [align_off] px.",
    "summary.found": "**A point feature found again** through the pooled grid, mean |error| over the shifts: "
                     "[items].",
    "summary.found_item": "[name] **[mean] px** (at most [max])",
    "summary.backbone": "On this backbone (3×3 stride-2 convolutions, padding 1) cell 6 of stride [s] is "
                        "centred at pixel [centre], measured from its gradients: s·j [sign] [offset], where "
                        "s·(j+½) would be [half]. On its features [nearer] is the nearer one; a "
                        "network trained with either convention learns a constant offset, but not ROIPool's "
                        "varying one.",
    "summary.nearer_legacy": "the legacy grid",
    "summary.nearer_aligned": "the aligned=True grid",
}
# The errors this tab's settings can cause, in English as the API gives them; the page's language
# gets them from these (shared.errors), with the names the numbers are refused under.
_OUTSIDE = ("The region's [name] = [value] lies outside the image: it must be between 0 and [limit] (the "
            "image's [axis], [width]×[height] pixels).")
ERRORS = errors.templates("roi.error", {
    "outside_x": fill(_OUTSIDE, axis="width"),
    "outside_y": fill(_OUTSIDE, axis="height"),
    "order": "The region's [b] ([high]) must be greater than its [a] ([low]): give the top-left corner "
             "as x1, y1 and the bottom-right corner as x2, y2.",
})
MESSAGES = errors.templates("error.roi", {
    "no_features": "No feature map was chosen; the demo needs one of: 'detector' (the bundled detector's "
                   "FPN) or 'image' (the raw image, average-pooled).",
    "unknown_features": "Unknown feature map [name]; choose 'detector' or 'image'.",
    "stride_name": "The feature stride",
    "output_size": "The output size",
    "sampling_ratio": "The sampling ratio (0: adaptive)",
    "corner": "The region's [corner]",
    "aligned": "aligned",
})
TEXTS = (plots.TEXTS | SUMMARY_TEXTS
         | {f"description.{k}": text for k, text in DESCRIPTIONS.items()})
# The punctuation that joins the localisation errors goes by language (Chinese uses full-width marks).
PUNCTUATION = {"en": {"join": "; "}, CHINESE: {"join": "；"}}
for _key, _english in TEXTS.items():
    tr(f"roi.{_key}", _english)


def texts_in(language: str) -> dict[str, str]:
    """Every text of TEXTS in `language`, with its punctuation (English as written here)."""
    if language != CHINESE:
        return TEXTS | PUNCTUATION["en"]
    return {key: text_in(f"roi.{key}", language) for key in TEXTS} | PUNCTUATION[CHINESE]


def _whole(value: float, name: str, low: int, high: int) -> int:
    number = ui.finite(value, name, low=low, high=high)
    if number != int(number):
        raise BadInput(fill(NUMBER["whole_range_got"], name=name, low=low, high=high, value=f"{number:g}"))
    return int(number)


def _settings(features: str | None, stride: float, output_size: float, sampling_ratio: float,
              aligned: bool) -> tuple[str, int, int, int, bool]:
    if not features:
        raise BadInput(MESSAGES["no_features"])
    if features not in FEATURES:
        raise BadInput(fill(MESSAGES["unknown_features"], name=repr(features)))
    step = ui.finite(stride, MESSAGES["stride_name"])
    if step not in STRIDES:
        raise BadInput(fill(POOLING["stride"], strides=", ".join(map(str, STRIDES)), stride=f"{step:g}"))
    output = _whole(output_size, MESSAGES["output_size"], 1, MAX_OUTPUT)
    sampling = _whole(sampling_ratio, MESSAGES["sampling_ratio"], 0, MAX_SAMPLING)
    if not isinstance(aligned, bool):
        raise BadInput(fill(NUMBER["true_or_false"], name=MESSAGES["aligned"], value=repr(aligned)))
    return features, int(step), output, sampling, aligned


def _region(x1: float, y1: float, x2: float, y2: float, size: tuple[int, int]) -> tuple[float, ...]:
    """The region, checked against the image it is given in (input-image pixels)."""
    width, height = size
    edges = []
    for name, value, limit in (("x1", x1, width), ("y1", y1, height), ("x2", x2, width), ("y2", y2, height)):
        v = ui.finite(value, fill(MESSAGES["corner"], corner=name))
        if not 0 <= v <= limit:
            raise BadInput(fill(ERRORS[f"outside_{name[0]}"], name=name, value=f"{v:g}", limit=limit,
                                width=width, height=height))
        edges.append(v)
    x1, y1, x2, y2 = edges
    for low, high, a, b in ((x1, x2, "x1", "x2"), (y1, y2, "y1", "y2")):
        if high <= low:
            raise BadInput(fill(ERRORS["order"], a=a, b=b, low=f"{low:g}", high=f"{high:g}"))
    return x1, y1, x2, y2


def _summary(a: Analysis, scale: float, t: dict[str, str] | None = None) -> str:
    """What the evidence measured, one paragraph per finding, in the language of the texts `t`."""
    t = t or texts_in("en")
    s, fm = a.features.stride, a.features
    c, h, w = fm.values.shape[1:]
    x1, y1, x2, y2 = a.box
    cx0, cy0, cx1, cy1 = a.pool_geometry.cells
    off = np.subtract(a.pool_geometry.box, a.box)  # left, top, right, bottom
    pool_off, align_off = a.centre_offsets(a.pool_boxes), a.centre_offsets(a.align_boxes)
    steps = a.steps
    align_mean = round(float(align_off.mean()), 2) or 0.0  # no "-0.00"
    span = fill(t["summary.span"], low=f"{a.shifts[0]:+.1f}", high=f"{a.shifts[-1]:+.1f}", n=len(a.shifts),
                step=f"{s / 64:.2f}")
    sides = ("left", "top", "right", "bottom")
    description = describe(fm, {k: t[f"description.{k}"] for k in DESCRIPTIONS})
    found = t["join"].join(
        fill(t["summary.found_item"], name=name, mean=f"{np.abs(a.errors[name][:, 0]).mean():.2f}",
             max=f"{np.abs(a.errors[name][:, 0]).max():.2f}") for name in METHODS)
    lines = [
        fill(t["summary.map"], description=description, w=w, h=h, ms=f"{fm.seconds * 1000:.1f}",
             rw=f"{x2 - x1:.1f}", rh=f"{y2 - y1:.1f}", cw=f"{(x2 - x1) / s:.2f}", ch=f"{(y2 - y1) / s:.2f}",
             scaled=fill(t["summary.scaled"], factor=f"{1 / scale:.3f}") if scale != 1 else ""),
        fill(t["summary.pool"], x0=cx0, x1=cx1, y0=cy0, y1=cy1,
             **{side: f"{v:+.1f}" for side, v in zip(sides, off, strict=True)},
             **{f"{side}_c": f"{v / s:+.2f}" for side, v in zip(sides, off, strict=True)}),
        fill(t["summary.shift"], span=span, pool_n=steps["roi_pool_distinct_outputs"],
             pool_jump=f"{steps['roi_pool_largest_jump']:.0%}", align_n=steps["roi_align_distinct_outputs"],
             align_jump=f"{steps['roi_align_largest_jump']:.1%}", pool_low=f"{pool_off.min():+.1f}",
             pool_high=f"{pool_off.max():+.1f}", pool_low_c=f"{pool_off.min() / s:+.2f}",
             pool_high_c=f"{pool_off.max() / s:+.2f}", aligned=a.aligned, align_off=f"{align_mean:+.2f}"),
        fill(t["summary.found"], items=found),
    ]
    if fm.source == "detector":
        centre = detector_cell_centre(s)
        offset = centre - 6 * s  # from s·j, where the legacy grid reads cell j
        nearer = t["summary.nearer_legacy" if abs(offset) < abs(offset - s / 2) else "summary.nearer_aligned"]
        lines.append(fill(t["summary.backbone"], s=s, centre=f"{centre:.1f}", offset=f"{abs(offset):.1f}",
                          sign="+" if offset >= 0 else "−", half=f"{6.5 * s:g}", nearer=nearer))
    return "\n\n".join(lines)


def _as_json(a: Analysis, picture, region: tuple[float, ...]) -> dict:
    s, c = a.features.stride, a.channel

    def grid(t) -> list:
        return np.round(t[c].numpy().astype(float), 4).tolist()

    def stats(e: np.ndarray) -> dict:
        return {"mean_abs_px": round(float(np.abs(e[:, 0]).mean()), 4),
                "max_abs_px": round(float(np.abs(e[:, 0]).max()), 4),
                "mean_px": round(float(e[:, 0].mean()), 4), "vertical_px": round(float(e[:, 1].mean()), 4)}

    pool_off, align_off = a.centre_offsets(a.pool_boxes), a.centre_offsets(a.align_boxes)
    pool_range = [round(float(pool_off.min()), 4), round(float(pool_off.max()), 4)]
    return {
        "image_size": list(picture.original_size), "notes": picture.notes,
        "working_size": list(picture.image.size),
        "region": [round(v, 4) for v in region],
        "region_working": [round(v, 4) for v in a.box],
        "feature_map": {"source": a.features.source, "description": a.features.description, "stride": s,
                        "shape": list(a.features.values.shape[1:]), "seconds": round(a.features.seconds, 4)},
        "output_size": a.output, "sampling_ratio": a.sampling_ratio, "aligned": a.aligned, "channel": c,
        "roi_pool": {"cells": list(a.pool_geometry.cells), "box": [round(v, 4) for v in a.pool_geometry.box],
                     "empty_bins": int(a.pool_geometry.empty.sum()), "pooled": grid(a.pool)},
        "roi_align": {"box": [round(v, 4) for v in a.align_geometry.box],
                      "samples_per_bin": list(a.align_geometry.grid), "pooled": grid(a.align)},
        "shift": {"shifts_px": [round(float(v), 4) for v in a.shifts],
                  **{k: round(v, 4) for k, v in a.steps.items()},
                  "roi_pool_centre_offset_px": pool_range,
                  "roi_align_centre_offset_px": round(float(align_off.mean()), 4)},
        "localisation": {name: stats(a.errors[name]) for name in METHODS},
        "seconds": round(a.features.seconds + a.seconds, 4),
    }


@ui.handle_errors
@gpu
def roi_endpoint(image: str | None, x1: float, y1: float, x2: float, y2: float, features: str = "detector",
                 stride: int = 16, output_size: int = 7, sampling_ratio: int = 2, aligned: bool = True,
                 request: gr.Request | None = None):
    """Pool the region (x1, y1, x2, y2 in input-image pixels) with ROIPool and ROIAlign on one
    feature map; return the drawn regions, both pooled grids, the shift and localisation plots,
    a summary and JSON."""
    language = request_language(request)
    source, step, output, sampling, aligned = _settings(features, stride, output_size, sampling_ratio,
                                                        aligned)
    picture = load_image(image, max_side=MAX_SIDE)
    region = _region(x1, y1, x2, y2, picture.original_size)
    box = tuple(v / picture.scale for v in region)  # to the pixels of the image as analysed
    analysis = analyse(feature_map(picture.image, source, step), box, output, sampling, aligned)
    t = texts_in(language)
    drawn = t if cjk_font(12) is not None else TEXTS  # the pictures need a font with Chinese glyphs
    return (plots.overlay(picture.image, analysis, drawn), plots.pooled_grids(analysis, drawn),
            plots.shift_figure(analysis, t), plots.localisation_figure(analysis, t),
            _summary(analysis, picture.scale, t), _as_json(analysis, picture, region))


def first_view(image: str | None, x1: float, y1: float, x2: float, y2: float, features: str, stride: int,
               output_size: int, sampling_ratio: int, aligned: bool, request: gr.Request | None = None):
    """The page-load computation: the endpoint's, except that a region the page has not set
    (a link saved on another tab restores this one's sliders at 0) waits for the visitor
    instead of greeting them with an error."""
    try:
        ready = x2 > x1 and y2 > y1
    except TypeError:
        ready = False
    if not ready:
        return [gr.skip()] * 6
    settings = (features, stride, output_size, sampling_ratio, aligned)
    return roi_endpoint(image, x1, y1, x2, y2, *settings, request=request)


def _image_size(path: str) -> tuple[int, int] | None:
    """The size of an image after EXIF rotation, from its header; None if it cannot be read."""
    try:
        with Image.open(path) as img:
            transposed = img.getexif().get(0x0112) in (5, 6, 7, 8)
            return img.size[::-1] if transposed else img.size
    except Exception:  # the endpoint itself answers unreadable files in plain words
        return None


def span_image(image: str | None) -> list:
    """Region sliders whose ranges span the image (their values are left alone)."""
    size = _image_size(image) if image else None
    if size is None:
        return [gr.update()] * 4
    return [gr.update(maximum=limit) for limit in (size[0], size[1], size[0], size[1])]


def fit_region(image: str | None, x1: float, y1: float, x2: float, y2: float) -> list:
    """For an uploaded image: sliders that span it, and a centred region if the current one does not fit."""
    size = _image_size(image) if image else None
    if size is None:
        return [gr.update()] * 4
    width, height = size
    try:
        _region(x1, y1, x2, y2, size)
        values = [x1, y1, x2, y2]
    except ValueError:
        values = [round(width * 0.3 + 0.25, 1), round(height * 0.3 + 0.25, 1),
                  round(width * 0.7, 1), round(height * 0.7, 1)]
    return [gr.update(maximum=limit, value=v) for v, limit in zip(values, (width, height, width, height),
                                                                  strict=True)]


def _examples() -> tuple[list[list], list[list]]:
    """[image, x1, y1, x2, y2, features, stride, output, sampling, aligned] rows: each scene with
    its largest object's ground-truth box, each photo with a hand-picked region."""
    scenes = []
    for path in sorted((EXAMPLES / "detection").glob("scene_*.png")):
        truth = example_truth(str(path))
        if truth is None:
            continue
        boxes = truth[0]
        largest = boxes[((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).argmax()]
        scenes.append([str(path), *(round(float(v), 1) for v in largest), "detector", 16, 7, 2, True])
    photos = [[str(EXAMPLES / "photos" / name), *box, source, stride, 7, 2, True]
              for name, (box, source, stride) in PHOTO_REGIONS.items()
              if (EXAMPLES / "photos" / name).is_file()]
    return scenes, photos


def create_demo() -> gr.Blocks:
    scenes, photos = _examples()
    first = (scenes or photos)[0]
    # The sliders are built spanning the largest example: clicking an example resets them to
    # their built ranges before its values arrive; `span_image` then fits them to the image.
    width = height = MAX_SIDE
    with gr.Blocks() as demo:
        ui.intro("roi", QUESTION, ANSWER)
        # Outputs first (rendered further down), so the examples can be cached into them.
        # PNG: crisp lines and digits, and at these sizes three times faster to encode than WebP
        # (measured: 24 ms against 67 ms for the 738x524 overlay).
        drawn = gr.Image(label=tr("roi.overlay", "what each one reads: ROIPool (left), ROIAlign (right)"),
                         type="pil", format="png", elem_id="roi-overlay", render=False,
                         buttons=["download", "fullscreen"])
        grids = gr.Image(label=tr("roi.pooled", "the pooled outputs, one channel"), type="pil", format="png",
                         elem_id="roi-pooled", render=False, buttons=["download", "fullscreen"])
        shift = gr.Plot(show_label=False, elem_id="roi-shift", render=False)
        located = gr.Plot(show_label=False, elem_id="roi-localisation", render=False)
        summary = gr.Markdown(render=False, elem_id="roi-summary")
        data = gr.JSON(show_label=False, render=False)
        outputs = [drawn, grids, shift, located, summary, data]
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                image = inputs.Image(type="filepath", label=tr("roi.image", "image"), value=first[0],
                                     height=280)
                features = inputs.Radio(FEATURE_CHOICES, value=first[5], elem_id="roi-features",
                                        label=tr("roi.features", "feature map"))
                stride = inputs.Radio(list(STRIDES), value=first[6], elem_id="roi-stride",
                                      label=tr("roi.stride", "feature stride (the detector has 8 and 16)"))
                with gr.Row():
                    x1 = inputs.Slider(0, width, value=first[1], step=0.1, label="x1")
                    y1 = inputs.Slider(0, height, value=first[2], step=0.1, label="y1")
                with gr.Row():
                    x2 = inputs.Slider(0, width, value=first[3], step=0.1, label="x2")
                    y2 = inputs.Slider(0, height, value=first[4], step=0.1, label="y2")
                output = inputs.Slider(1, MAX_OUTPUT, value=first[7], step=1,
                                       label=tr("roi.output", "output size (bins per side)"))
                sampling = inputs.Slider(0, MAX_SAMPLING, value=first[8], step=1, label=tr(
                    "roi.sampling", "ROIAlign samples per bin side (0: adaptive)"))
                aligned = gr.Checkbox(value=first[9],
                                      label=tr("roi.aligned", "aligned=True (half-pixel offset)"))
                run = gr.Button(tr("roi.run", "Pool"), variant="primary")
                settings = [image, x1, y1, x2, y2, features, stride, output, sampling, aligned]
                # Only the picture is shown; the region and settings travel with it, and a click
                # computes from the example's own values (see the events below).
                examples = dict(inputs=settings, fn=roi_endpoint, outputs=outputs, visible_columns=[0],
                                run_on_click=True, **ui.example_caching())
                gr.Examples(scenes, elem_id="roi-examples-scenes", **examples,
                            label=tr("roi.examples_scenes", "generated scenes (largest object's box)"))
                gr.Examples(photos, elem_id="roi-examples-photos", **examples,
                            label=tr("roi.examples_photos", "photos (a face, an eye, a spoon)"))
            with gr.Column(scale=2):
                drawn.render()
                grids.render()
                summary.render()
        with gr.Row():
            shift.render()
            located.render()
        gr.Markdown(tr("roi.why", WHY))
        with gr.Accordion(tr("roi.json", "Results as JSON"), open=False):
            data.render()

        # LANGUAGE_JS: the page's language travels with each request, for the texts computed.
        io = dict(fn=roi_endpoint, inputs=settings, outputs=outputs, js=LANGUAGE_JS, **ui.MODEL_QUEUE)
        run.click(**io, api_name="roi_pool_vs_align")
        # Only what a person does recomputes (release, input, upload): an example sets every input
        # at once, and a `change` of one of them could run while the image is still the old one.
        sliders = dict(inputs=image, outputs=[x1, y1, x2, y2], api_visibility="private", queue=False)
        image.change(span_image, **sliders)
        ui.when_opened(demo)(span_image, **sliders)
        image.upload(fit_region, [image, x1, y1, x2, y2], [x1, y1, x2, y2], api_visibility="private",
                     queue=False).then(**io, api_visibility="private", trigger_mode="always_last")
        gr.on([x1.release, y1.release, x2.release, y2.release, features.input, stride.input, output.release,
               sampling.release, aligned.input], **io, api_visibility="private", trigger_mode="always_last")
        ui.when_opened(demo)(**(io | {"fn": first_view}), api_visibility="private")
    return demo

