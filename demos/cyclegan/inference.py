"""Translating one image with a registered generator, and measuring what changed.

Model code only: no Gradio. The generators work in [-1, 1]; the metrics in [0, 1].
A translation also runs the reverse generator, where one is registered, to show the
cycle reconstruction A -> B -> A and its error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from demos.cyclegan.metrics import cycle_error, edge_map, translation_metrics_and_edges
from demos.cyclegan.registry import BUNDLED_NAMES, official_name
from shared import device as devices
from shared.loading import get_model
from shared.registry import get_spec

# Each official generator and the one that undoes it (the style_* models have none).
_OFFICIAL_PAIRS = [
    ("horse2zebra", "zebra2horse"),
    ("summer2winter_yosemite", "winter2summer_yosemite"),
    ("apple2orange", "orange2apple"),
    ("style_monet", "monet2photo"),
]
REVERSE: dict[str, str] = {}
for _a, _b in _OFFICIAL_PAIRS:
    REVERSE[official_name(_a)], REVERSE[official_name(_b)] = official_name(_b), official_name(_a)
for (_pair, _direction), _name in BUNDLED_NAMES.items():
    REVERSE[_name] = BUNDLED_NAMES[(_pair, "BA" if _direction == "AB" else "AB")]


def reverse_of(name: str) -> str | None:
    return REVERSE.get(name)


def _to_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0  # (H, W, 3) in [-1, 1]
    return torch.from_numpy(array).permute(2, 0, 1)[None]  # (1, 3, H, W)


def _to_image(x: torch.Tensor) -> Image.Image:
    array = ((x[0].float().clamp(-1, 1) + 1) * 127.5).round().byte()  # (3, H, W) uint8
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def fit_for_generator(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale to `max_side` and crop to multiples of 4: two stride-2 stages must undo."""
    img = image.convert("RGB")
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    w, h = img.width - img.width % 4, img.height - img.height % 4
    return img.crop((0, 0, w, h))


@dataclass
class Translation:
    model: str
    reverse: str | None
    input: Image.Image
    output: Image.Image
    reconstruction: Image.Image | None
    seconds: float
    metrics: dict[str, float]
    input_edges: np.ndarray | None = None  # (H, W) bool, from the metrics; the overlay reuses it


def _run(name: str, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    net = get_model(name)
    dev = next(net.parameters()).device
    with torch.inference_mode(), devices.autocast(dev):
        devices.synchronise(dev)
        t0 = time.perf_counter()
        y = net(x.to(dev))
        devices.synchronise(dev)
    return y.float().cpu(), time.perf_counter() - t0


def translate(name: str, image: Image.Image, max_side: int = 512) -> Translation:
    """Run generator `name` on `image`, then its reverse (if any), and measure both."""
    get_spec(name)  # a clear error for an unknown name before any work
    picture = fit_for_generator(image, max_side)
    x = _to_tensor(picture)
    y, seconds = _run(name, x)
    unit_x, unit_y = (x + 1) / 2, (y.clamp(-1, 1) + 1) / 2  # (1, 3, H, W) in [0, 1]
    measured, edges = translation_metrics_and_edges(unit_x, unit_y)
    metrics = {k: float(v[0]) for k, v in measured.items()}
    metrics["mean_abs_change"] = float((unit_x - unit_y).abs().mean())
    back = reverse_of(name)
    reconstruction = None
    if back is not None:
        x_back, _ = _run(back, y)
        reconstruction = _to_image(x_back)
        metrics["cycle_l1"] = float(cycle_error(unit_x, (x_back.clamp(-1, 1) + 1) / 2)[0])
    return Translation(name, back, picture, _to_image(y), reconstruction, seconds, metrics, edges[0].numpy())


def edge_overlay(
    source: Image.Image, target: Image.Image, colour: tuple[int, int, int] = (255, 0, 255),
    edges: np.ndarray | None = None,
) -> Image.Image:
    """`target` with the edges of `source` drawn over it: kept geometry lines up exactly.

    `edges` (H, W) bool, when given, are `source`'s edges already computed (`Translation.input_edges`).
    """
    if edges is None:
        edges = edge_map((_to_tensor(source) + 1) / 2)[0].numpy()  # (H, W) bool
    out = np.asarray(target.convert("RGB")).copy()
    out[edges] = colour
    return Image.fromarray(out)


def difference_map(a: Image.Image, b: Image.Image) -> Image.Image:
    """Per-pixel colour change |a - b| as a heat map (black: unchanged, yellow: most)."""
    diff = np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).mean(axis=2) / 255
    t = np.clip(diff / max(float(diff.max()), 1e-6), 0, 1)  # (H, W) in [0, 1]
    # A small "inferno"-like ramp: black -> purple -> orange -> yellow.
    stops = np.array([[0, 0, 0], [90, 20, 120], [230, 90, 40], [255, 240, 90]], dtype=np.float32)
    pos = t * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[..., None]
    rgb = stops[lo] * (1 - frac) + stops[lo + 1] * frac
    return Image.fromarray(rgb.astype(np.uint8))
