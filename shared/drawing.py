"""Drawing results onto images: boxes with labels, for every tab that shows detections."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

# A colour-blind-friendly cycle (Okabe-Ito), one colour per class index.
PALETTE = [
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66),
    (0, 114, 178), (213, 94, 0), (204, 121, 167), (0, 0, 0),
]


def colour(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow without scalable default font
        return ImageFont.load_default()


def draw_boxes(
    image: Image.Image,
    boxes: Sequence[Sequence[float]],
    labels: Sequence[str],
    scores: Sequence[float] | None = None,
    colour_ids: Sequence[int] | None = None,
    title: str | None = None,
) -> Image.Image:
    """A copy of `image` with each box outlined and captioned "label 0.93"."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    side = max(out.size)
    width = max(2, side // 200)
    font = _font(max(11, side // 45))
    for i, (box, label) in enumerate(zip(boxes, labels, strict=True)):
        c = colour(colour_ids[i] if colour_ids is not None else i)
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle((x1, y1, x2, y2), outline=c, width=width)
        text = label if scores is None else f"{label} {scores[i]:.2f}"
        tx1, ty1, tx2, ty2 = draw.textbbox((x1, y1), text, font=font)
        ty = y1 - (ty2 - ty1) - 2 if y1 - (ty2 - ty1) - 2 >= 0 else y1
        draw.rectangle((x1, ty, x1 + (tx2 - tx1) + 4, ty + (ty2 - ty1) + 2), fill=c)
        dark = sum(c) / 3 > 140
        draw.text((x1 + 2, ty - (ty1 - y1)), text, fill=(0, 0, 0) if dark else (255, 255, 255), font=font)
    if title:
        tx1, ty1, tx2, ty2 = draw.textbbox((0, 0), title, font=font)
        draw.rectangle((0, 0, tx2 - tx1 + 8, ty2 - ty1 + 6), fill=(255, 255, 255))
        draw.text((4, 2 - ty1), title, fill=(0, 0, 0), font=font)
    return out
