"""Scenes for the oracle: objects with their own shape, and the boxes a detector is given.

Every object is a rectangle of width w and height h turned by an angle about its centre;
its ground-truth box is the tight axis-aligned box around it, which is all that
SSD, YOLOv3 and Faster R-CNN ever see. Scenes are generated (groups of equal objects
side by side, with a chosen overlap between neighbours) or typed as JSON boxes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image, ImageDraw

from shared import errors
from shared.drawing import colour
from shared.images import BadInput
from shared.templates import fill
from shared.validation import MESSAGES as NUMBER

WIDTH, HEIGHT = 640, 480  # generated scenes: a common camera frame
MAX_OBJECTS = 300
EXAMPLE_JSON = '[[40, 60, 120, 200], {"box": [90, 70, 170, 210], "label": "person"}]'
# The error of settings whose groups do not fit; values go in at [name] (shared.templates), so the
# tab can write it in the page's language.
NO_ROOM = errors.template(
    "limits.error.no_room",
    "[groups] groups of [size] objects of this size do not fit in the [width]×[height] scene (room for "
    "[room]): use fewer groups, fewer objects per group or a smaller object size.")
# The typed boxes' errors, in English as the API gives them; the page's language gets them from these.
# A JSON example goes in as a value ([example]): the texts hold no braces (see shared.i18n).
MESSAGES = errors.templates("error.limits", {
    "not_finite_constant": "The boxes contain [name]; every coordinate must be a finite number.",
    "no_json": "Type the boxes as JSON, for example [example].",
    "bad_json": "The boxes are not valid JSON ([detail] at line [line], column [column]); for example "
                "[example].",
    "object_keys": 'A JSON object needs the keys "objects" (the list of boxes) and optionally '
                   '"image_size": [width, height].',
    "not_list": "The boxes must be a JSON list, for example [example].",
    "empty": "The list of boxes is empty: type at least one box.",
    "too_many": "[n] boxes is more than this tab takes at once ([most]).",
    "no_image": "No image was given: upload the image the boxes belong to, or give its size, [example].",
    "outside": "Object [k] [box] reaches outside the image ([width]×[height]).",
    "outside_turned": "Object [k] [box], turned by [angle]°, reaches outside the image ([width]×[height]).",
    "size_shape": '"image_size" must be [width, height] in pixels.',
    "size_range": '"image_size" must be two whole numbers from 16 to 8192, not [value].',
    "size_mismatch": '"image_size" [value] does not match the uploaded image ([width]×[height]).',
    "unknown_key": "Object [k] has an unknown key [key]; the keys are box, label, angle.",
    "label": "Object [k]'s label must be a name or a class number.",
    "angle": "Object [k]'s angle",
    "angle_range": "Object [k]'s angle must be in degrees, from -360 to 360 (got [angle]).",
    "not_box": "Object [k] must be [x1, y1, x2, y2] or [example], not [value].",
    "coordinate": "Object [k]'s coordinate",
    "order": "Object [k] [box]: [which]; write boxes as [x1, y1, x2, y2], top-left corner first.",
    "order_x": "x2 must be greater than x1",
    "order_y": "y2 must be greater than y1",
})
SIZED_JSON = '{"image_size": [640, 480], "objects": [...]}'
BOX_JSON = '{"box": [x1, y1, x2, y2]}'


@dataclass
class Scene:
    width: int
    height: int
    centres: torch.Tensor  # (N, 2) x, y in image pixels
    sizes: torch.Tensor  # (N, 2) the object's own width and height, before turning
    angles: torch.Tensor  # (N,) degrees, clockwise on screen
    labels: torch.Tensor  # (N,) int64 class index
    class_names: list[str]
    background: Image.Image | None = None  # an uploaded picture (may be downscaled)
    notes: list[str] = field(default_factory=list)  # what was done to that picture, for the user

    def __len__(self) -> int:
        return int(self.centres.shape[0])

    @property
    def boxes(self) -> torch.Tensor:
        """(N, 4) x1, y1, x2, y2: the tight axis-aligned box around each object."""
        half = half_extents(self.sizes, self.angles)
        return torch.cat([self.centres - half, self.centres + half], dim=1)

    @property
    def shape_iou(self) -> torch.Tensor:
        """(N,) IoU of each object's perfect axis-aligned box with the object itself.

        The object lies inside its box, so the IoU is simply the area ratio."""
        half = half_extents(self.sizes, self.angles)
        return self.sizes.prod(dim=1) / (4 * half.prod(dim=1))

    def corners(self) -> torch.Tensor:
        """(N, 4, 2) the corners of each turned rectangle."""
        return corners(self.centres, self.sizes, self.angles)

    def subset(self, keep: torch.Tensor) -> Scene:
        return Scene(self.width, self.height, self.centres[keep], self.sizes[keep], self.angles[keep],
                     self.labels[keep], self.class_names, self.background)


def half_extents(sizes: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """(N, 2) half width and half height of the axis-aligned box around turned rectangles."""
    rad = torch.deg2rad(angles)
    c, s = rad.cos().abs(), rad.sin().abs()
    w, h = sizes[:, 0], sizes[:, 1]
    return torch.stack([w * c + h * s, w * s + h * c], dim=1) / 2


def corners(centres: torch.Tensor, sizes: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    rad = torch.deg2rad(angles)
    c, s = rad.cos()[:, None], rad.sin()[:, None]  # (N, 1)
    signs = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    local = signs[None] * sizes[:, None, :] / 2  # (N, 4, 2)
    x = local[..., 0] * c - local[..., 1] * s
    y = local[..., 0] * s + local[..., 1] * c
    return centres[:, None, :] + torch.stack([x, y], dim=-1)


def shape_of(size: float, aspect: float) -> tuple[float, float]:
    """(w, h) of an object of area size² and aspect h / w, as torchvision sizes its anchors."""
    return size / math.sqrt(aspect), size * math.sqrt(aspect)


def group_offsets(count: int, crowding: float, w: float, h: float, angle: float) -> torch.Tensor:
    """(count, 2) centres of `count` equal objects side by side, relative to the middle one.

    Neighbours are shifted along the object's short side by d, so their own shapes
    overlap with IoU (short − d) / (short + d) = `crowding`; 0 means they just touch.
    """
    rad = math.radians(angle)
    if w <= h:
        short, axis = w, (math.cos(rad), math.sin(rad))
    else:
        short, axis = h, (-math.sin(rad), math.cos(rad))
    step = short * (1 - crowding) / (1 + crowding)
    k = torch.arange(count, dtype=torch.float32) - (count - 1) / 2
    return k[:, None] * step * torch.tensor(axis)[None]


def generate(crowding: float, size: float, aspect: float, rotation: float, groups: int, group_size: int,
             mixed_classes: bool = False, seed: int = 0, width: int = WIDTH, height: int = HEIGHT) -> Scene:
    """`groups` groups of `group_size` equal objects, placed apart from each other at random.

    Each group sits in its own cell of a grid sized to the group, so two groups never
    touch and everything that happens to an object happens inside its own group.
    """
    w, h = shape_of(size, aspect)
    offsets = group_offsets(group_size, crowding, w, h, rotation)
    member = half_extents(torch.tensor([[w, h]]), torch.tensor([float(rotation)]))[0]
    extent = 2 * (offsets.abs().max(dim=0).values + member)  # the group's box, (2,) w, h
    gap = max(4.0, 0.25 * size)
    cols, rows = int(width // (extent[0] + gap)), int(height // (extent[1] + gap))
    if cols * rows < groups:
        raise BadInput(fill(NO_ROOM, groups=groups, size=group_size, width=width, height=height,
                            room=cols * rows))
    gen = torch.Generator().manual_seed(seed)
    slots = torch.randperm(cols * rows, generator=gen)[:groups]
    cell = torch.tensor([width / cols, height / rows])
    room = (cell - extent - gap).clamp_min(0)
    origin = torch.stack([slots % cols, slots // cols], dim=1).float() * cell  # (G, 2) cell corners
    middle = origin + gap / 2 + extent / 2 + torch.rand(groups, 2, generator=gen) * room
    centres = (middle[:, None, :] + offsets[None]).reshape(-1, 2)  # (G * k, 2)
    n = groups * group_size
    labels = (torch.arange(n) % 2) if mixed_classes else torch.zeros(n, dtype=torch.int64)
    names = ["A", "B"] if mixed_classes else ["object"]
    return Scene(width, height, centres, torch.tensor([[w, h]]).repeat(n, 1),
                 torch.full((n,), float(rotation)), labels.long(), names)


# ---------------------------------------------------------------- typed boxes


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(fill(NUMBER["not_number"], name=where, value=json.dumps(value)[:40]))
    if not math.isfinite(value):
        raise BadInput(fill(NUMBER["not_finite"], name=where, value=value))
    return float(value)


def _reject_constant(name: str) -> None:
    raise BadInput(fill(MESSAGES["not_finite_constant"], name=name))


def parse_objects(text: str | None, image_size: tuple[int, int] | None) -> Scene:
    """Objects typed as JSON, checked against the image they belong to.

    Accepted: a list whose items are [x1, y1, x2, y2] or {"box": [x1, y1, x2, y2],
    "label": "person", "angle": 30}, or {"image_size": [w, h], "objects": [...]} when no
    image is uploaded. With an angle, the box is the object's own rectangle before it is
    turned about its centre; the detector then gets the tight box around the result.
    """
    if text is None or not str(text).strip():
        raise BadInput(fill(MESSAGES["no_json"], example=EXAMPLE_JSON))
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadInput(fill(MESSAGES["bad_json"], detail=exc.msg, line=exc.lineno, column=exc.colno,
                            example=EXAMPLE_JSON)) from None
    if isinstance(data, dict):
        unknown = set(data) - {"image_size", "objects"}
        if unknown or "objects" not in data:
            raise BadInput(MESSAGES["object_keys"])
        if "image_size" in data:
            image_size = _image_size(data["image_size"], image_size)
        data = data["objects"]
    if not isinstance(data, list):
        raise BadInput(fill(MESSAGES["not_list"], example=EXAMPLE_JSON))
    if not data:
        raise BadInput(MESSAGES["empty"])
    if len(data) > MAX_OBJECTS:
        raise BadInput(fill(MESSAGES["too_many"], n=len(data), most=MAX_OBJECTS))
    names: list[str] = []
    rows = []
    for k, item in enumerate(data, start=1):
        box, label, angle = _object(item, k)
        if label not in names:
            names.append(label)
        rows.append((box, names.index(label), angle))
    if image_size is None:
        raise BadInput(fill(MESSAGES["no_image"], example=SIZED_JSON))
    width, height = image_size
    boxes = torch.tensor([r[0] for r in rows], dtype=torch.float32)
    centres, sizes = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
    scene = Scene(width, height, centres, sizes, torch.tensor([r[2] for r in rows], dtype=torch.float32),
                  torch.tensor([r[1] for r in rows], dtype=torch.int64), names)
    tight = scene.boxes
    outside = (tight[:, 0] < -1e-3) | (tight[:, 1] < -1e-3) | (tight[:, 2] > width + 1e-3) | (
        tight[:, 3] > height + 1e-3)
    if outside.any():
        k = int(outside.nonzero()[0])
        message = MESSAGES["outside_turned" if rows[k][2] else "outside"]
        raise BadInput(fill(message, k=k + 1, box=_fmt(rows[k][0]), angle=f"{rows[k][2]:g}", width=width,
                            height=height))
    return scene


def _image_size(value: Any, uploaded: tuple[int, int] | None) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2):
        raise BadInput(MESSAGES["size_shape"])
    w, h = (_number(v, '"image_size"') for v in value)
    if not (w.is_integer() and h.is_integer() and 16 <= w <= 8192 and 16 <= h <= 8192):
        raise BadInput(fill(MESSAGES["size_range"], value=value))
    if uploaded is not None and (int(w), int(h)) != tuple(uploaded):
        raise BadInput(fill(MESSAGES["size_mismatch"], value=value, width=uploaded[0], height=uploaded[1]))
    return int(w), int(h)


def _object(item: Any, k: int) -> tuple[list[float], str, float]:
    label, angle = "object", 0.0
    if isinstance(item, dict):
        unknown = set(item) - {"box", "label", "angle"}
        if unknown:
            raise BadInput(fill(MESSAGES["unknown_key"], k=k, key=repr(sorted(unknown)[0])))
        if "label" in item:
            if not isinstance(item["label"], (str, int)) or isinstance(item["label"], bool) or not str(
                    item["label"]).strip():
                raise BadInput(fill(MESSAGES["label"], k=k))
            label = str(item["label"]).strip()[:40]
        if "angle" in item:
            angle = _number(item["angle"], fill(MESSAGES["angle"], k=k))
            if abs(angle) > 360:
                raise BadInput(fill(MESSAGES["angle_range"], k=k, angle=f"{angle:g}"))
        item = item.get("box")
    if not (isinstance(item, list) and len(item) == 4):
        raise BadInput(fill(MESSAGES["not_box"], k=k, example=BOX_JSON, value=json.dumps(item)[:60]))
    box = [_number(v, fill(MESSAGES["coordinate"], k=k)) for v in item]
    if box[2] <= box[0] or box[3] <= box[1]:
        which = MESSAGES["order_x" if box[2] <= box[0] else "order_y"]
        raise BadInput(fill(MESSAGES["order"], k=k, box=_fmt(box), which=which))
    return box, label, angle


def _fmt(box: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


# ---------------------------------------------------------------- pictures


def render(scene: Scene, max_side: int = 640) -> Image.Image:
    """The scene as a picture: the uploaded image, or the objects drawn as filled shapes.

    Returns an image at most `max_side` on its longer side; coordinates on it are the
    scene's times `image.width / scene.width`."""
    if scene.background is not None:
        base = scene.background.convert("RGB")
        if max(base.size) > max_side:
            base = base.copy()
            base.thumbnail((max_side, max_side))
        return base
    scale = min(1.0, max_side / max(scene.width, scene.height))
    size = (round(scene.width * scale), round(scene.height * scale))
    img = Image.new("RGB", size, (246, 246, 242))
    draw = ImageDraw.Draw(img)
    polygons = (scene.corners() * scale).tolist()
    for points, label in zip(polygons, scene.labels.tolist(), strict=True):
        fill = tuple(int(0.45 * c + 0.55 * 255) for c in colour(label + 1))
        draw.polygon([tuple(p) for p in points], fill=fill)
    for points, label in zip(polygons, scene.labels.tolist(), strict=True):  # outlines over every fill
        draw.polygon([tuple(p) for p in points], outline=colour(label + 1), width=2)
    return img
