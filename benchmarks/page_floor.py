"""The page floor: the least time any Gradio page takes to show a first result.

A one-tab page whose load event sends back one gallery picture (a detection scene) and
does nothing else. Opened in the same browser as the suite's tabs, it measures what
every Gradio page pays before a tab's own work: the front end's scripts and fonts, the
queue's round trip, one image encoded and downloaded. `benchmarks/page.py` reports each
tab's first-result time beside it, as a ratio measured in one run.

    python benchmarks/page_floor.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import gradio as gr
from PIL import Image

SCENE = Path(__file__).resolve().parent.parent / "examples" / "detection" / "scene_1000011.png"
RESULT = "#floor-gallery img"  # what `benchmarks/page.py` waits for


def first_result() -> list[tuple[Image.Image, str]]:
    with Image.open(SCENE) as img:
        return [(img.convert("RGB"), "floor")]


def build() -> gr.Blocks:
    with gr.Blocks() as demo:
        gallery = gr.Gallery(elem_id="floor-gallery")
        demo.load(first_result, outputs=gallery)
        # The readiness probe used by `benchmarks.timing.launched_app`.
        gr.Button(visible=False).click(lambda: [], None, gr.JSON(visible=False), api_name="models")
    return demo


if __name__ == "__main__":
    build().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
