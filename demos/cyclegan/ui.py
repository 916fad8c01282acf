"""The CycleGAN tab: texture changes, geometry stays — shown and measured.

A thin adapter over `inference`: validates input, translates, and lays out the
evidence (before/after, the input's edges over the output, the change map, the cycle
reconstruction and the numbers). Endpoint: `/translate`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from PIL import Image

from demos.cyclegan import receptive
from demos.cyclegan import registry as zoo
from demos.cyclegan.data import DOMAINS
from demos.cyclegan.inference import difference_map, edge_overlay, reverse_of, translate
from demos.domains import CYCLEGAN, cyclegan_domain_name
from shared import components as inputs
from shared import domain, errors, ui
from shared.device import gpu
from shared.i18n import (
    LANGUAGE_JS,
    domain_warning,
    error_in,
    register_domain_texts,
    request_language,
    text_in,
    tr,
    tr_joined,
)
from shared.images import BadInput, load_image
from shared.loading import ModelUnavailable, availability, get_model, offline
from shared.registry import get_spec
from shared.templates import fill
from shared.validation import MESSAGES as CHOICE

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DIRECTIONS = ("A→B", "B→A")
PHOTO_STYLES = ["cyclegan-style_vangogh", "cyclegan-style_monet", "cyclegan-style_ukiyoe",
                "cyclegan-style_cezanne"]
EVIDENCE_PX = 300  # height of each evidence image: about 290 px square in a laptop's three columns

QUESTION = "Why does CycleGAN change texture but keep positions — and why can't it move things?"
ANSWER = """\
Three parts of the method pull the same way. The **cycle loss** compares x with
F(G(x)) pixel by pixel, so anything G moves must be moved back exactly; keeping every
edge where it was is by far the cheapest way to satisfy it. The **ResNet generator** adds
residual corrections to an encoding of the input at the same spatial layout; it has no
mechanism for relocating content. And the **70×70 PatchGAN** judges local patches, i.e.
texture and colour, not global shape. So horse→zebra works (paint stripes in place)
while dog→cat fails: "the learned translation degenerates into making minimal changes
to the input" (Zhu et al. 2017). Below, three experiments trained here: texture changes,
a local change of shape partly happens, and objects asked to move 64 px stay put.
"""

WHY = """\
**Reading the evidence.** Edge F-score near 1 means the input's outlines are still
where they were in the output (pink lines on the output trace the *input's* edges).
Texture change is the distance between filter-bank Gram matrices (0: same texture) and
between colour histograms. The cycle error is the mean |x − F(G(x))| in [0, 1] units.
On the disc→square experiment the structure stays high too: the network recolours
rather than reshapes, which is the failure the paper describes.
"""


def _what(name: str) -> tuple[str, str]:
    """(translation key, English) of what a registered generator translates: "discs → squares",
    "horse → zebra (ImageNet photos)". Every bundled pair has its key, trained or not."""
    for (pair, direction), bundled in zoo.BUNDLED_NAMES.items():
        if bundled == name:
            src, dst = DOMAINS[pair] if direction == "AB" else DOMAINS[pair][::-1]
            return f"cyclegan.what.{pair}_{direction}", f"{src} → {dst}"
    key = name.removeprefix("cyclegan-")
    if key in zoo.OFFICIAL_MODELS:
        return f"cyclegan.what.{key}", zoo.OFFICIAL_MODELS[key]
    task = get_spec(name).task
    return "", task.removeprefix("image translation (").removesuffix(")")  # inner brackets stay


def _register_whats() -> None:
    """Every generator's words, so the keys do not depend on which checkpoints exist here."""
    for pair, (a, b) in DOMAINS.items():
        tr(f"cyclegan.what.{pair}_AB", f"{a} → {b}")
        tr(f"cyclegan.what.{pair}_BA", f"{b} → {a}")
    for key, what in zoo.OFFICIAL_MODELS.items():
        tr(f"cyclegan.what.{key}", what)


def _choices() -> list[tuple[str, str]]:
    """(label, name) per generator; the label in the page's language, with one translation key
    (Gradio translates only the first key in a label)."""
    _register_whats()
    out = []
    for name in zoo.cyclegan_names():
        usable, status = availability(get_spec(name))
        key, what = _what(name)
        prefix = next((p for p in ui.STATUS_KEYS if status.startswith(p)), None)
        if not key:
            label = f"{name} — {what}" + ("" if usable else " — " + ui.status_label(status))
        elif usable:
            label = f"{name} — " + tr(key, what)
        elif prefix is None:
            label = f"{name} — " + tr(key, what) + f" — {status}"
        else:
            label = (f"{name} — " + tr_joined([(key, what), (ui.STATUS_KEYS[prefix], prefix)])
                     + status[len(prefix):])
        out.append((label, name))
    return out


# The errors of this tab's own checks, in English as the API gives them (shared.errors).
MESSAGES = errors.templates("error.cyclegan", {
    "no_model": "Choose a model: [known].",
    "direction": "The direction must be 'A→B' or 'B→A', not [value].",
    "no_reverse": "[model] has no published reverse generator, so only A→B is available.",
})


def _resolve(model: str, direction: str) -> str:
    known = ", ".join(zoo.cyclegan_names())
    if not model:
        raise BadInput(fill(MESSAGES["no_model"], known=known))
    if model not in zoo.cyclegan_names():
        raise BadInput(fill(CHOICE["unknown"], what=CHOICE["what_model"], name=repr(model), known=known))
    if direction not in DIRECTIONS:
        raise BadInput(fill(MESSAGES["direction"], value=repr(direction)))
    if direction == "A→B":
        return model
    back = reverse_of(model)
    if back is None:
        raise BadInput(fill(MESSAGES["no_reverse"], model=model))
    return back


SUMMARY = ("**[name]** in [ms] ms. Structure kept: edge F-score **[edge]**, gradient SSIM [ssim]. "
           "Texture changed: Gram distance **[gram]**, colour-histogram distance [hist], mean pixel change "
           "[change]. Cycle error A→B→A: **[cycle]**.")
NO_REVERSE = "— (no reverse generator)"
REACH = ("The shipped generator's convolutions reach [theoretical] px (±[half] px around each output pixel), "
         "and an object of the position pair has to travel [travel] px. Measured by gradients at [pixels] "
         "destination pixels of held-out position scenes, half of what decides an output pixel lies within "
         "[r50] px of it and 75 % within [r75] px; only [on_object] lies on the object it would have to "
         "copy. Drawn: one destination pixel (cross), the input pixels holding half of its gradient "
         "(tinted, inside the circle) and the object it would have to copy (the cyan line's end). "
         "Measured by `python -m demos.cyclegan.receptive`.")
MOVED = ("**Trained on exactly this task** (the position pair, [steps] steps), the left→right generator "
         "moves the objects [moved] px of the [needed] px a true translation needs: [kept] of their pixels "
         "stay where they were, [arrived] of the destination fills, and [leave] of [n] held-out scenes are "
         "classed as *left in place*. Its own gradients stay local too: half within [own_r50] px, 75 % "
         "within [own_r75] px, [own_on] on the object. Measured by `python -m demos.cyclegan.evaluate` and "
         "`python -m demos.cyclegan.receptive --checkpoint checkpoints/cyclegan_position.safetensors`.")
POSITION_RESULTS = receptive.RESULTS.with_name("position.json")
POSITION_REACH = receptive.RESULTS.with_name("receptive_position.json")
tr("cyclegan.summary", SUMMARY), tr("cyclegan.no_reverse", NO_REVERSE), tr("cyclegan.reach", REACH)
tr("cyclegan.moved", MOVED)


def _summary(name: str, m: dict[str, float], seconds: float, lang: str = "en") -> str:
    """The metrics line under the pictures, in `lang` (texts registered in create_demo)."""
    cycle = f"{m['cycle_l1']:.3f}" if "cycle_l1" in m else text_in("cyclegan.no_reverse", lang)
    return fill(text_in("cyclegan.summary", lang), name=name, ms=f"{seconds * 1000:.0f}",
                edge=f"{m['structure_edge_f']:.2f}", ssim=f"{m['structure_grad_ssim']:.2f}",
                gram=f"{m['texture_gram']:.3f}", hist=f"{m['texture_hist']:.3f}",
                change=f"{m['mean_abs_change']:.3f}", cycle=cycle)


@gpu
def reach_view(request: gr.Request | None = None) -> tuple[Image.Image, str]:
    """Why the generator cannot move things: its measured reach, drawn and stated."""
    import json

    found = json.loads(receptive.RESULTS.read_text())
    picture = receptive.destination_picture(get_model("cyclegan-plain2striped"))
    text = fill(text_in("cyclegan.reach", request_language(request)), theoretical=found["theoretical_px"],
                half=found["theoretical_px"] // 2, travel=f"{found['travel_px']:.0f}", pixels=found["pixels"],
                r50=f"{found['r50_px']:.1f}", r75=f"{found['r75_px']:.1f}",
                on_object=f"{found['on_object']:.1%}")
    moved = _moved_text(request_language(request))
    return picture, text + ("\n\n" + moved if moved else "")


def _moved_text(lang: str) -> str:
    """What the generator trained on the position task did, from its results files ("" until trained)."""
    import json

    try:
        record = json.loads(POSITION_RESULTS.read_text())
        own = json.loads(POSITION_REACH.read_text())
        m = record["metrics"]["AB"]
    except (OSError, ValueError, KeyError):
        return ""
    if record.get("status") != "trained":
        return ""
    return fill(text_in("cyclegan.moved", lang), steps=f"{record['training']['steps']:,}",
                moved=f"{m['displacement_px']:.1f}", needed=f"{m['needed_px']:.0f}", kept=f"{m['kept']:.0%}",
                arrived=f"{m['arrived']:.1%}", leave=f"{round(m['share_leave_in_place'] * record['eval_n'])}",
                n=record["eval_n"], own_r50=f"{own['r50_px']:.1f}", own_r75=f"{own['r75_px']:.1f}",
                own_on=f"{own['on_object']:.1%}")


def _wrong_side_text(pair: str, side: str) -> str:
    """What to say when a picture of side `side` goes to the generator that starts from the other."""
    other = "b" if side == "a" else "a"
    expected = "A→B" if side == "a" else "B→A"  # the direction that starts from the picture's side
    return (f"This picture looks like {cyclegan_domain_name(pair, side)} (domain {side.upper()}), but "
            f"{'B→A' if side == 'a' else 'A→B'} starts from {cyclegan_domain_name(pair, other)} "
            f"(domain {other.upper()}): choose {expected} to translate it. Below is what the generator "
            "makes of it anyway.")


def check_domain(picture: Image.Image, pair: str, side: str) -> dict:
    """Is `picture` like the training scenes of side `side` ("a" or "b") of a bundled pair?

    Answers `shared.domain.Verdict.as_json()` for that side, with "looks_like_side": the
    side the picture resembles more. A picture of the other side is out of the domain too
    ("looks_like": "other side"): its generator was never shown such a picture."""
    a, b = CYCLEGAN[(pair, "a")], CYCLEGAN[(pair, "b")]
    stats = domain.measure(picture)
    out = domain.judge(picture, CYCLEGAN[(pair, side)], stats).as_json()
    seen = "a" if domain.closer(picture, a, b, stats) is a else "b"
    out["looks_like_side"] = seen
    if out["in_domain"] and seen != side:
        out.update(in_domain=False, looks_like="other side", sentence=_wrong_side_text(pair, seen))
    return out


def _warning(check: dict | None, pair: str | None, lang: str) -> str:
    if not check or check["in_domain"]:
        return ""
    if check["looks_like"] == "other side":
        return "⚠️ " + text_in(f"cyclegan.wrong_side.{pair}.{check['looks_like_side']}", lang)
    return domain_warning(check, lang)


def _translate(image: str | None, model: str, direction: str, lang: str) -> tuple:
    name = _resolve(model, direction)
    spec = get_spec(name)
    picture = load_image(image, max_side=2048)
    pair = spec.extra.get("pair") if spec.tier == "bundled" else None
    check = None
    if pair is not None:
        check = check_domain(picture.image, pair, "a" if spec.extra["direction"] == "AB" else "b")
    # The official generators are big (45 MB, ~60 GFLOPs at 256 px): keep CPU requests bounded.
    result = translate(name, picture.image, max_side=512 if spec.tier == "bundled" else 384)
    metrics = {k: round(v, 4) for k, v in result.metrics.items()}
    data = {
        "model": name,
        "reverse": result.reverse,
        "seconds": round(result.seconds, 4),
        "size": list(result.input.size),
        "notes": picture.notes,
        "domain": check,
        "metrics": metrics,
    }
    warning = _warning(check, pair, lang)
    return (
        (result.input, result.output),
        edge_overlay(result.input, result.output, edges=result.input_edges),
        difference_map(result.input, result.output),
        result.reconstruction,
        (warning + "\n\n" if warning else "") + _summary(name, result.metrics, result.seconds, lang),
        data,
    )


@ui.handle_errors
@gpu
def translate_endpoint(
    image: str | None, model: str = zoo.bundled_name("texture", "AB"), direction: str = "A→B",
    request: gr.Request | None = None,
):
    """Translate one image; return before/after, edge overlay, change map, cycle and metrics.

    For a bundled model the JSON's "domain" says whether the picture is like the scenes that
    model's input side was trained on (`check_domain`), and the summary starts with a
    warning when it is not: a photo, or a picture of the pair's other side."""
    return _translate(image, model, direction, request_language(request))


@ui.handle_errors
@gpu
def translate_in_page(image: str | None, model: str, direction: str, request: gr.Request | None = None):
    """`translate_endpoint` for the page's own reruns (a new picture, model or direction):
    a model that cannot be fetched here says so in the summary, and the last result stays
    on screen, instead of an error over every picture."""
    try:
        return _translate(image, model, direction, request_language(request))
    except ModelUnavailable as exc:
        lang = request_language(request)
        note = text_in("cyclegan.unavailable", lang)
        said = f"⚠️ {error_in(str(exc), lang)}\n\n{note}"
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), said, gr.skip()


def _generated_examples() -> list[list[str]]:
    """[image, model, direction] for each generated scene: the file name says its domain."""
    rows = []
    for pair in ("texture", "geometry"):
        for path in sorted((EXAMPLES / "cyclegan").glob(f"{pair}_*.png")):
            domain = path.name.split("_")[1]  # "a" or "b"
            rows.append([str(path), zoo.bundled_name(pair, "AB"), "A→B" if domain == "a" else "B→A"])
    return rows


def create_demo() -> gr.Blocks:
    bundled = zoo.cyclegan_names("bundled")
    generated = _generated_examples()
    photos = sorted(str(p) for p in (EXAMPLES / "photos").glob("*.jpg"))
    # The authors' painting-style generators for the photos, when they are here or can be
    # fetched; offline, a bundled pair instead, whose summary then says why it means little.
    official = any(availability(get_spec(s))[0] for s in PHOTO_STYLES) or not offline()
    photo_rows = ([[p, style, "A→B"] for p, style in zip(photos, PHOTO_STYLES, strict=False)] if official
                  else [[p, zoo.bundled_name("texture", "AB"), "A→B"] for p in photos])
    register_domain_texts(CYCLEGAN.values())
    for pair, side in CYCLEGAN:
        tr(f"cyclegan.wrong_side.{pair}.{side}", _wrong_side_text(pair, side))
    tr("cyclegan.unavailable", "The pictures below are still the last result.")
    with gr.Blocks() as demo:
        ui.intro("cyclegan", QUESTION, ANSWER)
        # Outputs first (rendered further down), so the examples can be cached into them.
        before_after = gr.ImageSlider(label=tr("cyclegan.slider", "before / after (drag)"), render=False,
                                      elem_id="cyclegan-slider", type="pil", max_height=420,
                                      buttons=["download", "fullscreen"])
        summary = gr.Markdown(render=False, elem_id="cyclegan-summary")
        # Three across the result column: each about 290 px on a laptop, so the edge lines show.
        overlay = gr.Image(label=tr("cyclegan.overlay", "input's edges over the output"), type="pil",
                           height=EVIDENCE_PX, render=False, buttons=["download", "fullscreen"],
                           elem_id="cyclegan-overlay", min_width=200)
        change = gr.Image(label=tr("cyclegan.change", "where pixels changed"), type="pil", height=EVIDENCE_PX,
                          render=False, buttons=["download", "fullscreen"], elem_id="cyclegan-change",
                          min_width=200)
        cycle = gr.Image(label=tr("cyclegan.cycle", "cycle: back to A"), type="pil", height=EVIDENCE_PX,
                         render=False, buttons=["download", "fullscreen"], elem_id="cyclegan-cycle",
                         min_width=200)
        data = gr.JSON(show_label=False, render=False)
        outputs = [before_after, overlay, change, cycle, summary, data]
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                image = inputs.Image(type="filepath", label=tr("cyclegan.image", "image"), height=300,
                                     value=generated[0][0] if generated else None, elem_id="cyclegan-input")
                model = inputs.Dropdown(_choices(), value=bundled[0] if bundled else None,
                                        label=tr("cyclegan.model", "model"), elem_id="cyclegan-model")
                direction = inputs.Radio(list(DIRECTIONS), value="A→B",
                                         label=tr("cyclegan.direction", "direction"))
                run = gr.Button(tr("cyclegan.run", "Translate"), variant="primary")
                # Only the picture is shown; the model and direction travel with it.
                examples = dict(inputs=[image, model, direction], fn=translate_in_page, outputs=outputs,
                                visible_columns=[0],
                                **ui.example_caching())
                # All on one page: a pager's label ("Pages:") is Gradio's, in English only.
                gr.Examples(generated, elem_id="cyclegan-examples", examples_per_page=max(len(generated), 1),
                            label=tr("cyclegan.examples_generated", "generated scenes (bundled models)"),
                            **examples)
                photo_labels = (tr("cyclegan.examples_photos", "photos (official models)"), tr(
                    "cyclegan.examples_photos_offline",
                    "photos: the official models need a download and this server is offline, so a bundled "
                    "model runs on them, with a warning"))  # both registered for translation
                gr.Examples(photo_rows, label=photo_labels[0 if official else 1],
                            elem_id="cyclegan-examples-photos", **examples)
            with gr.Column(scale=2):
                before_after.render()
                summary.render()
                with gr.Row():
                    overlay.render()
                    change.render()
                    cycle.render()
                gr.Markdown(tr("cyclegan.why", WHY))
                with gr.Accordion(tr("cyclegan.json", "Metrics as JSON"), open=False):
                    data.render()
        if receptive.RESULTS.is_file() and "cyclegan-plain2striped" in bundled:
            with gr.Accordion(tr("cyclegan.reach_title", "Why it cannot move things: how far the generator "
                                                          "looks (measured)"), open=True):
                with gr.Row():
                    reach_picture = gr.Image(show_label=False, elem_id="cyclegan-reach", height=384,
                                             buttons=["download", "fullscreen"], scale=1)
                    reach_text = gr.Markdown(elem_id="cyclegan-reach-text")
            ui.when_opened(demo)(reach_view, outputs=[reach_picture, reach_text], js=LANGUAGE_JS,
                                 api_visibility="private", **ui.MODEL_QUEUE)
        # LANGUAGE_JS: the page's language travels with each request, for the warnings.
        io = dict(inputs=[image, model, direction], outputs=outputs, js=LANGUAGE_JS, **ui.MODEL_QUEUE)
        run.click(translate_endpoint, **io, api_name="translate")
        gr.on(
            [image.change, model.change, direction.change],
            translate_in_page,
            **io,
            api_visibility="private",
            trigger_mode="always_last",
        )
        ui.when_opened(demo)(translate_in_page, **io, api_visibility="private")
    return demo
