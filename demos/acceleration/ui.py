"""The acceleration tab: the common ways to make a model faster, measured on this machine.

A thin adapter over `measure`, `cache` and `plots`: validates input, runs one measurement
(never two at once: a queue of one, and a lock behind it), keeps it per machine, and lays
out the table and the plot. The tab opens with the last measurement kept on this machine.
Endpoint: `/accelerate`.
"""

from __future__ import annotations

import gradio as gr

from shared import components as inputs
from shared import ui
from shared.device import gpu
from shared.i18n import LANGUAGE_JS, request_language, text_in, tr
from shared.templates import fill

from . import cache, measure, plots, subjects, texts
from .techniques import BASELINE, NAMES

QUESTION = "What are the common ways to accelerate a deep model, and what does each buy on this machine?"
ANSWER = """\
"More, faster, better, cheaper": three levels, each measured in a row of the table below.

- **Computation**: do less arithmetic, or cheaper arithmetic. Pruning and weight sharing
  (row *pruning + weight sharing*: a file several times smaller, but dense kernels still
  multiply the zeros, so no faster), quantisation (rows *int8 dynamic* and *int8 static*),
  distillation into a smaller network, low-rank factorisation, and efficient
  architectures (compare MobileNet's *ssdlite320* with *ssd300_vgg16* in the picker).
- **System**: run the same arithmetic better. Graph compilers and kernel fusion
  (*torch.compile*), memory layout (*channels-last*), no autograd bookkeeping
  (*inference_mode*), threads (*all cores*: on a shared machine more threads can be
  slower), batching, launch overhead (*CUDA graphs*), and caching results.
- **Hardware**: arithmetic units built for it. GPUs and their tensor cores (the *CUDA*
  rows, skipped without a GPU), bf16 and int8 units in CPUs (*bf16 autocast* on
  AVX512-BF16 or AMX; *int8* on VNNI), NPUs.

Every figure is measured here, in one run, against fp32 eager on the same input. A
technique counts only if its outputs stay within its stated tolerance of fp32; bundled
models also show the change of their own metric on a fixed subset. The winners are put
to work: the pretrained tier is served through the fastest path checked faithful on this
machine (see the Models tab).
"""
DEFAULT_MODEL = "tiny-retinanet-focal"
DEFAULT_TECHNIQUES = [t for t in NAMES if t not in (BASELINE, "torch.compile")]
COLUMNS = texts.COLUMNS
EMPTY = texts.TEXTS["empty"]

# Every text the tab writes per request, registered for translation when this module loads (so an
# endpoint can be called before the tab is built); `_texts` looks them up in a request's language.
for _key, _english in texts.TEXTS.items():
    tr(f"acceleration.{_key}", _english)


def _texts(request: gr.Request | None) -> dict[str, str]:
    lang = request_language(request)
    return texts.texts_in({key: text_in(f"acceleration.{key}", lang) for key in texts.TEXTS}, lang)


def _choices() -> list[tuple[str, str]]:
    """The models, each labelled with the weights it is measured with (in the page's language)."""
    labels = {"bundled": ""} | {kind: str(tr(f"acceleration.choice_{kind}", texts.TEXTS[f"choice_{kind}"]))
                                for kind in ("pretrained", "random")}
    return [(f"{name}{labels[subjects.weights_kind(name)]}", name) for name in subjects.names()]


def _outputs(m: measure.Measurement | None, kept: bool, message: str = "",
             t: dict[str, str] | None = None) -> tuple:
    t = t or texts.ENGLISH
    if m is None:
        text = (texts.message(message, t) + "\n\n" + t["empty"]).strip()
        return text, {"headers": texts.headers(t), "data": []}, None, {}
    return (texts.summary(m, kept, message, t), texts.table(m, t), plots.speedup_figure(m, t),
            m.as_json() | {"kept": kept})


@ui.handle_errors
@gpu(duration=120)
def accelerate_endpoint(model: str = DEFAULT_MODEL, input_size: float = 256,
                        techniques: list[str] | None = None, repeats: float = 10,
                        request: gr.Request | None = None, progress=gr.Progress()):
    """Measure each chosen technique against fp32 eager on one model, in one run on this machine:
    latency (median, p95), speed-up, peak memory, file size, the largest output difference and,
    for bundled models, the change of their own metric. Returns a summary, the table, the plot and
    JSON; the measurement is kept per machine."""
    chosen = DEFAULT_TECHNIQUES if techniques is None else techniques
    t = _texts(request)
    result = measure.measure(model, input_size, chosen, repeats,
                             progress=lambda f, d: progress(f, desc=texts.progress(d, t)))
    message = ""
    try:
        cache.save(result)
    except OSError as exc:  # a read-only disk: the result is still shown, only not kept
        message = fill(texts.TEXTS["not_kept"], error=type(exc).__name__)
    return _outputs(result, False, message, t)


def show_kept(model: str | None = None, request: gr.Request | None = None) -> tuple:
    """The last measurement kept on this machine (of `model` when one was kept for it)."""
    found, message = cache.latest(model) if model else (None, "")
    if found is None:
        found, message = cache.latest()
    return _outputs(found, True, message, _texts(request))


def create_demo() -> gr.Blocks:
    with gr.Blocks() as demo:
        ui.intro("acceleration", QUESTION, ANSWER)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                model = inputs.Dropdown(_choices(), value=DEFAULT_MODEL, elem_id="acceleration-model",
                                        label=tr("acceleration.model", "model"))
                size = inputs.Slider(*subjects.SIZE_LIMITS, value=256, step=16, elem_id="acceleration-size",
                                     label=tr("acceleration.size", "input width (px; height 3/4 of it)"))
                techniques = inputs.CheckboxGroup(
                    [(str(tr(f"acceleration.choice_{texts.slug(n)}", texts.CHOICES[n])), n)
                     for n in NAMES if n != BASELINE],
                    value=DEFAULT_TECHNIQUES, elem_id="acceleration-techniques",
                    label=tr("acceleration.techniques", "techniques (fp32 eager is always measured)"))
                repeats = inputs.Slider(*measure.REPEATS_LIMITS, value=10, step=1,
                                        elem_id="acceleration-repeats",
                                        label=tr("acceleration.repeats", "timed calls per technique"))
                button = gr.Button(tr("acceleration.measure", "Measure now"), variant="primary",
                                   elem_id="acceleration-measure")
                gr.Markdown(tr("acceleration.note",
                               "Pretrained models take seconds per call on a CPU: try 3 repeats first. "
                               "torch.compile compiles for a minute or more before its first call."))
            with gr.Column(scale=3):
                text = gr.Markdown(elem_id="acceleration-summary")
                rows = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True,
                                    elem_id="acceleration-table", max_height=900,  # every row at once
                                    label=tr("acceleration.table", "each technique against fp32 eager"))
                figure = gr.Plot(show_label=False, elem_id="acceleration-plot")
        with gr.Accordion(tr("acceleration.json", "The measurement as JSON"), open=False):
            data = gr.JSON(show_label=False)
        outputs = [text, rows, figure, data]
        # One measurement at a time: a second request waits in this queue of one.
        # LANGUAGE_JS: the page's language travels with each request, for the sentences, table and plot.
        button.click(accelerate_endpoint, inputs=[model, size, techniques, repeats], outputs=outputs,
                     api_name="accelerate", js=LANGUAGE_JS, concurrency_id="acceleration",
                     concurrency_limit=1)
        gr.on([model.change, ui.when_opened(demo)], show_kept, inputs=model, outputs=outputs, js=LANGUAGE_JS,
              api_visibility="private", **ui.LIGHT_QUEUE)
    return demo
