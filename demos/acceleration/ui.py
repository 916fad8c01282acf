"""The acceleration tab: the common ways to make a model faster, measured on this machine.

A thin adapter over `measure`, `cache` and `plots`: validates input, runs one measurement
(never two at once: a queue of one, and a lock behind it), keeps it per machine, and lays
out the table and the plot. The tab opens with the last measurement kept on this machine.
Endpoint: `/accelerate`.
"""

from __future__ import annotations

import gradio as gr

from shared import acceleration as serving
from shared import components as inputs
from shared import ui
from shared.device import gpu
from shared.i18n import tr
from shared.registry import get_spec

from . import cache, measure, plots, subjects
from .techniques import BASELINE, BY_NAME, NAMES

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
COLUMNS = ["technique", "level", "status", "median ms", "p95 ms", "speed-up", "peak MB", "file MB",
           "max diff (relative)", "tolerance", "faithful", "metric change [95 % CI]", "note"]
EMPTY = ("No measurement is kept on this machine yet. Choose a model and press **Measure now**; "
         "the result is kept, and the tab opens with it next time.")


def _choices() -> list[tuple[str, str]]:
    labels = {"bundled": "", "pretrained": " (real weights)", "random": " (random weights: speed only)"}
    return [(f"{name}{labels[subjects.weights_kind(name)]}", name) for name in subjects.names()]


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def table(m: measure.Measurement) -> list[list]:
    rows = []
    for r in m.rows:
        if r.status != "measured":
            rows.append([r.technique, r.level, r.status] + ["—"] * 9 + [r.reason])
            continue
        change = "—"
        if r.change is not None:
            change = f"{100 * r.change:+.2f} {r.metric}"
            if r.change_ci:
                change += f" [{100 * r.change_ci[0]:+.2f}, {100 * r.change_ci[1]:+.2f}]"
        rows.append([r.technique, r.level, r.status, _fmt(r.median_ms), _fmt(r.p95_ms),
                     _fmt(r.speedup, 2, "×"), _fmt(r.peak_mb, 0), _fmt(r.file_mb, 2),
                     "—" if r.max_rel is None else f"{r.max_rel:.1e}", f"{r.tolerance:g}",
                     {True: "yes", False: "no", None: "not checked"}[r.faithful], change, r.note])
    return rows


def summary(m: measure.Measurement, kept: bool, message: str = "") -> str:
    weights = {"bundled": "the bundled checkpoint",
               "pretrained": "its published weights (cached here)",
               "random": "**random weights**: its published weights are not cached here, so this measures "
                         "speed and faithfulness only, not accuracy"}[m.weights]
    lines = [f"**{m.model}** on a {m.size[0]}×{m.size[1]} input, with {weights}. Measured "
             f"{'earlier, ' if kept else ''}on {m.date.replace('T', ' ')} on {m.machine} ({m.device}, "
             f"{m.threads} torch threads per call as the app gives it), {m.repeats} timed calls per "
             f"technique in turns after 2 warm-up calls; {m.seconds:.0f} s in all."]
    top = measure.best(m)
    if top is not None:
        within = f", {100 * top.change:+.2f} {top.metric}" if top.change is not None else ""
        lines.append(f"Fastest faithful technique: **{top.technique}**, {top.speedup:.2f}× "
                     f"({top.median_ms:.1f} ms against {m.rows[0].median_ms:.1f} ms{within}).")
    else:
        lines.append("No technique was both faithful and faster than fp32 eager here.")
    if m.quality_subset:
        lines.append(f"Accuracy: {m.quality_subset}; intervals are 95 % paired bootstrap intervals over the "
                     "scenes (detectors).")
    spec = get_spec(m.model)
    lines.append(f"Served in the app as: {serving.describe(m.model, spec.tier)}.")
    if message:
        lines.append(message)
    return "\n\n".join(lines)


def _outputs(m: measure.Measurement | None, kept: bool, message: str = "") -> tuple:
    if m is None:
        return (message + "\n\n" + EMPTY).strip(), [], None, {}
    return summary(m, kept, message), table(m), plots.speedup_figure(m), m.as_json() | {"kept": kept}


@ui.handle_errors
@gpu(duration=120)
def accelerate_endpoint(model: str = DEFAULT_MODEL, input_size: float = 256,
                        techniques: list[str] | None = None, repeats: float = 10, progress=gr.Progress()):
    """Measure each chosen technique against fp32 eager on one model, in one run on this machine:
    latency (median, p95), speed-up, peak memory, file size, the largest output difference and,
    for bundled models, the change of their own metric. Returns a summary, the table, the plot and
    JSON; the measurement is kept per machine."""
    chosen = DEFAULT_TECHNIQUES if techniques is None else techniques
    result = measure.measure(model, input_size, chosen, repeats, progress=lambda f, d: progress(f, desc=d))
    message = ""
    try:
        cache.save(result)
    except OSError as exc:  # a read-only disk: the result is still shown, only not kept
        message = f"This measurement could not be kept ({type(exc).__name__})."
    return _outputs(result, False, message)


def show_kept(model: str | None = None) -> tuple:
    """The last measurement kept on this machine (of `model` when one was kept for it)."""
    found, message = cache.latest(model) if model else (None, "")
    if found is None:
        found, message = cache.latest()
    return _outputs(found, True, message)


def create_demo() -> gr.Blocks:
    with gr.Blocks() as demo:
        ui.intro("acceleration", QUESTION, ANSWER)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                model = inputs.Dropdown(_choices(), value=DEFAULT_MODEL,
                                        label=tr("acceleration.model", "model"))
                size = inputs.Slider(*subjects.SIZE_LIMITS, value=256, step=16,
                                     label=tr("acceleration.size", "input width (px; height 3/4 of it)"))
                techniques = inputs.CheckboxGroup(
                    [(f"{n} — {BY_NAME[n].level}", n) for n in NAMES if n != BASELINE],
                    value=DEFAULT_TECHNIQUES,
                    label=tr("acceleration.techniques", "techniques (fp32 eager is always measured)"))
                repeats = inputs.Slider(*measure.REPEATS_LIMITS, value=10, step=1,
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
        button.click(accelerate_endpoint, inputs=[model, size, techniques, repeats], outputs=outputs,
                     api_name="accelerate", concurrency_id="acceleration", concurrency_limit=1)
        gr.on([model.change, ui.when_opened(demo)], show_kept, inputs=model, outputs=outputs,
              api_visibility="private", **ui.LIGHT_QUEUE)
    return demo
