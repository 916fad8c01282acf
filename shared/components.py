"""Input components that leave validation to the handler.

Gradio checks slider bounds and choice lists itself, with messages that cannot name
the parameter ("Value 0 is less than minimum value 10"). These variants hand the raw
value to the handler, whose validation says which setting is wrong and why. They
render exactly like their parents: `is_template` makes Gradio use the parent's widget.
(Gradio writes a type stub, components.pyi, beside this file; it is not kept.)
"""

from __future__ import annotations

from typing import Any

import gradio as gr


class Slider(gr.Slider):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class Dropdown(gr.Dropdown):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class CheckboxGroup(gr.CheckboxGroup):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class Radio(gr.Radio):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class Image(gr.Image):
    """An image input that passes the uploaded file's path on undecoded.

    Gradio's own Image decodes the upload before the handler runs, so a broken or
    non-image file fails there with a bare exception. Here `shared.images.load_image`
    does the decoding and answers bad files in plain words. Use with type="filepath".
    """

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):  # webcam and pasted images
            return super().preprocess(payload)
        return payload.path
