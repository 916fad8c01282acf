"""Safe image input for every image tab.

Whatever arrives (a path from an upload, a PIL image, nothing at all) leaves as an
8-bit RGB PIL image of bounded size, or as `BadInput` with a message in plain words.
Handled on the way: empty, truncated and non-image files; decompression bombs;
tiny images; EXIF rotation; grayscale, RGBA, palette, CMYK and 16-bit modes. Images
over 40 megapixels are refused, except JPEGs, which decode at a reduced scale.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shared import errors
from shared.templates import fill
from shared.validation import BadInput

__all__ = ["BadInput", "InputImage", "load_image"]

MAX_PIXELS = 40_000_000  # refuse to decode more than 40 megapixels (a 7000x5700 photo)
MIN_SIDE = 16

MESSAGES = errors.templates("error.image", {
    "missing": "No image was given: upload a picture or click one of the examples.",
    "not_found": "The uploaded file could not be found; please upload it again.",
    "empty": "The uploaded file is empty (0 bytes).",
    "not_image": "This file is not an image in a format we can read (PNG, JPEG, WebP, BMP, GIF, TIFF).",
    "unreadable": "The image file could not be read ([detail]).",
    "too_big": "The image is too large to open safely (limit [limit] megapixels). Please downscale it "
               "and try again.",
    "too_big_sized": "The image [width]x[height] is too large to open safely (limit [limit] megapixels). "
                     "Please downscale it and try again.",
    "damaged": "The image file is truncated or damaged and cannot be decoded ([detail]).",
    "too_small": "The image is only [width]x[height] pixels; at least [side]x[side] is needed.",
})


@dataclass
class InputImage:
    image: Image.Image  # RGB, at most `max_side` on its longer side
    original_size: tuple[int, int]  # (width, height) after EXIF rotation, before downscaling
    notes: list[str] = field(default_factory=list)  # what was done to it, for the user

    @property
    def scale(self) -> float:
        """Multiply coordinates on `image` by this to get input-image pixels."""
        return self.original_size[0] / self.image.width


def _open(source: str | Path) -> Image.Image:
    path = Path(source)
    if not path.is_file():
        raise BadInput(MESSAGES["not_found"])
    if path.stat().st_size == 0:
        raise BadInput(MESSAGES["empty"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombWarning:
        # Big, but under twice Pillow's limit: a JPEG can still be decoded at reduced scale
        # (see `load_image`); anything else of this size is refused there.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError:
        raise BadInput(_too_big_message(None)) from None
    except UnidentifiedImageError:
        raise BadInput(MESSAGES["not_image"]) from None
    except OSError as exc:
        raise BadInput(fill(MESSAGES["unreadable"], detail=exc)) from None


def _too_big_message(size: tuple[int, int] | None) -> str:
    limit = MAX_PIXELS // 1_000_000
    if size is None:
        return fill(MESSAGES["too_big"], limit=limit)
    return fill(MESSAGES["too_big_sized"], width=size[0], height=size[1], limit=limit)


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # High-bit-depth grayscale: stretch the values actually present onto 0..255.
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        notes.append(f"converted from {mode} (high bit depth) to 8-bit")
        return Image.fromarray(np.nan_to_num(arr).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("transparent areas filled with white")
        return Image.alpha_composite(white, rgba).convert("RGB")
    notes.append(f"converted from {mode} to RGB")
    return img.convert("RGB")


def load_image(
    source: str | Path | Image.Image | None,
    *,
    max_side: int = 1024,
    min_side: int = MIN_SIDE,
) -> InputImage:
    """Validate and normalise one input image (see module docstring)."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise BadInput(MESSAGES["missing"])
    img = source if isinstance(source, Image.Image) else _open(source)
    notes: list[str] = []
    full_size = img.size
    if img.width * img.height > MAX_PIXELS and img.format == "JPEG":
        # A JPEG decodes at 1/2, 1/4 or 1/8 of its size for almost nothing, so a photo from
        # a 100-megapixel camera costs no more memory than a small one.
        img.draft("RGB", (max_side, max_side))
    if img.width * img.height > MAX_PIXELS:
        raise BadInput(_too_big_message(img.size))
    try:
        img.load()
        orientation = _exif_orientation(img)
        rotated = ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInput(_too_big_message(img.size)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInput(fill(MESSAGES["damaged"], detail=exc)) from None
    if orientation not in (None, 1):
        notes.append("rotated upright using its EXIF orientation")
    img = _to_rgb(rotated, notes)
    width, height = img.size
    if min(width, height) < min_side:
        raise BadInput(fill(MESSAGES["too_small"], width=width, height=height, side=min_side))
    original = (width, height)
    if full_size not in (rotated.size, rotated.size[::-1]):  # a JPEG decoded at a reduced scale
        original = full_size[::-1] if orientation in (5, 6, 7, 8) else full_size
        notes.append(f"decoded at reduced scale from {original[0]}x{original[1]}")
    if max(width, height) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        notes.append(f"downscaled from {width}x{height} to {img.width}x{img.height} for speed")
    return InputImage(img, original, notes)


def _exif_orientation(img: Image.Image) -> int | None:
    try:
        return img.getexif().get(0x0112)
    except Exception:  # malformed EXIF must not block an otherwise good image
        return None
