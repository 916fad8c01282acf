"""Vision Lab: classic computer-vision interview questions as demos you can click.

This file only assembles the suite: one tab per demo, plus the registry of models.
`DEMO=<name>` (or `--demo <name>`) serves a single tab, which is how each demo is
deployed and embedded as a Space of its own.
"""

# ruff: noqa: I001  (import order matters here)
from __future__ import annotations

# On ZeroGPU Spaces `spaces` must be imported before anything initialises CUDA.
import spaces  # noqa: F401

import argparse
import importlib
from pathlib import Path
from typing import Any

import gradio as gr

from shared import settings
from shared.i18n import I18N, tr
from shared.device import configure_threads
from shared.models_tab import create_models_demo
from shared.ui import MODEL_CONCURRENCY, QUEUE_MAX_SIZE, open_tab_from_link_js, opened_by

# name -> (tab title, module with `create_demo()`). The tab bar groups them by THEMES below.
DEMOS: dict[str, tuple[str, str]] = {
    "detection": ("Detection: focal loss", "demos.detection.ui"),
    "cyclegan": ("CycleGAN: texture, not geometry", "demos.cyclegan.ui"),
    "pose": ("Pose: top-down vs bottom-up", "demos.pose.ui"),
    "optimizers": ("Optimizer playground", "demos.optimizers.ui"),
    "roi": ("ROIPool vs ROIAlign", "demos.roi.ui"),
    "limits": ("What a perfect detector misses", "demos.limits.ui"),
    "convolution": ("Convolution & weight sharing", "demos.convolution.ui"),
    "acceleration": ("Model acceleration", "demos.acceleration.ui"),
}

# The ten questions of the interview notes, in the notes' order, each with the tab that answers
# it. A question whose tab is not built yet is listed on the Overview without a link.
QUESTIONS: list[tuple[str, str]] = [
    ("acceleration", "What are the common ways to make a model run faster?"),
    ("detection", "How does a detector cope with a few objects among a great deal of background?"),
    ("limits", "Even with unlimited capacity, what can SSD, YOLOv3 or Faster R-CNN still not solve?"),
    ("roi", "How do ROIPool and ROIAlign differ?"),
    ("optimizers", "What are the common gradient-descent optimizers, and how do they differ?"),
    ("limits", "What else is worth working on in detection?"),
    ("optimizers", "Batch, stochastic or mini-batch gradient descent: what does each trade?"),
    ("pose", "What are the two main ways to estimate the poses of several people?"),
    ("convolution", "How is a convolution computed fast, and how does weight sharing compress a model?"),
    ("cyclegan", "Why does CycleGAN change texture but leave things where they are?"),
]
# The themes the Overview lists the questions under; the tab bar follows the same order. A tab
# in DEMOS that no theme names comes after the others, so a new tab still shows with one line.
THEMES: dict[str, tuple[str, list[str]]] = {
    "detection": ("Detection", ["detection", "roi", "limits"]),
    "generative": ("Generative models and pose", ["cyclegan", "pose"]),
    "training": ("Training and efficiency", ["optimizers", "convolution", "acceleration"]),
}

HEADER = """# Vision Lab
Classic computer-vision interview questions, answered with demos you can click.
Each tab starts with the question, gives a short answer, then shows the evidence:
pictures and numbers computed on this machine as you watch."""
LANGUAGE = ("The page follows your browser's language; switch it under Settings → Language at "
            "the foot of the page (English / 简体中文).")

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="amber")
CSS = """
.gradio-container { max-width: 1400px !important; margin: auto; }
.language-note { font-size: 0.85em; opacity: 0.75; }
.opening-flag { display: none !important; }  /* shared.ui.opened_by's flag: in the page, never seen */
.tab-question p { font-size: 1.25em; font-weight: 600; margin: 0.3em 0; }
/* Phones: side-by-side panels stack, wide tables scroll inside their own box, and long
   model names wrap instead of widening the page. */
@media (max-width: 700px) {  /* Gradio scopes these rules to the app itself */
  .row { flex-wrap: wrap !important; }
  .row > *, .row > .form > * { min-width: 100% !important; }
  .row > .form { flex-wrap: wrap !important; }
  .table-container { max-width: calc(100vw - 48px); overflow-x: auto; }
  label span { overflow-wrap: anywhere; }
  .tab-container { height: auto !important; }
  .block:has(> .gallery-container), .grid-wrap { height: auto !important; }  /* galleries fit their images */
  .tab-container button { white-space: normal; max-width: 42vw; height: auto !important; }
  /* The suite's own tab bar wraps onto rows (no "more tabs" menu): titles stay on one line. */
  #suite-tabs > .tab-wrapper .tab-container button { white-space: nowrap; max-width: none;
    height: var(--size-8) !important; padding: 0 var(--size-2); font-size: var(--text-sm); }
}
/* The Overview: each question a full-width button that opens its tab. */
#overview .question-link { justify-content: flex-start; text-align: left; white-space: normal; height: auto;
  min-height: var(--size-9); }
#overview .theme-title p { font-size: 1.1em; font-weight: 600; margin: 0.6em 0 0.1em; }
/* The Models tab: full columns that wrap; on a phone each model is a card of "label: value" lines. */
#models-table table { width: 100%; border-collapse: collapse; font-size: var(--text-sm); }
#models-table th, #models-table td { border-bottom: 1px solid var(--border-color-primary); padding: 6px 8px;
  text-align: left; vertical-align: top; overflow-wrap: anywhere; }
#models-table th, #models-table td:nth-child(-n+2) { white-space: nowrap; }  /* names and tabs whole */
#models-table td:nth-child(4) { text-align: right; white-space: nowrap; }
@media (max-width: 700px) {
  #models-table thead { display: none; }
  #models-table table, #models-table tbody, #models-table tr, #models-table td {
    display: block; width: 100%; }
  #models-table tr { border: 1px solid var(--border-color-primary); border-radius: 8px; margin-bottom: 8px;
    padding: 4px 8px; }
  #models-table td { border: none; padding: 2px 0; text-align: left !important;
    white-space: normal !important; }
  #models-table td::before { content: attr(data-label) ": "; font-weight: 600; }
}
/* Gradio writes a toast's title from its type, in English, whatever the page's language: a page
   in Chinese shows the Chinese word instead (the English stays in the page, hidden). */
html[lang^="zh"] .toast-title { visibility: hidden; font-size: 0 !important; }
html[lang^="zh"] .toast-title::before { visibility: visible; font-size: var(--text-lg); }
html[lang^="zh"] .toast-title.error::before { content: "错误"; }
html[lang^="zh"] .toast-title.warning::before { content: "警告"; }
html[lang^="zh"] .toast-title.info::before { content: "提示"; }
html[lang^="zh"] .toast-title.success::before { content: "成功"; }
/* Less side padding where the screen is narrow (outside the app's scope, so no @media). */
.main.app { padding-left: clamp(8px, 3vw, 32px) !important; padding-right: clamp(8px, 3vw, 32px) !important; }
"""
# Gradio 6 takes theme, css and translations at launch; tests and benchmarks launch the same way.
# The page script puts Gradio's own progress line in the page's language (shared/page_language.js).
PAGE_JS = (Path(__file__).resolve().parent / "shared" / "page_language.js").read_text(encoding="utf-8")
STYLE = {"theme": THEME, "css": CSS, "i18n": I18N, "js": PAGE_JS}


def tab_order(names: list[str] | None = None) -> list[str]:
    """The demos' tabs in the bar's order: by theme, then any tab no theme lists."""
    names = list(DEMOS) if names is None else names
    themed = [n for _, members in THEMES.values() for n in members if n in names]
    return themed + [n for n in names if n not in themed]


def tab_titles() -> dict[str, str]:
    """Every tab of the suite, id -> English title, in the order the tab bar shows them."""
    return {"overview": "Overview", **{n: DEMOS[n][0] for n in tab_order()}, "models": "Models"}


def _link(label: Any, tab: str | None, tabs: gr.Tabs) -> None:
    """A button that opens `tab`; greyed out where the tab is not built (None)."""
    button = gr.Button(label, elem_classes="question-link", size="md", interactive=tab is not None)
    if tab is not None:
        button.click(lambda: gr.Tabs(selected=tab), outputs=tabs, api_visibility="private", queue=False,
                     show_progress="hidden")


def create_overview(tabs: gr.Tabs, names: list[str]) -> None:
    """The first tab: the notes' questions by theme, each a button that opens the tab answering it."""
    gr.Markdown(tr("overview.intro", "The interview notes ask ten questions; each button opens the tab "
                                     "that answers one with a demo (a greyed one has no tab yet). A link "
                                     "can open a tab directly: add `?tab=roi`, or any tab's name, to the "
                                     "address."))
    themed = {n for _, members in THEMES.values() for n in members}
    themes = {**THEMES, "more": ("More", [n for n in names if n not in themed])}
    for key, (title, members) in themes.items():
        # In the order of the theme's tabs, so the questions one tab answers stand together.
        asked = sorted(((k, tab, q) for k, (tab, q) in enumerate(QUESTIONS, 1) if tab in members),
                       key=lambda item: (members.index(item[1]), item[0]))
        unasked = [tab for tab in members if tab in names and tab not in {t for _, t, _ in asked}]
        if not asked and not unasked:
            continue
        gr.Markdown(tr(f"theme.{key}", title), elem_classes="theme-title")
        for k, tab, question in asked:
            _link(tr(f"overview.q{k}", question), tab if tab in names else None, tabs)
        for tab in unasked:  # a tab that answers none of the notes' questions: its title
            _link(tr(f"tab.{tab}", DEMOS[tab][0]), tab, tabs)


def build_app(names: list[str] | None = None) -> gr.Blocks:
    """The suite with the given demos (all by default) and the models tab."""
    single = bool(names) and len(names) == 1
    names = list(DEMOS) if not names else names
    unknown = [n for n in names if n not in DEMOS]
    if unknown:
        raise SystemExit(f"Unknown demo {unknown[0]!r}; choose from: {', '.join(DEMOS)}.")
    title = DEMOS[names[0]][0] if single else "Vision Lab"
    with gr.Blocks(title=f"{title} · Vision Lab" if single else title) as app:
        if single:
            importlib.import_module(DEMOS[names[0]][1]).create_demo()
        else:
            gr.Markdown(tr("app.header", HEADER))
            gr.Markdown(tr("app.language", LANGUAGE), elem_classes="language-note")
            # Tabs wrap onto rows rather than hiding in a "more" menu: every title shows on a phone.
            with gr.Tabs(overflow_behavior="wrap", elem_id="suite-tabs") as tabs:
                with gr.Tab(tr("tab.overview", "Overview"), id="overview", elem_id="overview"):
                    create_overview(tabs, names)
                # Each tab computes its first result when it is first opened, so a page load
                # computes nothing but the tab it opens on (shared.ui.opened_by).
                for name in tab_order(names):
                    tab_title, module = DEMOS[name]
                    with gr.Tab(tr(f"tab.{name}", tab_title), id=name) as tab, opened_by(tab):
                        importlib.import_module(module).create_demo()
                with gr.Tab(tr("tab.models", "Models"), id="models") as tab, opened_by(tab):
                    create_models_demo()
            # `?tab=pose` opens that tab (and so computes it): a link can point at one question.
            app.load(None, outputs=tabs, js=open_tab_from_link_js(tab_titles()))
        if single:  # `/models` stays available on single-demo Spaces too
            with gr.Accordion("Models", open=False, visible=False):
                create_models_demo()
    # Each event names its pool (shared.ui: model, light, registry); see README, "Queue and concurrency".
    app.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=2)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = settings.serve_defaults()  # DEMO, GRADIO_SERVER_NAME, GRADIO_SERVER_PORT, MAX_FILE_SIZE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo", default=env["demo"], help=f"serve one tab: {', '.join(DEMOS)}")
    p.add_argument("--host", default=env["host"])
    p.add_argument("--port", type=int, default=env["port"])
    p.add_argument("--share", action="store_true", help="create a public share link (off by default)")
    p.add_argument("--max-file-size", default=env["max_file_size"], help="largest upload accepted, e.g. 20mb")
    p.add_argument("--mcp", action="store_true", help="also serve every tab's API as MCP tools")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.mcp:
        try:
            import mcp  # noqa: F401  (Gradio's MCP server needs it; requirements.txt installs it)
        except ImportError:
            raise SystemExit("--mcp needs Gradio's MCP extra: pip install -r requirements.txt") from None
    configure_threads(MODEL_CONCURRENCY)  # threads per model call = cores / model calls at once
    app = build_app([args.demo] if args.demo else None)
    app.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=args.max_file_size,
        mcp_server=args.mcp or None,
        **STYLE,
    )


if __name__ == "__main__":
    main()
