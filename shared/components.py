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
from gradio import utils as gradio_utils

from shared import errors

# Only a hand-written API call can send such a path, so it is refused in English (raised before any
# handler, which knows the page's language); registered like every other message all the same.
UPLOAD_ONLY = errors.template("error.image.upload_only", "The image must be uploaded with the request; a "
                              "path to a file on the server is not accepted.")


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


class Number(gr.Number):
    """Gradio's Number with `precision=0` fails on NaN or infinity before the handler runs."""

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
        # Gradio refuses a file marked as FileData that was not uploaded, but a bare
        # {"path": ...} in a raw API call skips that check: nothing outside the upload
        # folder is handed on, so no file of the server is ever opened for a request.
        if not gradio_utils.is_in_or_equal(payload.path, self.GRADIO_CACHE):
            raise gr.Error(UPLOAD_ONLY, print_exception=False)
        return payload.path
