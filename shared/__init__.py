"""The shared model layer: registry, loading and caching, device choice, image input.

Everything here is free of Gradio except `shared.ui`, the small set of helpers the
tabs' `ui.py` modules share. `shared` never imports from `demos`.
"""
