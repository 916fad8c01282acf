"""The interface in English and Simplified Chinese.

Gradio translates in the browser: a component gets a key instead of a text
(`label=tr("pose.methods", "methods")`), `launch(i18n=I18N)` sends both dictionaries,
and the page shows the visitor's browser language, switchable under Settings →
Language at the foot of the page.

English is written where it is used, so the UI code reads as it looks; `tr` collects
it into `EN` as the tabs are built. The Chinese lives in `locales/zh-CN.yaml`, one entry
per key; a test checks that both dictionaries hold the same keys. Texts computed per
request (captions, measurements, error messages) stay in English, like the API.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import yaml
from gradio.i18n import I18nData

LOCALES = Path(__file__).resolve().parent / "locales"

EN: dict[str, str] = {}
ZH: dict[str, str] = yaml.safe_load((LOCALES / "zh-CN.yaml").read_text(encoding="utf-8"))

# The dictionaries are held by reference, so keys added by `tr` after this line are sent too.
I18N = gr.I18n(en=EN, **{"zh-CN": ZH})


def tr(key: str, english: str) -> I18nData:
    """A text shown in the visitor's language; `english` is its English original."""
    known = EN.setdefault(key, english)
    if known != english:
        raise ValueError(f"Translation key {key!r} is used for two different English texts.")
    return I18N(key)
