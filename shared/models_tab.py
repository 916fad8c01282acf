"""The Models tab: every model the registry knows, readable on a laptop and on a phone.

`/models` (the Refresh button) returns the registry as JSON for programs; the page shows
the same rows as two tables, bundled models first, with units in the headers and words
("yes", "needs a download") instead of raw values. On a narrow screen each row becomes a
card of label-value lines (CSS in app.py), so no column hides off the side.

In another language the cells a registry wrote from a template (a reference metric, a licence:
`ModelSpec.phrases`) and the serving path (`shared.acceleration.describe`) are written again from
that template's translation with the same values; names, numbers and the JSON stay as they are.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from shared import acceleration
from shared.i18n import CHINESE, LANGUAGE_JS, ZH, request_language, text_in, tr
from shared.loading import models_table
from shared.registry import PHRASES, get_spec
from shared.ui import REGISTRY_QUEUE, when_opened

# (key, English header); the cells below follow the same order.
COLUMNS = [
    ("name", "Model"),
    ("demo", "Tab"),
    ("usable", "Usable here"),
    ("size", "Size (MB)"),
    ("metric", "Reference metric"),
    ("served", "Served as"),
    ("licence", "Licence"),
]
TIERS = {
    "bundled": "Bundled: trained by this project, shipped with it, no download",
    "pretrained": "Pretrained: the publishers' checkpoints, fetched on first use and cached",
}
# The statuses that are sentences of our own, in words a visitor reads.
WORDS = {
    "yes": "yes",
    "cached": "yes (downloaded earlier)",
    "download": "no: needs a download",
    "missing": "no: its checkpoint file is missing",
}
# A serving path's phrases (shared.acceleration.SAID) are the acceleration tab's texts too, so they are
# translated once, under its keys; the ones that are punctuation only go by language here.
PUNCTUATED = ("refused", "tried", "tried_join")
SAID_PUNCTUATION = {CHINESE: {"refused": "[eager]（[tried]）", "tried": "[name]：[outcome]",
                              "tried_join": "；"}}


def models_json() -> list[dict[str, Any]]:
    """`/models`: every registered model, its tier and source, whether it is usable now, and the path
    it is served through on this machine (shared.acceleration)."""
    return [row | {"acceleration": acceleration.describe(row["name"], row["tier"])} for row in models_table()]


def _usable(row: dict[str, Any], say: Any) -> str:
    status = row["status"]
    if row["usable"]:
        return say("cached") if status == "cached" else say("yes")
    if status.startswith("needs download"):
        return say("download")
    if status.startswith("missing checkpoint file"):
        return say("missing")
    return status  # a loader's own message (a file that fails its check), in English like the API


def _served(row: dict[str, Any], language: str) -> str:
    """The row's serving path in `language`: its verdict said again from the translated phrases."""
    if language == "en":
        return row["acceleration"]
    said = {key: text_in(f"acceleration.said_{key}", language) for key in acceleration.SAID
            if key not in PUNCTUATED} | SAID_PUNCTUATION.get(language, {})
    return acceleration.describe(row["name"], row["tier"], said)


def _written(row: dict[str, Any], field: str, language: str) -> str:
    """The row's `field` in `language`: from its phrase's translation if the registry wrote it from one."""
    try:
        written = get_spec(row["name"]).phrases.get(field)
    except KeyError:  # a row of a model no longer registered: as the API gave it
        written = None
    if language == "en" or written is None or str(written) != row[field]:
        return row[field]
    return written.said(text_in(f"models.phrase.{written.key}", language))


def _tab(demo: str, language: str) -> str:
    """The tab serving the model: its title in Chinese (app.py's "tab.<demo>"), its name in English."""
    return ZH.get(f"tab.{demo}", demo) if language == CHINESE else demo


def models_html(rows: list[dict[str, Any]], language: str = "en") -> str:
    """The registry as HTML tables in `language`: one per tier, each grouped by tab."""
    def say(key: str) -> str:
        return text_in(f"models.word.{key}", language)

    headers = [text_in(f"models.column.{key}", language) for key, _ in COLUMNS]
    parts = []
    for tier in TIERS:
        chosen = sorted((r for r in rows if r["tier"] == tier), key=lambda r: r["demo"])
        if not chosen:
            continue
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = []
        for r in chosen:
            cells = [f"<code>{html.escape(r['name'])}</code>", html.escape(_tab(r["demo"], language)),
                     html.escape(_usable(r, say)), f"{r['size_mb']:.1f}",
                     html.escape(_written(r, "reference_metric", language)),
                     html.escape(_served(r, language)), html.escape(_written(r, "licence", language))]
            body.append("<tr>" + "".join(f'<td data-label="{html.escape(h)}">{c}</td>'
                                         for h, c in zip(headers, cells, strict=True)) + "</tr>")
        parts.append(f"<h3>{html.escape(text_in(f'models.tier.{tier}', language))}</h3>"
                     f'<table class="models-table"><thead><tr>{head}</tr></thead>'
                     f"<tbody>{''.join(body)}</tbody></table>")
    return "\n".join(parts)


def models_page(request: gr.Request) -> str:
    return models_html(models_json(), request_language(request))


def create_models_demo() -> gr.Blocks:
    """The tab, filled when first opened; its refresh button is the `/models` endpoint."""
    for key, english in COLUMNS:
        tr(f"models.column.{key}", english)
    for key, english in TIERS.items():
        tr(f"models.tier.{key}", english)
    for key, english in WORDS.items():
        tr(f"models.word.{key}", english)
    for key, english in acceleration.SAID.items():
        if key not in PUNCTUATED:
            tr(f"acceleration.said_{key}", english)
    for key, english in PHRASES.items():  # every registry imported so far: the app builds the tabs first
        tr(f"models.phrase.{key}", english)
    with gr.Blocks() as demo:
        gr.Markdown(tr(
            "models.intro",
            "Every model the suite knows. **Bundled** models were trained by this project "
            "and ship with it; **pretrained** ones are the published checkpoints, fetched on "
            "first use and cached. Reference metrics are the publishers' figures.",
        ))
        table = gr.HTML(elem_id="models-table")
        refresh = gr.Button(tr("models.refresh", "Refresh"), size="sm")
        data = gr.JSON(visible=False)
        refresh.click(models_json, outputs=data, api_name="models", **REGISTRY_QUEUE).then(
            models_page, outputs=table, js=LANGUAGE_JS, api_visibility="private", **REGISTRY_QUEUE
        )
        when_opened(demo)(models_page, outputs=table, js=LANGUAGE_JS, api_visibility="private",
                          **REGISTRY_QUEUE)
    return demo
