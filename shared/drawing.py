"""Drawing results onto images: boxes with labels, for every tab that shows detections."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
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


# Fonts with Chinese glyphs (PIL's default font has none), where Debian's fonts-wqy-zenhei and
# fonts-noto-cjk, macOS and Windows install them.
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/System/Library/Fonts/PingFang.ttc", "C:/Windows/Fonts/msyh.ttc")


@functools.cache
def cjk_font(size: int) -> ImageFont.FreeTypeFont | None:
    """A font that draws Chinese at `size` px, or None where the machine has none of CJK_FONTS."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return None


def font_for(text: str, size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's default font for ASCII text (as every picture is drawn in English), a CJK font for
    anything else when one is installed. Callers check `cjk_font` before choosing Chinese texts."""
    return (None if text.isascii() else cjk_font(size)) or _font(size)


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


def draw_skeletons(
    image: Image.Image,
    people: Sequence[dict],
    skeleton: Sequence[tuple[int, int]],
    boxes: Sequence[Sequence[float]] | None = None,
    title: str | None = None,
) -> Image.Image:
    """A copy of `image` with each person's limbs and joints; keypoints [0, 0, 0] are absent."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    side = max(out.size)
    width, radius = max(2, side // 150), max(2, side // 120)
    for box in boxes or []:
        draw.rectangle(tuple(float(v) for v in box), outline=(120, 120, 120), width=max(1, width // 2))
    for i, person in enumerate(people):
        c = colour(i)
        points = person["keypoints"]
        for a, b in skeleton:
            if points[a][2] > 0 and points[b][2] > 0:
                draw.line((points[a][0], points[a][1], points[b][0], points[b][1]), fill=c, width=width)
        for x, y, score in points:
            if score > 0:
                dot = (x - radius, y - radius, x + radius, y + radius)
                draw.ellipse(dot, fill=c, outline=(255, 255, 255))
    if title:
        font = _font(max(11, side // 45))
        tx1, ty1, tx2, ty2 = draw.textbbox((0, 0), title, font=font)
        draw.rectangle((0, 0, tx2 - tx1 + 8, ty2 - ty1 + 6), fill=(255, 255, 255))
        draw.text((4, 2 - ty1), title, fill=(0, 0, 0), font=font)
    return out


def heat_overlay(image: Image.Image, heat, extent: tuple[float, float] | None = None,
                 region: Sequence[float] | None = None) -> Image.Image:
    """`image` dimmed, with a (h, w) map in [0, 1] shown in warm colours on top.

    The map covers `extent` (width, height) pixels from the top-left corner, or the box
    `region` (cx, cy, w, h); by default the whole image.
    """
    base = image.convert("RGB")
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0, 1)
    if region is not None:
        cx, cy, w, h = region
        x0, y0, size = int(round(cx - w / 2)), int(round(cy - h / 2)), (max(1, int(w)), max(1, int(h)))
    else:
        w, h = extent or base.size
        x0, y0, size = 0, 0, (max(1, int(round(w))), max(1, int(round(h))))
    mask = Image.fromarray((heat * 255).astype(np.uint8)).resize(size, Image.Resampling.BILINEAR)
    layer = Image.new("RGB", base.size, (0, 0, 0))
    alpha = Image.new("L", base.size, 0)
    warm = Image.new("RGB", size, (255, 80, 0))
    layer.paste(warm, (x0, y0))
    alpha.paste(mask, (x0, y0))
    dimmed = Image.blend(base, Image.new("RGB", base.size, (0, 0, 0)), 0.45)
    return Image.composite(layer, dimmed, alpha)
