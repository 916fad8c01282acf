"""The detection tab's computed texts in the visitor's language, without Gradio.

Sentences built from measured numbers (the sweep's findings, the plots' titles and legends,
the captions) are templates with their values at [name] (shared.templates). The English
templates sit in the module that fills them (findings.TEXTS, plots.TEXTS; ui.py's are `PAGE`
below), the Chinese ones in shared/locales/zh-CN.detection.yaml under the same keys. The tab
registers every English template with `shared.i18n.tr`, so tests/test_i18n.py fails when a key
has no Chinese; this module only reads the Chinese, so findings.py and plots.py (used by the
README report too) stay free of Gradio.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml

from shared.templates import fill, unfill

ENGLISH, CHINESE = "en", "zh-CN"
LOCALE = Path(__file__).resolve().parents[2] / "shared" / "locales" / "zh-CN.detection.yaml"

# The texts ui.py computes per request, in English with values at [name]; key "detection.<name>".
PAGE = {
    "caption": "[name] · [ap] · [n] boxes",
    "caption_scored": " · [tp] right, [fp] wrong, [fn] missed",
    "class_agnostic": "class-agnostic",
    "counts_header": "| model | measured AP | boxes | right / wrong / missed | ms |",
    # The English page shows the loader's own, longer message; this one is its translation's template.
    "unavailable": "[name] cannot run here now ([status]). The other models still work.",
    "status_bundled": "bundled", "status_cached": "cached",
    "source_val": "val scenes 0–[last] and their annotations",
    "source_scene": "this scene's annotations",
    "source_own": "the model's own detections with score ≥ 0.5 (this image has no annotations)",
    "anatomy_text": (
        "**[terms] binary terms** (anchor × class) from [source]: [positive] positive, "
        "1 : [per_term] per term; [background] background and [foreground] foreground anchors "
        "(1 : [per_anchor]). Logits from `[model]`.\n\n"
        "Easy negative terms (p_t > 0.9) hold **[ce_loss]** of α-balanced CE's loss and **[ce_grad]** of "
        "its gradient, against **[fl_loss]** and **[fl_grad]** for focal loss at γ = [gamma]. "
        "These are this model's logits after training; how the share falls *during* training is the "
        "sweep's plot above."),
    "coco_intro": "Published figures from torchvision's model metadata (COCO val2017); they are "
                  "fetched on first use and cached.",
    "coco_header": "| model | COCO box AP | GFLOPS | size | how it copes with background | here |",
}
# The notes of a detection's JSON (what shared.images did to an upload, and this tab's own), which
# keep their English words there, as templates: a note is read back into one to say it in Chinese
# (note_in); a note matching none stays as it is.
NOTES = {
    "no_annotations": "Annotations are known only for the generated example scenes; none are drawn.",
    "note_high_bit": "converted from [mode] (high bit depth) to 8-bit",
    "note_transparent": "transparent areas filled with white",
    "note_rgb": "converted from [mode] to RGB",
    "note_exif": "rotated upright using its EXIF orientation",
    "note_reduced": "decoded at reduced scale from [size]",
    "note_downscaled": "downscaled from [size] to [new] for speed",
}
PAGE |= NOTES
# Chinese puts no space between its full-width punctuation and a Chinese character; a name put
# into a template ("焦点损失（γ = 2）") comes with the spacing a Latin name needs ("CE 为").
_PUNCTUATION, _HAN = "（），。；：、", "\u4e00-\u9fff"
_LOOSE = re.compile(rf"(?<=[{_PUNCTUATION}])[ ]+(?=[{_HAN}])|(?<=[{_HAN}])[ ]+(?=[{_PUNCTUATION}])")


@functools.cache
def chinese() -> dict[str, str]:
    """The tab's Chinese texts by key (read once)."""
    try:
        return yaml.safe_load(LOCALE.read_text(encoding="utf-8")) or {}
    except OSError:
        return {}


def text(key: str, english: str, lang: str = ENGLISH, /, **values: Any) -> str:
    """`english`, or its Chinese under `key` when `lang` is Chinese, with `values` put in at [name].

    A key with no Chinese falls back to the English, so a page never shows a bare key."""
    if lang != CHINESE:
        return fill(english, **values)
    return _LOOSE.sub("", fill(chinese().get(key, english), **values))


def note_in(note: str, lang: str = ENGLISH) -> str:
    """One of the JSON's notes (e.g. "downscaled from 4000x3000 to 1333x1000 for speed") in `lang`."""
    if lang != CHINESE:
        return note
    for key, template in NOTES.items():
        if (values := unfill(template, note)) is not None:
            return text(f"detection.{key}", template, lang, **values)
    return note
