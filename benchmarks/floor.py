"""The Gradio floor: the cost of a round trip that does no work, shaped like each endpoint.

One small app, run in its own process, with one identity endpoint per image endpoint of
the suite. Each takes the same image file in and sends back the same number and kind
of outputs as the endpoint it stands for, built from the decoded input image, so the
floor includes what every response costs whatever the model: the queue, the HTTP round
trips, encoding each output image, the client downloading each file. What it leaves
out is the endpoint's own work (model, metrics, drawing, plots). An endpoint's overhead
ratio is its end-to-end time divided by (its model time + its floor).

Component settings (gallery and image formats) mirror the app's, so a cheaper format
in the app is a cheaper format in its floor too, and the ratio cannot be improved by
changing formats alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gradio as gr
import plotly.graph_objects as go
from PIL import Image

# The CycleGAN tab's image outputs use Gradio's default format; keep these in step with it.
TRANSLATE_FORMAT = "webp"
ROI_FORMAT = "png"

SCENE = Path(__file__).resolve().parent.parent / "examples" / "detection" / "scene_1000011.png"

# Built once: a floor must not pay per request for work that the app does per request.
_FIGURE = go.Figure(go.Scatter(x=list(range(50)), y=list(range(50))))


def _decoded(path: str) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


def echo_detect(image: str, count: int = 1):
    """/detect: a gallery with one image per model, and JSON."""
    picture = _decoded(image)
    return [(picture, f"echo {i}") for i in range(int(count))], {"ok": True}


def echo_translate(image: str):
    """/translate: a before/after pair, three images, a summary and JSON."""
    picture = _decoded(image)
    return (picture, picture), picture, picture, picture, "echo", {"ok": True}


def echo_pose(image: str, count: int = 2, evidence: int = 3):
    """/pose: a gallery of skeletons per method, a gallery of evidence, JSON."""
    picture = _decoded(image)
    return ([(picture, "echo")] * int(count), [(picture, "echo")] * int(evidence), {"ok": True})


def echo_anatomy(image: str):
    """/loss_anatomy: two plots, a summary and JSON (the plots are prebuilt)."""
    _decoded(image)
    return _FIGURE, _FIGURE, "echo", {"ok": True}


def echo_roi(image: str):
    """/roi_pool_vs_align: two images, two plots, a summary and JSON (the plots are prebuilt)."""
    picture = _decoded(image)
    return picture, picture, _FIGURE, _FIGURE, "echo", {"ok": True}


def _limits_picture() -> Image.Image:
    """One picture like the detector-limits tab's six: its first scene, drawn with a legend strip."""
    from demos.limits import oracle, plots
    from demos.limits.scenes import generate, render

    scene = generate(0.6, 56, 2.5, 0, 8, 3)
    return plots.fate_picture(scene, render(scene), oracle.nms_only(scene, 0.5))


_LIMITS_PICTURE = _limits_picture()
_LIMITS_TABLE = [[f"rule {i}", "16 / 24", "67%", "8 suppressed by NMS", "the rule's settings"]
                 for i in range(10)]


def echo_limits(source="generated", crowding=0.6, size=56, aspect=2.5, rotation=0, groups=8, group_size=3,
                mixed_classes=False, seed=0, nms_threshold=0.5, soft_nms_sigma=0.5, image=None,
                boxes_json=""):
    """/detector_limits (13 settings with defaults, no upload needed): six pictures, a table,
    five plots (prebuilt), a summary and JSON."""
    gallery = [(_LIMITS_PICTURE, f"echo {i}") for i in range(6)]
    return (gallery, _LIMITS_TABLE, _FIGURE, _FIGURE, _FIGURE, _FIGURE, _FIGURE, "echo", {"ok": True})


def _compressed_stand_in() -> str:
    """A file the size of the default compressed detector (about 300 KB), for `/compress`'s download."""
    import os
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix="floor-"), "compressed.safetensors")
    with open(path, "wb") as f:
        f.write(os.urandom(300_000))
    return path


_COMPRESSED = _compressed_stand_in()
_COMPRESS_TABLE = [[f"layer {i}", 36864, "80%", 4.2, 1.6, 20000, "12.0%"] for i in range(17)]


def echo_compress(model="tiny-retinanet-focal", k=32, sparsity=0.2, init="linear", fine_tune_steps=0,
                  huffman=True):
    """/compress (6 settings, no upload): a summary, two pictures, a table, two plots (prebuilt),
    the compressed file and JSON."""
    picture = _decoded(str(SCENE))
    return ("echo", [(picture, "original"), (picture, "compressed")], _COMPRESS_TABLE, _FIGURE, _FIGURE,
            _COMPRESSED, {"ok": True})


_ACCELERATE_TABLE = [[f"technique {i}", "system", "measured", 10.0, 12.0, "1.00×", 3, 2.17, "1.0e-06",
                       "0.0001", "yes", "+0.00 AP [+0.00, +0.00]", "a note about the technique"]
                      for i in range(13)]
_ACCELERATE_JSON = {"rows": [{"technique": f"technique {i}", "status": "measured", "median_ms": 10.0,
                              "speedup": 1.0, "max_rel": 1e-6, "note": "a note"} for i in range(13)]}


def echo_accelerate(model="tiny-retinanet-focal", input_size=256, techniques=None, repeats=10):
    """/accelerate (4 settings, no upload): a summary, the 13-row table, the plot (prebuilt) and JSON."""
    return "echo", _ACCELERATE_TABLE, _FIGURE, _ACCELERATE_JSON


def build() -> gr.Blocks:
    with gr.Blocks() as demo:
        image = gr.Image(type="filepath")
        count, evidence = gr.Number(1, precision=0), gr.Number(3, precision=0)
        json = gr.JSON()
        gallery = gr.Gallery()
        gr.Button().click(echo_detect, [image, count], [gallery, json], api_name="echo")
        slider = gr.ImageSlider(type="pil", format=TRANSLATE_FORMAT)
        singles = [gr.Image(type="pil", format=TRANSLATE_FORMAT) for _ in range(3)]
        gr.Button().click(echo_translate, image, [slider, *singles, gr.Markdown(), json],
                          api_name="echo_translate")
        gr.Button().click(echo_pose, [image, count, evidence], [gallery, gr.Gallery(), json],
                          api_name="echo_pose")
        gr.Button().click(echo_anatomy, image, [gr.Plot(), gr.Plot(), gr.Markdown(), json],
                          api_name="echo_anatomy")
        # The ROI tab's two pictures are PNGs (demos/roi/ui.py); keep these in step with it.
        roi_images = [gr.Image(type="pil", format=ROI_FORMAT) for _ in range(2)]
        gr.Button().click(echo_roi, image, [*roi_images, gr.Plot(), gr.Plot(), gr.Markdown(), json],
                          api_name="echo_roi")
        settings = [gr.Textbox("generated"), *(gr.Number(v) for v in (0.6, 56, 2.5, 0, 8, 3)),
                    gr.Checkbox(False), *(gr.Number(v) for v in (0, 0.5, 0.5)), gr.Image(type="filepath"),
                    gr.Textbox("")]
        outputs = [gr.Gallery(), gr.Dataframe(), *(gr.Plot() for _ in range(5)), gr.Markdown(), json]
        gr.Button().click(echo_limits, settings, outputs, api_name="echo_limits")
        compress_settings = [gr.Textbox("tiny-retinanet-focal"), gr.Number(32), gr.Number(0.2),
                             gr.Textbox("linear"), gr.Number(0), gr.Checkbox(True)]
        compress_outputs = [gr.Markdown(), gr.Gallery(), gr.Dataframe(), gr.Plot(), gr.Plot(), gr.File(),
                            json]
        gr.Button().click(echo_compress, compress_settings, compress_outputs, api_name="echo_compress")
        accelerate_settings = [gr.Textbox("tiny-retinanet-focal"), gr.Number(256), gr.JSON(), gr.Number(10)]
        accelerate_outputs = [gr.Markdown(), gr.Dataframe(), gr.Plot(), json]
        gr.Button().click(echo_accelerate, accelerate_settings, accelerate_outputs,
                          api_name="echo_accelerate")
        # The readiness probe used by `benchmarks.timing.launched_app`.
        gr.Button(visible=False).click(lambda: [], None, gr.JSON(visible=False), api_name="models")
    return demo


if __name__ == "__main__":
    build().queue(default_concurrency_limit=2).launch(server_name="127.0.0.1", server_port=int(sys.argv[1]),
                                                      quiet=True)
