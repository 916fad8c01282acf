"""Synthetic detection scenes: small filled shapes on cluttered backgrounds.

Every scene is a pure function of its seed, so the train and val splits are fixed
without storing any images, and every training run sees exactly the same images in
exactly the same order. Classes are *filled* shapes; the distractors are hollow
outlines of the same shapes, lines, arcs and dots. That makes most anchors easy
background, a few of them hard background, and only a handful foreground, which is
the imbalance the focal-loss paper is about.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset
from torchvision.models.detection._utils import Matcher

IMAGE_SIZE = 256
CLASSES = ("circle", "square", "triangle", "star", "cross")
# Disjoint seed ranges: a val scene can never be a train scene.
# "tune" is for choosing hyperparameters (learning rates), so val is never looked at to choose.
SPLIT_OFFSETS = {"train": 0, "val": 1_000_000, "tune": 2_000_000}
SPLIT_SIZES = {"train": 1_000_000, "val": 100_000, "tune": 100_000}
MIN_SIZE, MAX_SIZE = 12.0, 72.0  # object extent in pixels, before rotation


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> tuple[int, int, int]:
    """A random colour far enough from the local background to be visible."""
    for _ in range(20):
        colour = rng.integers(0, 256, size=3)
        if np.linalg.norm(colour - background) > 90:
            break
    else:
        colour = 255 - background.astype(np.int64)
    return tuple(int(c) for c in colour)


def _background(rng: np.random.Generator) -> np.ndarray:
    """A 256x256x3 float background: gradient, blotchy noise or a periodic texture."""
    size = IMAGE_SIZE
    a, b = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
    kind = rng.integers(0, 3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    if kind == 0:
        angle = rng.uniform(0, 2 * math.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
        t = (t - t.min()) / (t.max() - t.min() + 1e-6)
    elif kind == 1:
        # Low-frequency blotches between the two colours: a coarse random grid upsampled smoothly.
        cells = int(rng.integers(3, 10))
        grid = rng.uniform(0, 255, size=(cells, cells)).astype(np.uint8)  # (cells, cells)
        t = np.asarray(Image.fromarray(grid).resize((size, size), Image.BICUBIC)) / 255.0
    else:
        freq = rng.uniform(4, 24)
        angle = rng.uniform(0, math.pi)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy))
        if rng.random() < 0.5:  # checker-like: product of two gratings
            t = t * (0.5 + 0.5 * np.sin(2 * math.pi * freq * (np.sin(angle) * xx - np.cos(angle) * yy)))
    t = t[..., None]  # (256, 256, 1), broadcasts over the colour axis
    return a * (1 - t) + b * t


def _shape_points(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Polygon vertices of a class shape of circumradius r, rotated by angle."""
    if kind == "square":
        polar = [(r, math.pi / 4 + k * math.pi / 2) for k in range(4)]
    elif kind == "triangle":
        polar = [(r, -math.pi / 2 + k * 2 * math.pi / 3) for k in range(3)]
    elif kind == "star":
        polar = [(r if k % 2 == 0 else 0.45 * r, -math.pi / 2 + k * math.pi / 5) for k in range(10)]
    elif kind == "cross":
        w = r * 0.35  # half-width of each arm
        corners = [
            (w, r),
            (w, w),
            (r, w),
            (r, -w),
            (w, -w),
            (w, -r),
            (-w, -r),
            (-w, -w),
            (-r, -w),
            (-r, w),
            (-w, w),
            (-w, r),
        ]
        polar = [(math.hypot(x, y), math.atan2(y, x)) for x, y in corners]
    else:
        raise ValueError(f"not a polygon class: {kind}")
    return [(cx + rho * math.cos(phi + angle), cy + rho * math.sin(phi + angle)) for rho, phi in polar]


def _draw_distractors(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, bg: np.ndarray, count: int
) -> None:
    """`count` pieces of clutter that is not a class: hollow outlines, lines, arcs and dots."""
    for _ in range(count):
        colour = _contrasting_colour(rng, bg.mean(axis=(0, 1)))
        cx, cy = rng.uniform(0, IMAGE_SIZE, size=2)
        r = rng.uniform(MIN_SIZE / 2, MAX_SIZE / 2)
        width = int(rng.integers(1, 4))
        kind = rng.integers(0, 5)
        if kind == 0:  # ring: the outline of a circle, never a filled circle
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=width)
        elif kind == 1:  # hollow polygon outline of a class shape
            shape = CLASSES[1 + int(rng.integers(0, len(CLASSES) - 1))]
            points = _shape_points(shape, cx, cy, r, rng.uniform(0, 2 * math.pi))
            draw.polygon(points, outline=colour, width=width)
        elif kind == 2:
            x2, y2 = rng.uniform(0, IMAGE_SIZE, size=2)
            draw.line([cx, cy, x2, y2], fill=colour, width=width + 1)
        elif kind == 3:
            start = rng.uniform(0, 360)
            draw.arc(
                [cx - r, cy - r, cx + r, cy + r],
                start,
                start + rng.uniform(60, 240),
                fill=colour,
                width=width + 1,
            )
        else:
            for _ in range(int(rng.integers(3, 12))):
                x, y = rng.uniform(0, IMAGE_SIZE, size=2)
                d = rng.uniform(1, 3)
                draw.ellipse([x - d, y - d, x + d, y + d], fill=colour)


def _iou(box: np.ndarray, boxes: list[np.ndarray]) -> float:
    """Largest IoU between one xyxy box and a list of boxes (0 if empty)."""
    best = 0.0
    for other in boxes:
        ix = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
        iy = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
        inter = ix * iy
        union = (box[2] - box[0]) * (box[3] - box[1]) + (other[2] - other[0]) * (other[3] - other[1]) - inter
        best = max(best, inter / union)
    return best


def make_scene(seed: int, objects: int | None = None) -> tuple[Image.Image, torch.Tensor, torch.Tensor]:
    """Draw scene `seed`: an RGB 256x256 image, float boxes (N, 4) xyxy, int64 labels (N,).

    objects=None: 1-8 objects and 2-9 distractors (the bundled models' scenes).
    objects=n: the imbalance knob. Exactly n objects (fewer only if placement fails) and
    1-n distractors, so scenes with few objects also have few hard look-alikes and most
    of their background is easy, as in COCO. The scene depends on (seed, n).
    """
    rng = np.random.default_rng(seed if objects is None else [seed, objects])
    bg = _background(rng)
    image = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    clutter = int(rng.integers(2, 10)) if objects is None else int(rng.integers(1, objects + 1))
    _draw_distractors(draw, rng, bg, clutter)

    boxes: list[np.ndarray] = []
    labels: list[int] = []
    for _ in range(int(rng.integers(1, 9)) if objects is None else objects):
        for _attempt in range(20):
            label = int(rng.integers(0, len(CLASSES)))
            # Log-uniform extent so small and medium objects are equally common.
            r = math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))) / 2
            cx, cy = rng.uniform(r + 1, IMAGE_SIZE - r - 1, size=2)
            angle = rng.uniform(0, 2 * math.pi)
            if CLASSES[label] == "circle":
                points = [(cx - r, cy - r), (cx + r, cy + r)]
            else:
                points = _shape_points(CLASSES[label], cx, cy, r, angle)
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            box = np.array([min(xs), min(ys), max(xs), max(ys)]).clip(0, IMAGE_SIZE)
            # Light overlap is allowed (clutter), heavy occlusion is not (ambiguous labels).
            if _iou(box, boxes) < 0.2:
                break
        else:
            continue
        x0, y0, x1, y1 = (int(v) for v in box)
        colour = _contrasting_colour(rng, bg[y0 : y1 + 1, x0 : x1 + 1].mean(axis=(0, 1)))
        if CLASSES[label] == "circle":
            draw.ellipse(points, fill=colour)
        else:
            draw.polygon(points, fill=colour)
        boxes.append(box)
        labels.append(label)

    # Sensor-like noise so flat shapes are not trivially separable from flat backgrounds.
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(
        0, rng.uniform(0, 12), size=(IMAGE_SIZE, IMAGE_SIZE, 3)
    )
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    box_tensor = torch.tensor(np.array(boxes), dtype=torch.float32).reshape(-1, 4)  # (N, 4) xyxy
    return image, box_tensor, torch.tensor(labels, dtype=torch.int64)


def split_seed(split: str, index: int) -> int:
    """Global scene seed of the index-th scene of a split."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_OFFSETS)}")
    if not 0 <= index < SPLIT_SIZES[split]:
        raise IndexError(f"{split} has {SPLIT_SIZES[split]} scenes, asked for {index}")
    return SPLIT_OFFSETS[split] + index


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB image -> float tensor (3, H, W) in [0, 1], as torchvision detectors expect."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


class SceneDataset(Dataset):
    """`n` scenes of a split starting at `start`; items are (image tensor, target dict)."""

    def __init__(self, split: str, n: int, start: int = 0, objects: int | None = None) -> None:
        split_seed(split, start + max(n - 1, 0))  # validates the whole range up front
        self.split, self.n, self.start, self.objects = split, n, start, objects

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image, boxes, labels = make_scene(split_seed(self.split, self.start + index), self.objects)
        return to_tensor(image), {"boxes": boxes, "labels": labels}


def collate(batch: list) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Detection batches are lists: images may differ in object count."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


def coco_annotations(split: str, n: int, start: int = 0) -> dict:
    """COCO-format ground truth for n scenes (category ids are label + 1, COCO style)."""
    images, annotations = [], []
    for index in range(start, start + n):
        seed = split_seed(split, index)
        _, boxes, labels = make_scene(seed)
        images.append(
            {"id": seed, "file_name": f"{split}_{seed}.png", "width": IMAGE_SIZE, "height": IMAGE_SIZE}
        )
        for box, label in zip(boxes.tolist(), labels.tolist(), strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": seed,
                    "category_id": label + 1,
                    "bbox": [box[0], box[1], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(CLASSES)]
    return {"images": images, "annotations": annotations, "categories": categories}


def anchor_statistics(model: torch.nn.Module, image: torch.Tensor, target: dict[str, torch.Tensor]) -> dict:
    """Foreground/background anchor counts of one image under the model's own matcher.

    Uses the detector's anchor generator and its Matcher (IoU >= 0.5 foreground,
    < 0.4 background, the band between ignored), exactly as its training loss does.
    """
    from .model import match_anchors  # local import: the model module does not need data

    _, matched = match_anchors(model, image, target)
    positives = int((matched >= 0).sum())
    negatives = int((matched == -1).sum())
    # The sigmoid classifier makes K binary decisions per anchor: a foreground anchor has
    # one positive term and K - 1 negative ones, a background anchor K negative ones.
    k = model.head.classification_head.num_classes
    return {
        "anchors": int(matched.numel()),
        "positives": positives,
        "negatives": negatives,
        "ignored": int((matched == Matcher.BETWEEN_THRESHOLDS).sum()),
        "bg_per_fg": negatives / max(positives, 1),
        "negative_terms_per_positive": (negatives * k + positives * (k - 1)) / max(positives, 1),
    }
