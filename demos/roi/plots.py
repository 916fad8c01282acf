"""Pictures and plots of an `Analysis` (no Gradio here).

`overlay`: the region over the image, zoomed, in two panels: ROIPool's rounded region
and bins on the feature grid, ROIAlign's exact bins and their bilinear sample points.
`pooled_grids`: both pooled outputs side by side, one cell per bin with its value.
`shift_figure` and `localisation_figure`: what a sub-pixel shift of the region does.
"""

from __future__ import annotations

import functools

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from demos.roi.pooling import METHODS, Analysis, align_box
from shared.drawing import font_for
from shared.templates import fill

POOL_COLOUR = (230, 159, 0)  # Okabe-Ito orange
ALIGN_COLOUR = (86, 180, 233)  # Okabe-Ito sky blue
LEGACY_COLOUR = (204, 121, 167)  # reddish purple: ROIAlign without the half-pixel offset
METHOD_COLOURS = dict(zip(METHODS, (POOL_COLOUR, LEGACY_COLOUR, (0, 114, 178)), strict=True))
PANEL = 440  # the longer side of each zoomed panel, px
_VIRIDIS = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in plotly.colors.sequential.Viridis])
_LAYOUT = dict(template="none", font=dict(family="Helvetica, Arial, sans-serif", size=13),
               margin=dict(l=70, r=20, t=60, b=100), height=500,
               legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.16, yanchor="top"))

# The pictures' titles and notes, the figures' titles, axes and hover labels, in English; the tab
# registers each for translation ("roi.<key>") and passes them back in the page's language. Values
# go in at [name] (the browser reads every text as an ICU message, where braces are syntax, so
# Plotly's own %{...} fields are put in by the code). The curves keep their names: ROIPool,
# ROIAlign, aligned=True/False.
TEXTS = {
    # The pictures (PIL's default font, used for English, has no "×" or "–")
    "picture.pool_title": "ROIPool: region and bins rounded to cells",
    "picture.pool_note": "cells x [x0]-[x1], y [y0]-[y1] of [s] px; white: the region asked for",
    "picture.align_title": "ROIAlign, aligned=[aligned]: exact bins",
    "picture.align_note": "[gx]x[gy] bilinear samples in each of [out]x[out] bins",
    "picture.pool_grid": "torchvision.ops.roi_pool (max per bin)",
    "picture.align_grid": "torchvision.ops.roi_align (mean of samples)",
    "picture.channel": "channel [c] of [channels]; scale [low] to [high]",
    "picture.sampling": "aligned=[aligned], sampling ratio [ratio]",
    "picture.adaptive": "adaptive",
    # The figures
    "hover.value": "shift [x] px: [y]",
    "hover.cells": "shift [x] px: [y] px = [cells] cells",
    "shift.title": "Moving the region right by sub-pixel steps (1 cell = [s] px)",
    "shift.bin": "pooled value of bin ([i], [j]), channel [c]",
    "shift.offset": "centre of the region pooled − centre of the region asked for",
    "shift.value": "value",
    "shift.x": "shift of the region, image px",
    "shift.y": "offset, image px",
    "located.title": "Where a point is found from the pooled grid, minus where it is",
    "located.x": "shift of the region and the point, image px",
    "located.y": "horizontal error, image px (1 cell = [s] px)",
}
_NAME = "<extra>%{fullData.name}</extra>"  # the curve's name beside its hover label


def _hover(template: str, **fields: str) -> str:
    return fill(template, x="%{x:.2f}", **fields) + _NAME


@functools.cache
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # ASCII only: it has no glyphs for "×" or "–"


def _rgb(colour: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*colour)


def _titled(panel: Image.Image, title: str, note: str) -> Image.Image:
    """The panel with a title above it and a one-line note below, on white."""
    font, small = font_for(title, 15), font_for(note, 12)
    width = max(panel.width, int(font.getlength(title)) + 4, int(small.getlength(note)) + 4)
    out = Image.new("RGB", (width, panel.height + 50), "white")
    out.paste(panel, (0, 24))
    draw = ImageDraw.Draw(out)
    draw.text((2, 3), title, fill=(0, 0, 0), font=font)
    draw.text((2, panel.height + 30), note, fill=(60, 60, 60), font=small)
    return out


def _side_by_side(left: Image.Image, right: Image.Image, gap: int = 16, top: int = 34) -> Image.Image:
    """Two panels on white, with room at the top for the label Gradio draws over an image."""
    out = Image.new("RGB", (left.width + gap + right.width, top + max(left.height, right.height)), "white")
    out.paste(left, (0, top))
    out.paste(right, (left.width + gap, top))
    return out


# ---------------------------------------------------------------- the region over the image


def _window(analysis: Analysis) -> tuple[int, int, int, int]:
    """The part of the image to zoom on: every drawn box plus 1.5 cells, inside the image."""
    s, (width, height) = analysis.features.stride, analysis.features.image_size
    boxes = np.array([analysis.box, analysis.pool_geometry.box, analysis.align_geometry.box])
    x0, y0 = boxes[:, :2].min(axis=0) - 1.5 * s
    x1, y1 = boxes[:, 2:].max(axis=0) + 1.5 * s
    return (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))),
            min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))


def overlay(image: Image.Image, analysis: Analysis, texts: dict[str, str] | None = None) -> Image.Image:
    """Two zoomed panels of the same window: what ROIPool pools and what ROIAlign samples, titled
    in the language of `texts`."""
    t = TEXTS | (texts or {})
    wx0, wy0, wx1, wy1 = _window(analysis)
    k = min(12.0, PANEL / max(wx1 - wx0, wy1 - wy0))  # zoom, image px -> panel px
    size = (max(1, round((wx1 - wx0) * k)), max(1, round((wy1 - wy0) * k)))
    crop = image.crop((wx0, wy0, wx1, wy1)).resize(size, Image.Resampling.NEAREST if k >= 2
                                                   else Image.Resampling.BILINEAR)
    base = Image.blend(crop, Image.new("RGB", size, (0, 0, 0)), 0.3)  # darker, so the lines stand out
    s, out = analysis.features.stride, analysis.output

    def at(box) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = (float(v) for v in box)
        return (x1 - wx0) * k, (y1 - wy0) * k, (x2 - wx0) * k, (y2 - wy0) * k

    def panel(draw_own) -> Image.Image:
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for x in range(int(np.ceil(wx0 / s)) * s, wx1 + 1, s):  # the feature grid: cell borders
            draw.line(((x - wx0) * k, 0, (x - wx0) * k, size[1]), fill=(255, 255, 255, 90))
        for y in range(int(np.ceil(wy0 / s)) * s, wy1 + 1, s):
            draw.line((0, (y - wy0) * k, size[0], (y - wy0) * k), fill=(255, 255, 255, 90))
        draw_own(draw)
        draw.rectangle(at(analysis.box), outline=(0, 0, 0, 255), width=4)  # the requested region on top
        draw.rectangle(at(analysis.box), outline=(255, 255, 255, 255), width=2)
        return Image.alpha_composite(base.convert("RGBA"), layer).convert("RGB")

    def pool_layer(draw: ImageDraw.ImageDraw) -> None:
        geometry = analysis.pool_geometry
        draw.rectangle(at(geometry.box), fill=(*POOL_COLOUR, 45))
        for b in geometry.bins.reshape(-1, 4):
            draw.rectangle(at(b), outline=(*POOL_COLOUR, 220), width=2)
        draw.rectangle(at(geometry.box), outline=(*POOL_COLOUR, 255), width=4)

    def align_layer(draw: ImageDraw.ImageDraw) -> None:
        geometry = analysis.align_geometry
        for b in geometry.bins.reshape(-1, 4):
            draw.rectangle(at(b), outline=(*ALIGN_COLOUR, 200), width=2)
        draw.rectangle(at(geometry.box), outline=(*ALIGN_COLOUR, 255), width=4)
        r = float(np.clip(k * 0.5, 1.5, 3.0))
        for x, y in geometry.points.reshape(-1, 2):
            px, py = (x - wx0) * k, (y - wy0) * k
            draw.ellipse((px - r, py - r, px + r, py + r), fill=(*ALIGN_COLOUR, 255), outline=(0, 0, 0, 255))

    g = analysis.align_geometry
    x0, y0, x1, y1 = analysis.pool_geometry.cells
    left = _titled(panel(pool_layer), t["picture.pool_title"],
                   fill(t["picture.pool_note"], x0=x0, x1=x1, y0=y0, y1=y1, s=s))
    right = _titled(panel(align_layer), fill(t["picture.align_title"], aligned=analysis.aligned),
                    fill(t["picture.align_note"], gx=g.grid[0], gy=g.grid[1], out=out))
    return _side_by_side(left, right)


# ---------------------------------------------------------------- the pooled outputs


def _colours(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Viridis colours (…, 3) uint8 for `values` on the scale low..high."""
    t = np.clip((values - low) / (high - low), 0, 1) if high > low else np.zeros_like(values)
    anchors = np.linspace(0, 1, len(_VIRIDIS))
    return np.stack([np.interp(t, anchors, _VIRIDIS[:, c]) for c in range(3)], axis=-1).astype(np.uint8)


@functools.cache
def _glyphs(size: int) -> dict[str, Image.Image]:
    """Each character a pooled value can hold, rendered once as a mask of one common height.

    Rendering text with FreeType cost about 0.1 ms a number, most of the grid picture's time;
    stamping pre-rendered digits costs microseconds."""
    font = _font(size)
    ascent, descent = font.getmetrics()
    masks = {}
    for ch in "0123456789.-e+":
        mask = Image.new("L", (max(1, round(font.getlength(ch))), ascent + descent), 0)
        ImageDraw.Draw(mask).text((0, 0), ch, font=font, fill=255)
        masks[ch] = mask
    return masks


def _stamp(draw: ImageDraw.ImageDraw, centre: tuple[float, float], text: str, size: int,
           fill: tuple[int, int, int]) -> None:
    glyphs = _glyphs(size)
    width = sum(glyphs[ch].width for ch in text)
    x, y = round(centre[0] - width / 2), round(centre[1] - glyphs["0"].height / 2)
    for ch in text:
        draw.bitmap((x, y), glyphs[ch], fill=fill)
        x += glyphs[ch].width


def _grid(values: np.ndarray, low: float, high: float, cell: int) -> Image.Image:
    out = values.shape[0]
    colours = _colours(values, low, high)  # (out, out, 3)
    picture = Image.fromarray(colours).resize((out * cell, out * cell), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(picture)
    size = max(8, cell // 4)
    dark = colours.astype(float) @ [0.299, 0.587, 0.114] < 140  # (out, out): white digits on these
    for i in range(out):
        for j in range(out):
            v = float(values[i, j])
            text = f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1e4 else f"{v:.0e}"
            _stamp(draw, ((j + 0.5) * cell, (i + 0.5) * cell), text, size,
                   (255, 255, 255) if dark[i, j] else (0, 0, 0))
    for n in range(out + 1):  # thin borders between bins
        draw.line((n * cell, 0, n * cell, out * cell), fill=(255, 255, 255), width=1)
        draw.line((0, n * cell, out * cell, n * cell), fill=(255, 255, 255), width=1)
    return picture


def pooled_grids(analysis: Analysis, texts: dict[str, str] | None = None) -> Image.Image:
    """roi_pool and roi_align of the region, one channel, on one colour scale, values printed;
    titled in the language of `texts`."""
    t = TEXTS | (texts or {})
    c = analysis.channel
    pool, align = analysis.pool[c].numpy(), analysis.align[c].numpy()
    low, high = float(min(pool.min(), align.min())), float(max(pool.max(), align.max()))
    cell = int(np.clip(320 // analysis.output, 22, 60))
    where = fill(t["picture.channel"], c=c, channels=analysis.features.values.shape[1], low=f"{low:.2f}",
                 high=f"{high:.2f}")  # values: (1, C, H, W)
    ratio = analysis.sampling_ratio or t["picture.adaptive"]
    left = _titled(_grid(pool, low, high, cell), t["picture.pool_grid"], where)
    right = _titled(_grid(align, low, high, cell), t["picture.align_grid"],
                    fill(t["picture.sampling"], aligned=analysis.aligned, ratio=ratio))
    return _side_by_side(left, right)


# ---------------------------------------------------------------- shifting the region


def _figure(traces: list[dict], title: str, **axes) -> go.Figure:
    """A figure built in one go: plotly validates a layout given at construction about ten
    times faster than one added afterwards with update_layout (measured: 0.4 ms against 5-7 ms)."""
    return go.Figure({"data": traces, "layout": {**_LAYOUT, "title": {"text": title, "x": 0.5}, **axes}})


def _line(x, y, name: str, colour: tuple[int, int, int], hover: str, steps: bool = False, **extra) -> dict:
    """One curve; `steps` holds each value until the next sample (for outputs that are piecewise constant)."""
    line = {"color": _rgb(colour), "width": 3, "shape": "hv" if steps else "linear"}
    line.update(extra.pop("line", {}))
    return {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name, "hovertemplate": hover,
            "line": line, **extra}


def shift_figure(analysis: Analysis, texts: dict[str, str] | None = None) -> go.Figure:
    """Top: one pooled value against the shift. Bottom: where each operator's pooled region
    sits relative to the region asked for (ROIPool in steps, ROIAlign not at all)."""
    t = TEXTS | (texts or {})
    s, shifts, c = analysis.features.stride, analysis.shifts, analysis.channel
    i, j = analysis.probe
    value = _hover(t["hover.value"], y="%{y:.4f}")
    cells = _hover(t["hover.cells"], y="%{y:.2f}", cells="%{customdata:.3f}")
    aligned, other = analysis.aligned, not analysis.aligned  # the other setting, dotted, for comparison
    offsets = [analysis.centre_offsets(b) for b in (analysis.pool_boxes, analysis.align_boxes,
                                                     align_box(analysis.requested_boxes, s, other))]
    below = {"xaxis": "x2", "yaxis": "y2"}
    pool_name, align_name = "ROIPool", f"ROIAlign, aligned={aligned}"
    traces = [
        _line(shifts, analysis.pool_sweep[:, c, i, j].numpy(), pool_name, POOL_COLOUR, value, steps=True),
        _line(shifts, analysis.align_sweep[:, c, i, j].numpy(), align_name, ALIGN_COLOUR, value),
        _line(shifts, offsets[0], pool_name, POOL_COLOUR, cells, customdata=offsets[0] / s,
              showlegend=False, **below),
        _line(shifts, offsets[1], align_name, ALIGN_COLOUR, cells, customdata=offsets[1] / s,
              showlegend=False, **below),
        _line(shifts, offsets[2], f"ROIAlign, aligned={other}", LEGACY_COLOUR, cells,
              customdata=offsets[2] / s, line={"dash": "dot"}, **below),
    ]
    # Two panels sharing the shift axis; each panel's title sits above it as an annotation.
    titles = [{"text": fill(t["shift.bin"], i=i, j=j, c=c), "y": 1.0}, {"text": t["shift.offset"], "y": 0.44}]
    return _figure(
        traces, fill(t["shift.title"], s=s),
        xaxis={"domain": [0, 1], "anchor": "y", "matches": "x2", "showticklabels": False},
        yaxis={"domain": [0.56, 1], "anchor": "x", "title": {"text": t["shift.value"]}},
        xaxis2={"domain": [0, 1], "anchor": "y2", "title": {"text": t["shift.x"]}},
        yaxis2={"domain": [0, 0.44], "anchor": "x2", "title": {"text": t["shift.y"]}},
        annotations=[{**t, "x": 0.5, "xref": "paper", "yref": "paper", "xanchor": "center",
                      "yanchor": "bottom", "showarrow": False, "font": {"size": 14}} for t in titles],
    )


def localisation_figure(analysis: Analysis, texts: dict[str, str] | None = None) -> go.Figure:
    """The error of a point feature recovered from the pooled grid, against the shift."""
    t = TEXTS | (texts or {})
    s = analysis.features.stride
    hover = _hover(t["hover.cells"], y="%{y:.2f}", cells="%{customdata:.3f}")
    traces = [_line(analysis.shifts, analysis.errors[name][:, 0], name, METHOD_COLOURS[name], hover,
                    customdata=analysis.errors[name][:, 0] / s) for name in METHODS]
    return _figure(
        traces, t["located.title"],
        xaxis={"title": {"text": t["located.x"]}},
        yaxis={"title": {"text": fill(t["located.y"], s=s)}, "zeroline": True,
               "zerolinecolor": "gray"},
    )
