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
import os

import gradio as gr

from shared.ui import create_models_demo

# name -> (tab title, module with `create_demo()`); the order is the tab order.
DEMOS: dict[str, tuple[str, str]] = {
    "detection": ("Detection: focal loss", "demos.detection.ui"),
    "cyclegan": ("CycleGAN: texture, not geometry", "demos.cyclegan.ui"),
    "pose": ("Pose: top-down vs bottom-up", "demos.pose.ui"),
    "optimizers": ("Optimizer playground", "demos.optimizers.ui"),
}

HEADER = """# Vision Lab
Classic computer-vision interview questions, answered with demos you can click.
Each tab starts with the question, gives a short answer, then shows the evidence:
pictures and numbers computed on this machine as you watch."""

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="amber")
CSS = """
.gradio-container { max-width: 1400px !important; margin: auto; }
"""
# Gradio 6 takes theme and css at launch; tests and benchmarks launch with the same look.
STYLE = {"theme": THEME, "css": CSS}


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
            gr.Markdown(HEADER)
            with gr.Tabs():
                for name in names:
                    tab_title, module = DEMOS[name]
                    with gr.Tab(tab_title, id=name):
                        importlib.import_module(module).create_demo()
                with gr.Tab("Models", id="models"):
                    create_models_demo()
        if single:  # `/models` stays available on single-demo Spaces too
            with gr.Accordion("Models", open=False, visible=False):
                create_models_demo()
    app.queue(max_size=64, default_concurrency_limit=2)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo", default=os.environ.get("DEMO", ""), help=f"serve one tab: {', '.join(DEMOS)}")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="create a public share link (off by default)")
    p.add_argument("--max-file-size", default=os.environ.get("MAX_FILE_SIZE", "20mb"),
                   help="largest upload accepted, e.g. 20mb")
    p.add_argument("--mcp", action="store_true", help="also serve every tab's API as MCP tools")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.mcp:
        try:
            import mcp  # noqa: F401  (Gradio's MCP server needs it; requirements.txt installs it)
        except ImportError:
            raise SystemExit("--mcp needs Gradio's MCP extra: pip install -r requirements.txt") from None
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
