"""The Gradio floor: the cost of a round trip that does no work.

A tiny app with the same kinds of input and output as the image endpoints (an image
file in; a gallery of one image and a JSON object out) and an identity function, run in
its own process. An endpoint's overhead ratio is its end-to-end time divided by (its
model time + this floor).
"""

from __future__ import annotations

import sys

import gradio as gr


def echo(image: str):
    return [(image, "echo")], {"ok": True}


def build() -> gr.Blocks:
    with gr.Blocks() as demo:
        image = gr.Image(type="filepath")
        gallery = gr.Gallery()
        data = gr.JSON()
        gr.Button().click(echo, image, [gallery, data], api_name="echo")
        # The readiness probe used by `benchmarks.timing.launched_app`.
        gr.Button(visible=False).click(lambda: [], None, gr.JSON(visible=False), api_name="models")
    return demo


if __name__ == "__main__":
    build().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
