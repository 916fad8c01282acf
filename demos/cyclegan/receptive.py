"""How far a generator looks: its receptive field, in theory and as measured by gradients.

To put an object somewhere else, an output pixel at the destination must depend on the
input pixels where the object is. The *theoretical* receptive field bounds which input
pixels can influence an output pixel at all (it follows from kernel sizes and strides).
The *effective* receptive field is what the trained network actually uses: the
gradient |d out[c, y, x] / d input| summed over both colour axes, which in practice
falls off fast from the centre (Luo et al. 2016, "Understanding the Effective
Receptive Field in Deep Convolutional Neural Networks", arXiv:1701.04128). Drawn over
an image beside the distance an object would have to travel, it shows why the
translation cannot carry it there.

Model code only (no Gradio). The gradient needs autograd: do not call it under
`torch.inference_mode()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn


@dataclass
class ReceptiveField:
    """One output pixel's effective receptive field over an (H, W) input."""

    pixel: tuple[int, int]  # (y, x) of the output pixel
    gradient: np.ndarray  # (H, W) float64: sum over output and input channels of |d out / d in|
    share: float  # the share of the gradient's mass the mask and the radius hold
    mask: np.ndarray  # (H, W) bool: the fewest input pixels that hold `share` of the mass
    radius_px: float  # the smallest distance from `pixel` within which `share` of the mass lies
    box: tuple[int, int, int, int]  # (y0, x0, y1, x1), end-exclusive, around `mask`


def effective_receptive_field(
    net: nn.Module, image: torch.Tensor, pixel: tuple[int, int], share: float = 0.9
) -> ReceptiveField:
    """Measure which input pixels move output pixel `pixel` of `net(image)`.

    `image` is (3, H, W) or (1, 3, H, W) in the network's input range. Each output
    channel gets its own backward pass, so gradients of different channels cannot
    cancel. share=1 gives the exact support (every pixel with a non-zero gradient).
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], not {share}")
    device = next(net.parameters()).device  # the picture goes where the network is (a GPU on a Space)
    x = (image[None] if image.dim() == 3 else image).detach().float().to(device).clone().requires_grad_(True)
    y0, x0 = pixel
    with torch.enable_grad():
        out = net(x)  # (1, C, H', W')
        if not (0 <= y0 < out.shape[-2] and 0 <= x0 < out.shape[-1]):
            raise ValueError(f"pixel {pixel} is outside the {tuple(out.shape[-2:])} output")
        total = torch.zeros(x.shape[-2:], dtype=torch.float64)
        for c in range(out.shape[1]):
            (grad,) = torch.autograd.grad(out[0, c, y0, x0], x, retain_graph=c + 1 < out.shape[1])
            total += grad[0].abs().sum(0).double().cpu()  # (3, H, W) -> (H, W)
    g = total.numpy()
    mass = g.sum()
    mask = np.zeros(g.shape, bool)
    if mass > 0:
        order = np.argsort(g, axis=None)[::-1]  # pixels by gradient, largest first
        cumulative = np.cumsum(g.ravel()[order])
        # A hair below the target so that share=1 ends on the last non-zero pixel despite rounding.
        count = int(np.searchsorted(cumulative, share * mass * (1 - 1e-9))) + 1
        mask.ravel()[order[:count]] = True
        mask &= g > 0
    yy, xx = np.mgrid[0 : g.shape[0], 0 : g.shape[1]]
    distance = np.hypot(yy - y0, xx - x0).ravel()
    by_distance = np.argsort(distance, kind="stable")
    within = np.cumsum(g.ravel()[by_distance])
    radius = float(distance[by_distance[min(int(np.searchsorted(within, share * mass * (1 - 1e-9))),
                                            len(within) - 1)]]) if mass > 0 else float("nan")
    ys, xs = np.nonzero(mask)
    box = (int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1) if ys.size else (0, 0, 0, 0)
    return ReceptiveField((int(y0), int(x0)), g, share, mask, radius, box)


def mass_share(field: ReceptiveField, region: np.ndarray) -> float:
    """The share of the field's gradient mass that lies in `region` (H, W) bool, in [0, 1].

    With `region` an object's footprint, this is how much that object decides the
    output pixel: near 0 for an object the pixel effectively cannot see.
    """
    mass = float(field.gradient.sum())
    return float(field.gradient[region].sum()) / mass if mass > 0 else float("nan")


def theoretical_receptive_field(net: nn.Module) -> int:
    """Side (px) of the input square that can influence one output pixel, from the layers alone.

    Walks the modules in order: a convolution with kernel k, dilation d adds
    (k - 1) * d * jump and multiplies the jump (input px per feature cell) by its
    stride; a transposed convolution with stride s adds (ceil(k / s) - 1) * jump and
    divides the jump by s. Padding, norms, activations and residual shortcuts (which
    skip a branch, never widen it) add nothing. Exact for plain stacks; for networks
    whose norms pool over the whole image (instance norm) it is the reach of the
    convolutions, not of the normalisation statistics.
    """
    rf, jump = 1.0, 1.0
    for m in net.modules():
        if isinstance(m, nn.ConvTranspose2d):
            k, s = m.kernel_size[0], m.stride[0]
            rf += (math.ceil(k / s) - 1) * jump
            jump /= s
        elif isinstance(m, nn.Conv2d):
            k, s, d = m.kernel_size[0], m.stride[0], m.dilation[0]
            rf += (k - 1) * d * jump
            jump *= s
    return int(round(rf))


def draw_receptive_field(
    image: np.ndarray, field: ReceptiveField, source: tuple[float, float] | None = None
) -> Image.Image:
    """`image` (H, W, 3) in [0, 1] with the field drawn over it.

    Outside the mask the picture is dimmed; inside it is tinted by the gradient's
    strength; a circle of `radius_px` surrounds the output pixel (a cross). With
    `source` (y, x), an arrow shows where the content would have to come from.
    """
    g = field.gradient / max(float(field.gradient.max()), 1e-12)  # (H, W) in [0, 1]
    base = np.clip(image, 0, 1).astype(np.float32)
    heat = np.stack([np.ones_like(g), 0.55 * (1 - g), np.zeros_like(g)], -1)  # orange to red
    alpha = (0.25 + 0.55 * np.sqrt(g))[..., None] * field.mask[..., None]
    shown = np.where(field.mask[..., None], base * (1 - alpha) + heat * alpha, base * 0.35)
    picture = Image.fromarray((shown * 255).round().astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    y, x = field.pixel
    r = field.radius_px
    if math.isfinite(r):
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 255), width=1)
    draw.line([x - 4, y, x + 4, y], fill=(255, 255, 255), width=1)
    draw.line([x, y - 4, x, y + 4], fill=(255, 255, 255), width=1)
    if source is not None:
        sy, sx = source
        draw.line([sx, sy, x, y], fill=(0, 255, 255), width=1)
        draw.ellipse([sx - 2, sy - 2, sx + 2, sy + 2], fill=(0, 255, 255))
    return picture


# ---------------------------------------------------------------- the measurement the tab shows

RESULTS = Path(__file__).resolve().parent / "results" / "receptive.json"
CHECKPOINT = Path(__file__).resolve().parents[2] / "checkpoints" / "cyclegan_texture.safetensors"


def destinations(scene) -> list[tuple[tuple[int, int], tuple[int, int], np.ndarray]]:
    """For each object of a position scene: (its centre in A, where a true translation puts it,
    its footprint in A as an (H, W) bool mask)."""
    dy, dx = scene.offset
    out = []
    for y0, x0, y1, x1 in scene.boxes:
        footprint = np.zeros_like(scene.mask_a)
        footprint[y0:y1, x0:x1] = scene.mask_a[y0:y1, x0:x1]
        ys, xs = np.nonzero(footprint)
        if not ys.size:
            continue
        cy, cx = int(round(ys.mean())), int(round(xs.mean()))
        out.append(((cy, cx), (cy + dy, cx + dx), footprint))
    return out


def measure(net: nn.Module, scenes: int = 4, size: int = 128) -> dict:
    """On held-out position scenes: at each object's destination pixel, how far the generator looks
    (radius holding 50 % and 75 % of the gradient) and how much of it falls on the object to copy."""
    from .data import make_scene, to_tensor

    rows = []
    for i in range(scenes):
        scene = make_scene("position", "heldout", i, size)
        image = to_tensor([scene.a])[0]  # (3, H, W) in [-1, 1]
        for source, target, footprint in destinations(scene):
            if not (0 <= target[1] < size):
                continue
            half = effective_receptive_field(net, image, target, share=0.5)
            most = effective_receptive_field(net, image, target, share=0.75)
            rows.append({"scene": i, "source": source, "target": target, "r50_px": half.radius_px,
                         "r75_px": most.radius_px, "on_object": mass_share(half, footprint),
                         "travel_px": float(np.hypot(target[0] - source[0], target[1] - source[1]))})
    return {
        "theoretical_px": theoretical_receptive_field(net),
        "travel_px": float(np.median([r["travel_px"] for r in rows])),
        "r50_px": float(np.median([r["r50_px"] for r in rows])),
        "r75_px": float(np.median([r["r75_px"] for r in rows])),
        "on_object": float(np.mean([r["on_object"] for r in rows])),
        "pixels": len(rows), "scenes": scenes, "size": size, "rows": rows,
    }


def destination_picture(net: nn.Module, index: int = 0, size: int = 128, scale: int = 3) -> Image.Image:
    """Held-out position scene `index` with the field of its first object's destination pixel drawn
    (half the gradient's mass) and an arrow from the object it would have to copy; enlarged
    `scale` times (nearest neighbour) so the overlay reads on a laptop."""
    from .data import make_scene, to_tensor

    scene = make_scene("position", "heldout", index, size)
    source, target, _ = destinations(scene)[0]
    field = effective_receptive_field(net, to_tensor([scene.a])[0], target, share=0.5)
    picture = draw_receptive_field(scene.a, field, source=source)
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


def main(argv: list[str] | None = None) -> dict:
    import argparse
    import json

    from shared.device import machine_description

    from .model import load_pair

    parser = argparse.ArgumentParser(description="The shipped texture generator's receptive field on "
                                                 "held-out position scenes")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT,
                        help="a bundled pair; its A->B generator is measured (e.g. the position pair's)")
    args = parser.parse_args(argv)
    g_ab, _, _ = load_pair(args.checkpoint)
    command = "python -m demos.cyclegan.receptive" + (
        "" if args.checkpoint == CHECKPOINT else f" --checkpoint {args.checkpoint} --json {args.json}")
    found = measure(g_ab.eval(), args.scenes) | {
        "generator": ("cyclegan-plain2striped (checkpoints/cyclegan_texture.safetensors)"
                      if args.checkpoint == CHECKPOINT else f"the A->B generator of {args.checkpoint}"),
        "command": command, "machine": machine_description()}
    print(f"theoretical field {found['theoretical_px']} px; {found['pixels']} destination pixels: half the "
          f"gradient within {found['r50_px']:.1f} px, 75 % within {found['r75_px']:.1f} px, "
          f"{found['on_object']:.1%} on the object to copy ({found['travel_px']:.0f} px away)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(found, indent=1) + "\n")
    return found


if __name__ == "__main__":
    main()
