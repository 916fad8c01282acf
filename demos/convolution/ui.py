"""The convolution tab: how a convolution is computed fast, and weight sharing that compresses
our own models (Deep Compression), both measured here.

A thin adapter over `explain`, `sweep` and `pipeline`: validates input, calls them, and lays
out the evidence. Endpoints: `/convolution` (one convolution five ways, im2col step by step)
and `/compress` (prune, share, fine-tune, save, reload and measure a bundled model).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from shared import components as inputs
from shared import ui
from shared.device import gpu
from shared.i18n import LANGUAGE_JS, request_language, text_in, tr
from shared.images import load_image
from shared.templates import fill
from shared.validation import MESSAGES as NUMBER
from shared.validation import BadInput

from . import pipeline, plots, targets, texts
from .compress import INITS, K_RANGE, MAX_SPARSITY
from .errors import MESSAGES, NAMES
from .explain import LIMITS, SOURCES, explain, prepare_input
from .implementations import NOT_APPLICABLE, why_not
from .sweep import cached_sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENE = EXAMPLES / "detection" / "scene_1000011.png"
NA = "—"  # a method that does not apply to these settings
TIMING_COLUMNS = ["method", "ms", "GFLOP/s", "max |error| vs conv2d", "extra KB", "note"]
# Examples show as named buttons: a table of nine settings would not fit a phone.
CONVOLUTION_EXAMPLES = ["3×3 on the scene", "9×9 kernel (FFT's case)", "depthwise 3×3 on detector features",
                        "stride 2, dilation 2 on detector features"]
COMPRESS_EXAMPLES = ["k = 256, no pruning, no Huffman (lossless)", "the defaults",
                     "k = 16, half pruned, density init", "the CycleGAN generator, k = 16"]

# The words the tab computes per request, registered for translation when this module loads (so
# an endpoint can be called before the tab is built); `_words` looks them up in a request's language.
# Columns that are units only ("ms", "GFLOP/s") need no translation.
TIMING_KEYS = {"method": "method", "max |error| vs conv2d": "error", "extra KB": "extra", "note": "note"}
LAYER_KEYS = dict(zip(pipeline.TABLE_COLUMNS, ("layer", "weights", "kept", "weight_bits", "index_bits",
                                               "bytes", "rate"), strict=True))
for _prefix, _english in (("text", texts.TEXTS), ("plot", plots.TEXTS), ("why_not", NOT_APPLICABLE),
                          ("progress", texts.PROGRESS)):
    for _key, _text in _english.items():
        tr(f"convolution.{_prefix}.{_key}", _text)
for _prefix, _labels in (("example", CONVOLUTION_EXAMPLES), ("compress_example", COMPRESS_EXAMPLES)):
    for _n, _label in enumerate(_labels):
        tr(f"convolution.{_prefix}_{_n}", _label)
for _column, _key in TIMING_KEYS.items():
    tr(f"convolution.timing.{_key}", _column)
for _column, _key in LAYER_KEYS.items():
    tr(f"convolution.layer_table.{_key}", _column)


def _words(prefix: str, english: dict[str, str], lang: str) -> dict[str, str]:
    """`english`'s texts (registered as "convolution.<prefix>.<key>") in `lang`."""
    return {key: text_in(f"convolution.{prefix}.{key}", lang) for key in english}


def _sentences_and_figures(lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """The texts of `texts` (with the language's punctuation) and of `plots`, in `lang`."""
    return texts.texts_in(_words("text", texts.TEXTS, lang), lang), _words("plot", plots.TEXTS, lang)


def _timing_table(ex, lang: str) -> dict:
    """The five methods' timings as the table shows them, headers and notes in `lang`."""
    names = {"method_direct": text_in("convolution.text.method_direct", lang)}
    rows = []
    for t in ex.timings:
        reason = why_not(t.method, ex.shape) if t.note else None
        note = t.note if reason is None else fill(text_in(f"convolution.why_not.{reason[0]}", lang),
                                                  **reason[1])
        rows.append([texts.method_name(t.method, names),
                     NA if t.seconds is None else round(t.seconds * 1000, 3),
                     NA if t.gflops is None else round(t.gflops, 2),
                     NA if t.max_error is None else f"{t.max_error:.1e}",
                     NA if t.extra_bytes is None else round(t.extra_bytes / 1024, 1), note])
    headers = [text_in(f"convolution.timing.{TIMING_KEYS[c]}", lang) if c in TIMING_KEYS else c
               for c in TIMING_COLUMNS]
    return {"headers": headers, "data": rows}


def _layer_table(result: pipeline.Result, lang: str) -> dict:
    """The per-layer table with its headers and its total row's label in `lang`."""
    rows = pipeline.table(result)
    if rows and rows[-1][0] == "total":
        rows[-1][0] = text_in("convolution.text.total", lang)
    headers = [text_in(f"convolution.layer_table.{LAYER_KEYS[c]}", lang) for c in pipeline.TABLE_COLUMNS]
    return {"headers": headers, "data": rows}


def _whole(value: float, name: str, key: str) -> int:
    """A whole number within the tab's limits for `key`, or a plain error naming it."""
    low, high = LIMITS[key]
    value = ui.finite(value, name, low=low, high=high)
    if not float(value).is_integer():
        raise BadInput(fill(NUMBER["whole"], name=name, value=value))
    return int(value)


@ui.handle_errors
@gpu
def convolution_endpoint(image: str | None, source: str = SOURCES[0], input_size: float = 32,
                         kernel_size: float = 3, stride: float = 1, padding: float = 1, dilation: float = 1,
                         groups: float = 1, out_channels: float = 8, request: gr.Request | None = None):
    """One convolution on the image computed five ways (direct loops, im2col + GEMM, FFT, Winograd,
    conv2d): the im2col picture, a timing table, the sweep figure, a summary and JSON."""
    n = {key: _whole(value, NAMES[name], key) for key, value, name in (
        ("input_size", input_size, "input_size"), ("kernel_size", kernel_size, "kernel_size"),
        ("stride", stride, "stride"), ("padding", padding, "padding"), ("dilation", dilation, "dilation"),
        ("groups", groups, "groups"), ("out_channels", out_channels, "out_channels_count"))}
    if source not in SOURCES:
        raise BadInput(fill(MESSAGES["unknown_source"], name=repr(source), known=", ".join(SOURCES)))
    picture = load_image(image, max_side=2048)
    x = prepare_input(picture.image, source, n["input_size"])
    ex = explain(x, n["kernel_size"], n["stride"], n["padding"], n["dilation"], n["groups"],
                 n["out_channels"])
    sw = cached_sweep()
    lang = request_language(request)
    words, drawn = _sentences_and_figures(lang)
    data = ex.as_json() | {"image_size": list(picture.original_size), "notes": picture.notes,
                           "source": source, "matmul_gflops": round(sw.matmul_gflops, 1)}
    figure = plots.im2col_figure(ex.x, ex.cols, ex.rows, ex.out, ex.shape, ex.position, drawn)
    text = texts.convolution_summary(ex, words) + "\n\n" + texts.sweep_reading(sw, words)
    return figure, _timing_table(ex, lang), plots.sweep_figure(sw, drawn), text, data


# Built figures by what they show: a kept compression result is answered again without
# rebuilding its two plotly figures, which take most of the handler's time (~60 ms each here).
_FIGURES: OrderedDict[tuple, Any] = OrderedDict()
FIGURES_KEPT = 32


def _figure(key: tuple, build: Callable[[], Any]) -> Any:
    if key not in _FIGURES:
        _FIGURES[key] = build()
        while len(_FIGURES) > FIGURES_KEPT:
            _FIGURES.popitem(last=False)
    _FIGURES.move_to_end(key)
    return _FIGURES[key]


def _count(value: float, name: str, high: int, low: int = 0) -> int:
    value = ui.finite(value, name, low=low, high=high)
    if not float(value).is_integer():
        raise BadInput(fill(NUMBER["whole"], name=name, value=value))
    return int(value)


@ui.handle_errors
def compress_endpoint(model: str = pipeline.DEFAULTS["model"], k: float = pipeline.DEFAULTS["k"],
                      sparsity: float = pipeline.DEFAULTS["sparsity"], init: str = pipeline.DEFAULTS["init"],
                      fine_tune_steps: float = 0, huffman: bool = True, request: gr.Request | None = None,
                      progress=gr.Progress()):
    """Prune, weight-share (k-means), optionally fine-tune and Huffman-code a bundled model, then save
    and reload the compressed file. Returns a summary, the outputs before and after, the per-layer
    table, the measured frontier, weight histograms with centroids, the file and JSON."""
    targets.check_model(model)
    k = _count(k, NAMES["k"], K_RANGE[1], K_RANGE[0])
    steps = _count(fine_tune_steps, NAMES["fine_tune_steps"], pipeline.MAX_FINE_TUNE_STEPS)
    sparsity = ui.finite(sparsity, NAMES["sparsity"], low=0.0, high=MAX_SPARSITY)
    if init not in INITS:
        raise BadInput(fill(MESSAGES["unknown_init"], name=repr(init), known=", ".join(INITS)))
    if not isinstance(huffman, bool):
        raise BadInput(fill(MESSAGES["huffman"], value=repr(huffman)))
    said = _words("progress", texts.PROGRESS, request_language(request))  # progress in the page language
    result, cached = pipeline.cached_run(progress=lambda f, m: progress(f, desc=texts.progress_in(m, said)),
                                         model=model, k=k, sparsity=sparsity, init=init,
                                         fine_tune_steps=steps, huffman=huffman)
    metric = "AP" if targets.TARGETS[model] == "detection" else next(iter(result.quality))
    points = [p for p in pipeline.frontier().get("points", []) if p["model"] == model]
    current = {"k": k, "ratio": result.ratio, "change": result.quality[metric]["change"]}
    before, after = result.images
    lang = request_language(request)
    words, drawn = _sentences_and_figures(lang)
    text = (texts.compress_summary(result, cached, words) + "\n\n"
            + texts.frontier_reading(points, metric, words))
    return (text, [(before, words["caption_original"]), (after, words["caption_compressed"])],
            _layer_table(result, lang),
            _figure(("frontier", model, metric, repr(points), repr(current), lang),
                    lambda: plots.frontier_figure(points, metric, current, drawn)),
            # Same settings, same compression (seeded k-means): the file's path names the settings.
            _figure(("histogram", str(result.path), lang),
                    lambda: plots.histogram_figure(result.layers, t=drawn)),
            str(result.path),
            result.as_json() | {"cached": cached})


def _example_labels(request: gr.Request | None = None) -> tuple[dict, dict]:
    """Both example lists' labels in the page's language."""
    lang = request_language(request)
    lists = (("example", CONVOLUTION_EXAMPLES), ("compress_example", COMPRESS_EXAMPLES))
    return tuple(gr.update(sample_labels=[text_in(f"convolution.{prefix}_{n}", lang)
                                          for n in range(len(labels))]) for prefix, labels in lists)


def _convolution_panel() -> tuple[list, list, gr.Button, list, gr.Dataset]:
    """The inputs and outputs of `/convolution`, laid out; returns (inputs, outputs, run button,
    the events that recompute, the examples' buttons)."""
    # Outputs first (rendered further down), so the examples can be cached into them.
    figure = gr.Plot(show_label=False, render=False, elem_id="convolution-im2col")
    timings = gr.Dataframe(headers=TIMING_COLUMNS, interactive=False, render=False, wrap=True)
    sweep = gr.Plot(show_label=False, render=False, elem_id="convolution-sweep")
    text = gr.Markdown(render=False, elem_id="convolution-summary")
    data = gr.JSON(show_label=False, render=False)
    outputs = [figure, timings, sweep, text, data]
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            image = inputs.Image(type="filepath", label=tr("convolution.image", "input image"), height=220,
                                 value=str(SCENE))
            # The choices' labels follow the page's language; their values (the API's) stay English.
            sources = [(str(tr(f"convolution.source_{n}", name)), name) for n, name in enumerate(SOURCES)]
            source = inputs.Radio(sources, value=SOURCES[0], label=tr("convolution.source", "input"))
            size = inputs.Slider(*LIMITS["input_size"], value=32, step=1,
                                 label=tr("convolution.size", "input size (px)"))
            kernel = inputs.Slider(*LIMITS["kernel_size"], value=3, step=1,
                                   label=tr("convolution.kernel", "kernel size k"))
            with gr.Row():
                stride = inputs.Number(1, label=tr("convolution.stride", "stride"), minimum=1)
                padding = inputs.Number(1, label=tr("convolution.padding", "padding"), minimum=0)
                dilation = inputs.Number(1, label=tr("convolution.dilation", "dilation"), minimum=1)
            with gr.Row():
                groups = inputs.Number(1, label=tr("convolution.groups", "groups"), minimum=1)
                out_channels = inputs.Number(8, label=tr("convolution.out_channels", "output channels"),
                                             minimum=1)
            run = gr.Button(tr("convolution.run", "Compute"), variant="primary")
            fields = [image, source, size, kernel, stride, padding, dilation, groups, out_channels]
            scene, image_in, features = str(SCENE), SOURCES[0], SOURCES[1]
            rows = [[scene, image_in, 32, 3, 1, 1, 1, 1, 8], [scene, image_in, 32, 9, 1, 4, 1, 1, 8],
                    [scene, features, 24, 3, 1, 1, 1, 16, 16], [scene, features, 24, 3, 2, 1, 2, 1, 32]]
            examples = gr.Examples(rows, inputs=fields, outputs=outputs, fn=convolution_endpoint,
                                   elem_id="convolution-examples", example_labels=CONVOLUTION_EXAMPLES,
                                   label=tr("convolution.examples", "examples"), **ui.example_caching())
        with gr.Column(scale=3):
            figure.render()
            text.render()
            timings.render()
    with gr.Accordion(tr("convolution.sweep", "The sweep: time, GFLOP/s and memory against k and channels")):
        sweep.render()
    with gr.Accordion(tr("convolution.json", "Shapes and timings as JSON"), open=False):
        data.render()
    triggers = [image.change, source.change, size.release, kernel.release, stride.submit, padding.submit,
                dilation.submit, groups.submit, out_channels.submit]
    return fields, outputs, run, triggers, examples.dataset


def _compress_panel() -> tuple[list, list, gr.Button, gr.Dataset]:
    """The inputs and outputs of `/compress`, laid out; returns (inputs, outputs, button, the examples'
    buttons)."""
    gr.Markdown(tr("convolution.compress_intro", texts.COMPRESS_INTRO))
    summary = gr.Markdown(render=False, elem_id="compress-summary")
    pictures = gr.Gallery(label=tr("convolution.pictures", "the model's output, before and after"),
                          columns=2, height=320, object_fit="contain", render=False,
                          elem_id="compress-gallery",
                          buttons=["download", "fullscreen"])
    table = gr.Dataframe(headers=pipeline.TABLE_COLUMNS, interactive=False, render=False, wrap=True,
                         max_height=900,  # every layer and the total row without a scroll box
                         label=tr("convolution.table", "our model, per layer (measured on the file)"))
    front = gr.Plot(show_label=False, render=False, elem_id="compress-frontier")
    hist = gr.Plot(show_label=False, render=False, elem_id="compress-histogram")
    file = gr.File(label=tr("convolution.file", "the compressed file"), render=False, interactive=False,
                   elem_id="compress-file")
    data = gr.JSON(show_label=False, render=False)
    outputs = [summary, pictures, table, front, hist, file, data]
    d = pipeline.DEFAULTS
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            model = inputs.Dropdown(ui.model_choices(list(targets.TARGETS)), value=d["model"],
                                    label=tr("convolution.model", "model"))
            k = inputs.Slider(K_RANGE[0], K_RANGE[1], value=d["k"], step=1,
                              label=tr("convolution.k", "clusters per layer, k"))
            sparsity = inputs.Slider(0, MAX_SPARSITY, value=d["sparsity"], step=0.05,
                                     label=tr("convolution.sparsity", "pruned share (sparsity)"))
            init = inputs.Radio([(str(tr(f"convolution.init_{name}", name)), name) for name in INITS],
                                value=d["init"],
                                label=tr("convolution.init", "centroid initialisation"))
            steps = inputs.Slider(0, pipeline.MAX_FINE_TUNE_STEPS, value=d["fine_tune_steps"], step=10,
                                  label=tr("convolution.steps", "fine-tuning steps (slow: ~0.5 s each)"))
            huffman = gr.Checkbox(d["huffman"],
                                  label=tr("convolution.huffman", "Huffman-code indices and positions"))
            button = gr.Button(tr("convolution.compress", "Compress"), variant="primary")
            fields = [model, k, sparsity, init, steps, huffman]
            det = targets.DETECTOR
            rows = [[det, 256, 0.0, "linear", 0, False],
                    [det, d["k"], d["sparsity"], d["init"], 0, d["huffman"]],
                    [det, 16, 0.5, "density", 0, True], [targets.CYCLEGAN, 16, 0.0, "linear", 0, True]]
            examples = gr.Examples(rows, inputs=fields, outputs=outputs, fn=compress_endpoint,
                                   elem_id="compress-examples", example_labels=COMPRESS_EXAMPLES,
                                   label=tr("convolution.compress_examples", "examples"),
                                   **ui.example_caching())
        with gr.Column(scale=3):
            summary.render()
            pictures.render()
            table.render()
            gr.Markdown(tr("convolution.paper", texts.paper_table()))
    with gr.Row():
        front.render()
        hist.render()
    file.render()
    with gr.Accordion(tr("convolution.compress_json", "Compression as JSON"), open=False):
        data.render()
    return fields, outputs, button, examples.dataset


def create_demo() -> gr.Blocks:
    with gr.Blocks() as demo:
        ui.intro("convolution", texts.QUESTION, texts.ANSWER)
        conv_inputs, conv_outputs, run, triggers, conv_examples = _convolution_panel()
        compress_inputs, compress_outputs, button, compress_examples = _compress_panel()
        # Gradio shows an example's label as it is given (a translation key would show as its code), so
        # the labels are set in the page's language when the tab opens.
        ui.when_opened(demo)(_example_labels, outputs=[conv_examples, compress_examples], js=LANGUAGE_JS,
                             api_visibility="private", **ui.LIGHT_QUEUE)
        # LANGUAGE_JS: the page's language travels with each request, for the sentences and figures.
        conv = dict(fn=convolution_endpoint, inputs=conv_inputs, outputs=conv_outputs, js=LANGUAGE_JS,
                    **ui.MODEL_QUEUE)
        run.click(**conv, api_name="convolution")
        gr.on(triggers, **conv, api_visibility="private", trigger_mode="always_last")
        ui.when_opened(demo)(**conv, api_visibility="private")
        squeeze = dict(fn=compress_endpoint, inputs=compress_inputs, outputs=compress_outputs,
                       js=LANGUAGE_JS, **ui.MODEL_QUEUE)
        button.click(**squeeze, api_name="compress")
        ui.when_opened(demo)(**squeeze, api_visibility="private")
    return demo
