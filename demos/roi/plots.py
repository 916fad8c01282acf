"""Pictures and plots of an `Analysis` (no Gradio here).

`overlay`: the region over the image, zoomed, in two panels: ROIPool's rounded region
and bins on the feature grid, ROIAlign's exact bins and their bilinear sample points.
`pooled_grids`: both pooled outputs side by side, one cell per bin with its value.
`shift_figure` and `localisation_figure`: what a sub-pixel shift of the region does.
"""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from demos.roi.pooling import METHODS, Analysis, align_box

POOL_COLOUR = (230, 159, 0)  # Okabe-Ito orange
ALIGN_COLOUR = (86, 180, 233)  # Okabe-Ito sky blue
LEGACY_COLOUR = (204, 121, 167)  # reddish purple: ROIAlign without the half-pixel offset
METHOD_COLOURS = dict(zip(METHODS, (POOL_COLOUR, LEGACY_COLOUR, (0, 114, 178)), strict=True))
PANEL = 440  # the longer side of each zoomed panel, px
_VIRIDIS = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in plotly.colors.sequential.Viridis])
_LAYOUT = dict(template="none", font=dict(family="Helvetica, Arial, sans-serif", size=13),
               margin=dict(l=70, r=20, t=60, b=100), height=500,
               legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.16, yanchor="top"))


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # ASCII only: it has no glyphs for "×" or "–"


def _rgb(colour: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*colour)


def _titled(panel: Image.Image, title: str, note: str) -> Image.Image:
    """The panel with a title above it and a one-line note below, on white."""
    font, small = _font(15), _font(12)
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


def overlay(image: Image.Image, analysis: Analysis) -> Image.Image:
    """Two zoomed panels of the same window: what ROIPool pools and what ROIAlign samples."""
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
    left = _titled(panel(pool_layer), "ROIPool: region and bins rounded to cells",
                   f"cells x {x0}-{x1}, y {y0}-{y1} of {s} px; white: the region asked for")
    right = _titled(panel(align_layer), f"ROIAlign, aligned={analysis.aligned}: exact bins",
                    f"{g.grid[0]}x{g.grid[1]} bilinear samples in each of {out}x{out} bins")
    return _side_by_side(left, right)


# ---------------------------------------------------------------- the pooled outputs


def _colours(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Viridis colours (…, 3) uint8 for `values` on the scale low..high."""
    t = np.clip((values - low) / (high - low), 0, 1) if high > low else np.zeros_like(values)
    anchors = np.linspace(0, 1, len(_VIRIDIS))
    return np.stack([np.interp(t, anchors, _VIRIDIS[:, c]) for c in range(3)], axis=-1).astype(np.uint8)


def _grid(values: np.ndarray, low: float, high: float, cell: int) -> Image.Image:
    out = values.shape[0]
    colours = _colours(values, low, high)  # (out, out, 3)
    picture = Image.fromarray(colours).resize((out * cell, out * cell), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(picture)
    font = _font(max(8, cell // 4))
    for i in range(out):
        for j in range(out):
            v = float(values[i, j])
            text = f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
            dark = colours[i, j].astype(float) @ [0.299, 0.587, 0.114] < 140
            draw.text(((j + 0.5) * cell, (i + 0.5) * cell), text, anchor="mm", font=font,
                      fill=(255, 255, 255) if dark else (0, 0, 0))
    for n in range(out + 1):  # thin borders between bins
        draw.line((n * cell, 0, n * cell, out * cell), fill=(255, 255, 255), width=1)
        draw.line((0, n * cell, out * cell, n * cell), fill=(255, 255, 255), width=1)
    return picture


def pooled_grids(analysis: Analysis) -> Image.Image:
    """roi_pool and roi_align of the region, one channel, on one colour scale, values printed."""
    c = analysis.channel
    pool, align = analysis.pool[c].numpy(), analysis.align[c].numpy()
    low, high = float(min(pool.min(), align.min())), float(max(pool.max(), align.max()))
    cell = int(np.clip(320 // analysis.output, 22, 60))
    where = f"channel {c} of {analysis.features.values.shape[1]}; scale {low:.2f} to {high:.2f}"
    left = _titled(_grid(pool, low, high, cell), "torchvision.ops.roi_pool (max per bin)", where)
    right = _titled(_grid(align, low, high, cell), "torchvision.ops.roi_align (mean of samples)",
                    f"aligned={analysis.aligned}, sampling ratio {analysis.sampling_ratio or 'adaptive'}")
    return _side_by_side(left, right)


# ---------------------------------------------------------------- shifting the region


def shift_figure(analysis: Analysis) -> go.Figure:
    """Top: one pooled value against the shift. Bottom: where each operator's pooled region
    sits relative to the region asked for (ROIPool in steps, ROIAlign not at all)."""
    s, shifts, c = analysis.features.stride, analysis.shifts, analysis.channel
    i, j = analysis.probe
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=(
        f"pooled value of bin ({i}, {j}), channel {c}",
        "centre of the region pooled − centre of the region asked for"))
    hover = "shift %{x:.2f} px: %{y:.4f}<extra>%{fullData.name}</extra>"
    fig.add_trace(go.Scatter(x=shifts, y=analysis.pool_sweep[:, c, i, j].numpy(), name="ROIPool",
                             line=dict(color=_rgb(POOL_COLOUR), width=3, shape="hv"), hovertemplate=hover,
                             legendgroup="pool"), row=1, col=1)
    fig.add_trace(go.Scatter(x=shifts, y=analysis.align_sweep[:, c, i, j].numpy(),
                             name=f"ROIAlign, aligned={analysis.aligned}", legendgroup="align",
                             line=dict(color=_rgb(ALIGN_COLOUR), width=3), hovertemplate=hover), row=1, col=1)
    cells = "shift %{x:.2f} px: %{y:.2f} px = %{customdata:.3f} cells<extra>%{fullData.name}</extra>"
    boxes = analysis.requested_boxes
    curves = [("ROIPool", analysis.pool_boxes, POOL_COLOUR, "solid", "pool")]
    curves.append((f"ROIAlign, aligned={analysis.aligned}", analysis.align_boxes, ALIGN_COLOUR, "solid",
                   "align"))
    other = not analysis.aligned  # the other setting, dotted, for comparison
    curves.append((f"ROIAlign, aligned={other}", align_box(boxes, s, other), LEGACY_COLOUR, "dot", "other"))
    for name, pooled, colour, dash, group in curves:
        offset = analysis.centre_offsets(pooled)
        fig.add_trace(go.Scatter(x=shifts, y=offset, customdata=offset / s, name=name, legendgroup=group,
                                 showlegend=group == "other", hovertemplate=cells,
                                 line=dict(color=_rgb(colour), width=3, dash=dash,
                                           shape="hv" if group == "pool" else "linear")), row=2, col=1)
    fig.update_layout(title=dict(text=f"Moving the region right by sub-pixel steps (1 cell = {s} px)", x=0.5),
                      **_LAYOUT)
    fig.update_xaxes(title="shift of the region, image px", row=2, col=1)
    fig.update_yaxes(title="value", row=1, col=1)
    fig.update_yaxes(title="offset, image px", row=2, col=1)
    return fig


def localisation_figure(analysis: Analysis) -> go.Figure:
    """The error of a point feature recovered from the pooled grid, against the shift."""
    s = analysis.features.stride
    fig = go.Figure()
    hover = "shift %{x:.2f} px: %{y:.2f} px = %{customdata:.3f} cells<extra>%{fullData.name}</extra>"
    for name in METHODS:
        error = analysis.errors[name][:, 0]
        shape = "hv" if name == "ROIPool" else "linear"
        fig.add_trace(go.Scatter(x=analysis.shifts, y=error, customdata=error / s, name=name,
                                 hovertemplate=hover,
                                 line=dict(color=_rgb(METHOD_COLOURS[name]), width=3, shape=shape)))
    fig.add_hline(y=0, line=dict(color="gray", width=1))
    title = "Where a point is found from the pooled grid, minus where it is"
    fig.update_layout(title=dict(text=title, x=0.5), **_LAYOUT)
    fig.update_xaxes(title="shift of the region and the point, image px")
    fig.update_yaxes(title=f"horizontal error, image px (1 cell = {s} px)")
    return fig
