"""The `/convolution` computation: one convolution on a real input, followed through im2col,
and computed by all five methods (model code only, no Gradio).

The input is a picture (its RGB channels) or a feature map of a bundled model (the
focal-loss detector's stem: 16 channels at half resolution), downscaled so the direct
loops stay quick; the kernel is random (fixed seed), so every method has the same work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from shared.templates import fill
from shared.validation import BadInput

from .errors import MESSAGES
from .implementations import ConvShape, check_shape, conv2d, im2col_matrices
from .sweep import Timing, compare

SOURCES = ("image (RGB)", "detector features (16 channels)")
LIMITS = {"input_size": (4, 128), "kernel_size": (1, 31), "stride": (1, 8), "padding": (0, 16),
          "dilation": (1, 8),
          "groups": (1, 64), "out_channels": (1, 64)}


def prepare_input(image: Image.Image, source: str, size: int) -> torch.Tensor:
    """(1, C, H, W): the picture at `size` px on its longer side, or the detector's stem features there."""
    if source not in SOURCES:
        raise BadInput(fill(MESSAGES["unknown_source"], name=repr(source), known=", ".join(SOURCES)))
    features = source == SOURCES[1]
    side = 2 * size if features else size  # the stem halves the resolution
    scale = side / max(image.size)
    w, h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    picture = image.convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
    x = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255).permute(2, 0, 1)[None]  # (1, 3, h, w)
    if not features:
        return x - 0.5
    import demos.detection.registry  # noqa: F401  (registers the detector)
    from shared.loading import get_model

    detector = get_model("tiny-retinanet-focal")
    mean = torch.tensor(detector.config["image_mean"]).view(1, 3, 1, 1)
    std = torch.tensor(detector.config["image_std"]).view(1, 3, 1, 1)
    with torch.inference_mode():
        stem = detector.backbone.stem
        dev = next(stem.parameters()).device
        return stem(((x - mean) / std).to(dev)).float().cpu()  # (1, 16, h/2, w/2)


@dataclass
class Explained:
    shape: ConvShape
    x: torch.Tensor  # (1, C_in, H, W)
    cols: torch.Tensor  # group 0's columns (C_in/G·k·k, L)
    rows: torch.Tensor  # group 0's kernel rows (C_out/G, C_in/G·k·k)
    out: torch.Tensor  # (1, C_out, OH, OW)
    position: tuple[int, int]
    timings: list[Timing]

    def as_json(self) -> dict:
        s = self.shape
        oh, ow = s.out_hw
        return {
            "input": [s.n, s.c_in, s.h, s.w], "weight": [s.c_out, s.c_in // s.groups, s.k, s.k],
            "output": [s.n, s.c_out, oh, ow], "stride": s.stride, "padding": s.padding,
            "dilation": s.dilation, "groups": s.groups, "columns_shape": [s.groups, *self.cols.shape],
            "kernel_rows_shape": [s.groups, *self.rows.shape],
            "column_buffer_bytes": s.n * s.c_in * s.k * s.k * oh * ow * 4, "flops": s.flops,
            "followed_output": list(self.position), "methods": [t.as_json() for t in self.timings],
        }


def explain(x: torch.Tensor, k: int, stride: int, padding: int, dilation: int, groups: int,
            out_channels: int, seed: int = 0) -> Explained:
    """im2col's two operands for `x`, the output, and every method timed and checked on it."""
    _, c_in, h, w = x.shape
    s = check_shape(ConvShape(1, c_in, h, w, out_channels, k, stride, padding, dilation, groups))
    gen = torch.Generator().manual_seed(seed)
    fan_in = c_in // groups * k * k
    weight = torch.randn(out_channels, c_in // groups, k, k, generator=gen) / fan_in**0.5
    with torch.inference_mode():
        cols, rows = im2col_matrices(x, weight, stride, padding, dilation, groups)
        out = conv2d(x, weight, stride, padding, dilation, groups)
    oh, ow = s.out_hw
    return Explained(s, x, cols[0, 0], rows[0], out, (oh // 2, ow // 2), compare(x, weight, s))
