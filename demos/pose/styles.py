"""Generated pose scenes at 256 px in many drawing styles, and a style set training never sees.

The plain scenes (data.py) draw every person the same way, so a model trained on them
learns that one way: a figure with thicker limbs or a bigger head is out of its world.
Here each person gets a style drawn at random — limb width, head size, colours, a flat,
hollow (outline only), striped or noisy fill, a dark contour or none — on one of five
kinds of background, with clutter, occluders, pixel noise and blur, at heights from
40 to 220 px. The figures' geometry and COCO annotations are data.py's.

The held-out style set (`heldout_style`) lies outside the training ranges on every
axis a style has: limbs 1.7-2.3x the standard width (training 0.5-1.5x), heads
1.5-1.9x (training 0.75-1.35x), fills of checks and dots (never in training) and
checkerboard or ring backgrounds (never in training). The `empty` split is clutter
and occluders without anybody, for counting false people.

Every scene is a pure function of (split, index), with its own random stream, apart
from data.py's seeds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .data import HEAD_R, MAX_PEOPLE, _clutter, _colour, _draw_figure, _figure, annotate, coco_dataset

SCENE_SIZE = 256
SPLITS = {"train": 0, "val": 1, "heldout_style": 2, "empty": 3}
STREAM = 7_250_016  # first word of every scene's seed: no data.py scene shares a stream
HEIGHT_PX = (40.0, 220.0)  # person height, top of head to ankles
PARTS = ("legs", "shirt", "skin", "hair", "eye")  # label i + 1 in a person's part map


@dataclass(frozen=True)
class StyleSpace:
    """The ranges a style is drawn from."""

    limb_width: tuple[float, float]  # times data.WIDTH
    head_size: tuple[float, float]  # times data.HEAD_R
    fills: tuple[str, ...]
    backgrounds: tuple[str, ...]


TRAIN_STYLES = StyleSpace((0.5, 1.5), (0.75, 1.35), ("flat", "hollow", "stripes", "noise"),
                          ("gradient", "blotches", "stripes", "noise", "rooms"))
HELDOUT_STYLES = StyleSpace((1.7, 2.3), (1.5, 1.9), ("checks", "dots"), ("checkerboard", "rings"))


@dataclass(frozen=True)
class PersonStyle:
    limb_width: float
    head_size: float
    fill: str
    contour: bool  # a dark outline around the silhouette
    colours: dict  # part -> (r, g, b)
    texture_period: float  # px, for stripes, checks and dots
    texture_angle: float  # radians


def scene_rng(split: str, index: int) -> np.random.Generator:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    return np.random.default_rng([STREAM, SPLITS[split], index])


def image_id(split: str, index: int) -> int:
    """A COCO image id, unique across splits (and apart from data.py's seeds)."""
    return 10_000_000 * (SPLITS[split] + 1) + index


def _background(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """(size, size, 3) float in 0..255 of one kind."""
    a, b = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    if kind == "gradient":
        angle = rng.uniform(0, 2 * math.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
    elif kind in ("blotches", "noise"):  # smooth random fields; "noise" adds a fine layer
        cells = int(rng.integers(3, 8))
        t = np.asarray(Image.fromarray(rng.uniform(0, 255, (cells, cells)).astype(np.uint8))
                       .resize((size, size), Image.BICUBIC)) / 255.0
        if kind == "noise":
            t = t + 0.35 * rng.uniform(-1, 1, (size, size))
    elif kind == "stripes":
        freq, angle = rng.uniform(3, 14), rng.uniform(0, math.pi)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy))
    elif kind == "rooms":  # a wall and a floor, then a few flat panels
        t = (yy > rng.uniform(0.4, 0.8)).astype(float)
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.uniform(0, 0.8, 2)
            w, h = rng.uniform(0.1, 0.5, 2)
            t[(xx > x0) & (xx < x0 + w) & (yy > y0) & (yy < y0 + h)] = rng.uniform(0, 1)
    elif kind == "checkerboard":
        cell = rng.uniform(0.04, 0.15)
        t = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(float)
    elif kind == "rings":
        cx, cy, freq = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(4, 12)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * np.hypot(xx - cx, yy - cy))
    else:
        raise ValueError(f"unknown background {kind!r}")
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    return a * (1 - t[..., None]) + b * t[..., None]  # (size, size, 1) broadcasts over colour


def sample_style(rng: np.random.Generator, space: StyleSpace, background_mean: np.ndarray) -> PersonStyle:
    colours = {part: _colour(rng, background_mean) for part in ("legs", "shirt", "skin", "hair")}
    colours["eye"] = (20, 20, 20)
    return PersonStyle(
        limb_width=float(rng.uniform(*space.limb_width)),
        head_size=float(rng.uniform(*space.head_size)),
        fill=str(rng.choice(space.fills)),
        contour=bool(rng.random() < 0.4),
        colours=colours,
        texture_period=float(rng.uniform(4, 12)),
        texture_angle=float(rng.uniform(0, math.pi)),
    )


def _scale_head(fig: dict, head_size: float) -> None:
    """Grow the head about its base (it stays on the neck) and move the face keypoints with it."""
    r = HEAD_R * fig["h"]
    centre = fig["head"] + fig["head_up"] * (head_size - 1) * r
    for i in range(5):  # nose, eyes, ears lie on the head: scale their offsets from its centre
        fig["k"][i] = centre + (fig["k"][i] - fig["head"]) * head_size
    fig["head"] = centre


def _paint(style: PersonStyle, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Each part's paint over the whole canvas, (size, size, 3) float: a colour, maybe textured."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = np.cos(style.texture_angle) * xx + np.sin(style.texture_angle) * yy
    period = style.texture_period
    if style.fill == "stripes":
        pattern = ((u % period) < period / 2).astype(np.float32)
    elif style.fill == "noise":
        cells = max(2, int(size / period))
        low = Image.fromarray(rng.uniform(0, 255, (cells, cells)).astype(np.uint8)).resize((size, size),
                                                                                         Image.BILINEAR)
        pattern = np.asarray(low, np.float32) / 255
    elif style.fill == "checks":
        pattern = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(np.float32)
    elif style.fill == "dots":
        gx, gy = (xx % period) - period / 2, (yy % period) - period / 2
        pattern = (np.hypot(gx, gy) < period / 4).astype(np.float32)
    else:  # flat and hollow
        pattern = np.zeros((size, size), np.float32)
    paints = {}
    for part, colour in style.colours.items():
        base = np.asarray(colour, np.float32)
        textured = part in ("shirt", "legs")
        # The pattern darkens the part's colour to 40 %: the same hue, clearly a texture.
        paints[part] = (base * (1 - 0.6 * pattern[..., None]) if textured
                        else np.broadcast_to(base, (size, size, 3)))
    return paints


def _composite(canvas: np.ndarray, labels: np.ndarray, style: PersonStyle, paints: dict) -> None:
    """Paint one person's part map (size, size) uint8 onto `canvas` (size, size, 3) in place."""
    body = labels > 0
    if style.fill == "hollow":  # outline only: pixels at a part's border, eyes as drawn
        shifted = [np.roll(labels, s, axis=a) for a in (0, 1) for s in (-1, 1)]
        border = body & np.any([labels != other for other in shifted], axis=0)
        drawn = border | (labels == PARTS.index("eye") + 1)
    else:
        drawn = body
    for i, part in enumerate(PARTS):
        where = drawn & (labels == i + 1)
        canvas[where] = paints[part][where]
    if style.contour and style.fill != "hollow":
        grown = np.asarray(Image.fromarray(body.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))) > 0
        canvas[grown & ~body] = (25, 25, 25)


def make_styled_scene(split: str, index: int, size: int = SCENE_SIZE,
                      num_people: int | None = None) -> tuple[Image.Image, list[dict], dict]:
    """Scene `index` of `split`: an RGB image, one COCO-style annotation per person (as
    data.make_scene gives them) and the style record (background, each person's style)."""
    rng = scene_rng(split, index)
    space = HELDOUT_STYLES if split == "heldout_style" else TRAIN_STYLES
    if split == "empty":
        n = 0
    else:
        n = int(rng.integers(1, MAX_PEOPLE + 1)) if num_people is None else num_people
    kind = str(rng.choice(space.backgrounds))
    bg = _background(rng, size, kind)
    mean = bg.mean(axis=(0, 1))
    picture = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(3 if split == "empty" else 1):  # the empty scenes are the busiest
        _clutter(draw, rng, size, mean)
    canvas = np.asarray(picture, np.float32).copy()
    owner = Image.new("L", (size, size), 0)  # 0 nobody, rank + 1 a person, 255 an occluder
    owner_draw = ImageDraw.Draw(owner)

    top = min(HEIGHT_PX[1], 480 / math.sqrt(max(n, 1))) * size / SCENE_SIZE  # crowds get smaller people
    low = HEIGHT_PX[0] * size / SCENE_SIZE
    heights = np.exp(rng.uniform(math.log(low), math.log(max(top, low)), size=n))
    feet = np.array([rng.uniform(0.85 * h, size + 0.1 * h) for h in heights])  # heads mostly in frame
    figures, styles = [], []
    for rank, i in enumerate(np.argsort(feet)):  # lower in the frame is nearer: drawn later
        fig = _figure(rng, rng.uniform(-0.05 * size, 1.05 * size), feet[i], heights[i])
        style = sample_style(rng, space, mean)
        _scale_head(fig, style.head_size)
        labels = Image.new("L", (size, size), 0)
        ids = {part: j + 1 for j, part in enumerate(PARTS)}
        _draw_figure([ImageDraw.Draw(labels), owner_draw], [ids, dict.fromkeys(PARTS, rank + 1)], fig,
                     style.limb_width, style.head_size)
        _composite(canvas, np.asarray(labels), style, _paint(style, rng, size))
        figures.append(fig)
        styles.append(style)
    picture = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(int(rng.random() < 0.35) + int(split == "empty")):  # occluders in front of everyone
        x, y = rng.uniform(0, size, size=2)
        w, h = rng.uniform(0.08, 0.3, size=2) * size
        colour, box = _colour(rng, mean), [x, y, x + w, y + h]
        shape = "rectangle" if rng.random() < 0.6 else "ellipse"
        for d, f in ((draw, colour), (owner_draw, 255)):
            getattr(d, shape)(box, fill=f)
    blur = float(rng.uniform(0, 1.2)) if rng.random() < 0.3 else 0.0
    if blur:
        picture = picture.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(picture, np.float32) + rng.normal(0, rng.uniform(0, 10), size=(size, size, 3))
    picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    people = annotate(figures, np.asarray(owner), size)
    record = {"background": kind, "blur": round(blur, 3),  # people in drawing order, back to front
              "heights": [round(float(f["h"]), 1) for f in figures], "people": [asdict(s) for s in styles]}
    return picture, people, record


def styled_ground_truth(split: str, n: int, start: int = 0, size: int = SCENE_SIZE) -> dict:
    """COCO person_keypoints ground truth for styled scenes [start, start + n) of a split."""
    return coco_dataset((image_id(split, i), f"{split}_{i}.png", size, make_styled_scene(split, i, size)[1])
                        for i in range(start, start + n))
