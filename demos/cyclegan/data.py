"""Two generated domain pairs for CycleGAN: one it should master, one it should not.

- "texture": plain-coloured discs and squares (A) versus the same objects painted with
  stripes (B). Only texture differs between the domains, which is what CycleGAN does well.
- "geometry": discs (A) versus squares (B) at the same places, in the same colours.
  Translating means moving object boundaries, the change the paper reports failing on
  (dog -> cat): "the learned translation degenerates into making minimal changes".

- "position": the same kinds of plain objects (discs and squares), only in the left half
  of the canvas in A and only in the right half in B. Nothing but position separates the
  domains, so a translation has to carry every object half the canvas across: the
  question of why CycleGAN keeps positions, asked directly. The paired counterpart (for
  evaluation only) is the same scene with every object moved right by half the width.

Every scene is a pure function of (pair, split, index), so held-out sets are fixed and
a training run can be resumed exactly. Sizes are in absolute pixels (objects of radius
8-14 px, stripes 8 px apart), so a 256 px scene is a larger field of the same objects,
and a generator trained on 64 px scenes sees familiar statistics at 256 px. Each scene
also renders its paired counterpart in the other domain and the object masks; training
never uses them (it draws A and B from independent scenes), evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

PAIRS = ("texture", "geometry", "position")
DOMAINS = {
    "texture": ("plain objects", "striped objects"),
    "geometry": ("discs", "squares"),
    "position": ("objects on the left", "objects on the right"),
}
# Training scene size per pair. The position pair trains at the held-out size: what it
# must learn (move half a canvas) is tied to the canvas, unlike a texture or a shape.
TRAIN_SIZE = {"texture": 64, "geometry": 64, "position": 128}
SPLITS = {"train_a": 0, "train_b": 1, "heldout": 2}
HELDOUT_SIZE = 128  # px; evaluation scenes
HELDOUT_N = 100
STRIPE_PERIOD = 8  # px
RADIUS = (8, 14)  # px; a square's half side equals the disc's radius it replaces


@dataclass
class Scene:
    """One generated scene; images are float32 (H, W, 3) in [0, 1], masks bool (H, W)."""

    a: np.ndarray
    b: np.ndarray  # the same layout rendered in domain B (for evaluation only)
    mask_a: np.ndarray
    mask_b: np.ndarray
    background: np.ndarray
    boxes: np.ndarray  # (K, 4) int: y0, x0, y1, x1 around each object in A
    # (dy, dx) px from an object in A to the same object in B: (0, 0) except for the
    # position pair, whose B boxes are `boxes` moved by it. A true translation needs it.
    offset: tuple[int, int] = (0, 0)


def _rng(pair: str, split: str, index: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, PAIRS.index(pair), SPLITS[split], index])


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth two-colour gradient with a slow ripple: varied, but with no edges of its own."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c0, c1 = rng.uniform(0.15, 0.85, (2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * xx + np.sin(angle) * yy) / size  # roughly -1.4..1.4 across the canvas
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    wavelength = rng.uniform(60, 140)
    phase, ripple_angle = rng.uniform(0, 2 * np.pi, 2)
    ripple = 0.06 * np.sin(
        2 * np.pi * (np.cos(ripple_angle) * xx + np.sin(ripple_angle) * yy) / wavelength + phase
    )
    bg = c0 + (c1 - c0) * t[..., None] + ripple[..., None]  # (H, W, 3)
    return np.clip(bg, 0, 1).astype(np.float32)


def _place(
    rng: np.random.Generator, height: int, width: int | None = None
) -> list[tuple[float, float, float]]:
    """Non-overlapping (cy, cx, r) inside a height x width region; the count grows with its area."""
    width = height if width is None else width
    area = height * width
    wanted = int(rng.integers(max(1, area // 4096), max(2, area // 1600) + 1))
    placed: list[tuple[float, float, float]] = []
    for _ in range(wanted * 20):
        if len(placed) == wanted:
            break
        r = float(rng.uniform(*RADIUS))
        margin = r + 2
        if min(height, width) - 2 * margin <= 0:
            break
        # One draw of two numbers, as before regions could be oblong: square scenes are unchanged.
        cy, cx = rng.uniform((margin, margin), (height - margin, width - margin))
        # Boxes (squares of half side r) must stay 4 px apart, so masks never touch.
        if all(max(abs(cy - y), abs(cx - x)) > r + q + 4 for y, x, q in placed):
            placed.append((float(cy), float(cx), r))
    return placed


def _colour(rng: np.random.Generator, local_bg: np.ndarray) -> np.ndarray:
    """A saturated colour that stands out from the background under the object.

    `local_bg` is one colour (3,) or several (K, 3), e.g. where an object is in A and in B;
    the colour must stand out from each.
    """
    local = np.atleast_2d(local_bg)  # (K, 3)
    for _ in range(50):
        c = rng.uniform(0, 1, 3).astype(np.float32)
        c[rng.integers(3)] = rng.choice([0.05, 0.95])  # push one channel to an extreme
        d = np.abs(c - local)  # (K, 3)
        if (d.max(axis=1) > 0.35).all() and (d.mean(axis=1) > 0.2).all():
            return c
    return (1.0 - local.mean(axis=0)).astype(np.float32)


def _coverage(shape: str, cy: float, cx: float, r: float, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Anti-aliased (1 px ramp) coverage of a disc or an axis-aligned square, (H, W) in [0, 1]."""
    if shape == "disc":
        dist = np.hypot(yy - cy, xx - cx)
    else:
        dist = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
    return np.clip(r - dist + 0.5, 0.0, 1.0)


def _stripes(rng: np.random.Generator, colour: np.ndarray, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """The object's colour with dark stripes in one of four orientations, (H, W, 3)."""
    angle = rng.integers(4) * np.pi / 4
    phase = rng.uniform(0, STRIPE_PERIOD)
    u = np.cos(angle) * xx + np.sin(angle) * yy + phase
    dark = ((u % STRIPE_PERIOD) < STRIPE_PERIOD / 2)[..., None]
    return np.where(dark, colour * 0.2, colour).astype(np.float32)


def make_scene(pair: str, split: str, index: int, size: int, seed: int = 0) -> Scene:
    """Scene `index` of `split` for `pair`, rendered at size x size pixels."""
    if pair not in PAIRS:
        raise ValueError(f"pair must be one of {PAIRS}, not {pair!r}")
    rng = _rng(pair, split, index, seed)
    if pair == "position":
        return _position_scene(rng, size)
    bg = _background(rng, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    a, b = bg.copy(), bg.copy()
    mask_a = np.zeros((size, size), bool)
    mask_b = np.zeros((size, size), bool)
    boxes = []
    for cy, cx, r in _place(rng, size, size):
        colour = _colour(rng, bg[int(cy), int(cx)])
        if pair == "texture":
            shape_a = shape_b = ("disc", "square")[int(rng.integers(2))]
            paint_b = _stripes(rng, colour, yy, xx)
        else:
            shape_a, shape_b = "disc", "square"
            paint_b = np.broadcast_to(colour, a.shape)
        a, mask_a = _composite(a, mask_a, _coverage(shape_a, cy, cx, r, yy, xx), colour)
        b, mask_b = _composite(b, mask_b, _coverage(shape_b, cy, cx, r, yy, xx), paint_b)
        boxes.append(_box(cy, cx, r))
    return Scene(
        a.astype(np.float32),
        b.astype(np.float32),
        mask_a,
        mask_b,
        bg,
        np.asarray(boxes, np.int64).reshape(-1, 4),  # (K, 4), also when K = 0
    )


def _composite(image: np.ndarray, mask: np.ndarray, coverage: np.ndarray,
               paint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`paint` over `image` where an object covers it; `coverage` is (H, W) in [0, 1], and the
    object mask grows by the pixels it covers at least half."""
    cov = coverage[..., None]  # (H, W, 1)
    return image * (1 - cov) + paint * cov, mask | (coverage > 0.5)


def _box(cy: float, cx: float, r: float, right: int | None = None) -> tuple[int, int, int, int]:
    """A (y0, x0, y1, x1) crop around one object with a margin, cut at column `right` if given."""
    half = int(np.ceil(r)) + 2
    x1 = int(cx) + half + 2 if right is None else min(right, int(cx) + half + 2)
    return max(0, int(cy) - half), max(0, int(cx) - half), int(cy) + half + 2, x1


def _position_scene(rng: np.random.Generator, size: int) -> Scene:
    """Plain discs and squares in the left half (A); the same objects half a canvas right (B)."""
    if size % 2:
        raise ValueError(f"a position scene needs an even size, not {size}")
    bg = _background(rng, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    shift = size // 2  # whole pixels, so B's objects are A's exactly, pixel for pixel
    a, b = bg.copy(), bg.copy()
    mask_a = np.zeros((size, size), bool)
    mask_b = np.zeros((size, size), bool)
    boxes = []
    for cy, cx, r in _place(rng, size, shift):  # centres (and whole objects) in x < size / 2
        # The colour must stand out where the object is in A and where it is in B.
        colour = _colour(rng, np.stack([bg[int(cy), int(cx)], bg[int(cy), int(cx) + shift]]))  # (2, 3)
        shape = ("disc", "square")[int(rng.integers(2))]
        a, mask_a = _composite(a, mask_a, _coverage(shape, cy, cx, r, yy, xx), colour)
        b, mask_b = _composite(b, mask_b, _coverage(shape, cy, cx + shift, r, yy, xx), colour)
        boxes.append(_box(cy, cx, r, right=shift))
    return Scene(
        a.astype(np.float32),
        b.astype(np.float32),
        mask_a,
        mask_b,
        bg,
        np.asarray(boxes, np.int64).reshape(-1, 4),  # (K, 4), also when K = 0
        offset=(0, shift),
    )


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """(H, W, 3) arrays in [0, 1] -> one (N, 3, H, W) tensor in [-1, 1], the generators' range."""
    batch = torch.from_numpy(np.stack(images))  # (N, H, W, 3)
    return batch.permute(0, 3, 1, 2).contiguous() * 2 - 1  # (N, 3, H, W)


def to_images(batch: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) float32 in [0, 1]."""
    return ((batch.detach().float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()  # (N, H, W, 3)


def unpaired_batch(
    pair: str, step: int, batch_size: int, size: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training batch `step`: A images and B images from *different* scenes, (N, 3, size, size) each.

    A comes from the train_a stream and B from the train_b stream, so no B image is
    the counterpart of any A image: the setting CycleGAN is designed for.
    """
    first = step * batch_size
    a = [make_scene(pair, "train_a", first + i, size, seed).a for i in range(batch_size)]
    b = [make_scene(pair, "train_b", first + i, size, seed).b for i in range(batch_size)]
    return to_tensor(a), to_tensor(b)


def heldout(
    pair: str, n: int = HELDOUT_N, start: int = 0, size: int = HELDOUT_SIZE, seed: int = 0
) -> list[Scene]:
    """The fixed held-out scenes `start .. start + n - 1`, never seen in training."""
    return [make_scene(pair, "heldout", i, size, seed) for i in range(start, start + n)]
