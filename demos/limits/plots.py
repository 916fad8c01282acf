"""Pictures of the objects each rule loses, and the plotly figures of the sweeps (no Gradio here)."""

from __future__ import annotations

import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from demos.limits import oracle
from demos.limits.scenes import Scene
from shared.drawing import colour

# Palette index and caption per cause (shared.drawing's colour-blind-safe colours).
CAUSE_STYLE = {oracle.NO_FIT: (6, "no fit"), oracle.TAKEN: (0, "taken"), oracle.NMS: (5, "NMS"),
               oracle.CAP: (7, "cap"), oracle.DECAYED: (4, "decayed"), oracle.SHAPE: (4, "IoU")}
REACHED_COLOUR = (0, 158, 115)
_WHITE = "rgba(255,255,255,0.85)"
_LAYOUT = dict(template="none", font=dict(family="Helvetica, Arial, sans-serif", size=13),
               margin=dict(l=60, r=20, t=60, b=55), height=420,
               legend=dict(x=0.02, y=0.02, xanchor="left", yanchor="bottom", bgcolor=_WHITE))
_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]


def fate_picture(scene: Scene, base: Image.Image, outcome: oracle.Outcome) -> Image.Image:
    """The scene with every object's box: thin green where the rule lets the object
    through; where it does not, the object itself filled in the colour of the cause, its
    box outlined, and a line to the object that took its anchor or suppressed it."""
    scale = base.width / scene.width
    boxes = (scene.boxes * scale).tolist()
    centres = (scene.centres * scale).tolist()
    polygons = [[tuple(p) for p in points] for points in (scene.corners() * scale).tolist()]
    lost = [i for i, f in enumerate(outcome.fate) if f != oracle.REACHED]
    out = base.convert("RGB").copy()
    layer = out.copy()
    draw = ImageDraw.Draw(layer)
    for i in lost:
        draw.polygon(polygons[i], fill=colour(CAUSE_STYLE[outcome.fate[i]][0]))
    out = Image.blend(out, layer, 0.55)
    draw = ImageDraw.Draw(out)
    width = max(2, base.width // 320)
    if outcome.rule.startswith("Axis-aligned"):  # the objects' own outlines, to compare with their boxes
        for points in polygons:
            draw.polygon(points, outline=(60, 60, 60), width=1)
    for i, fate in enumerate(outcome.fate):
        if fate == oracle.REACHED:
            draw.rectangle(boxes[i], outline=REACHED_COLOUR, width=1)
    for i in lost:
        c = colour(CAUSE_STYLE[outcome.fate[i]][0])
        draw.rectangle(boxes[i], outline=c, width=width)
        by = outcome.blame[i] if outcome.blame else -1
        if by >= 0:
            x, y = centres[by]
            draw.line([tuple(centres[i]), (x, y)], fill=c, width=width)
            draw.ellipse((x - 2 * width, y - 2 * width, x + 2 * width, y + 2 * width), fill=c)
    causes = [c for c in CAUSE_STYLE if c in outcome.fate]
    n = len(outcome.fate)
    title = f"{outcome.rule}: {n - len(lost)} of {n} reachable ({outcome.recall:.0%})"
    keys = [(REACHED_COLOUR, "reached")] + [(colour(CAUSE_STYLE[c][0]), c) for c in causes]
    return _legend(out, title, keys)


def _legend(image: Image.Image, title: str, keys: list[tuple[tuple[int, int, int], str]]) -> Image.Image:
    """A white strip above the picture: the title, then a coloured square per key."""
    font = ImageFont.load_default(size=max(12, image.width // 48))
    probe = ImageDraw.Draw(image)
    height = int(probe.textbbox((0, 0), "Ag", font=font)[3]) + 8
    rows = [[title], []]
    for key in keys:  # wrap the keys onto as many rows as the width needs
        line = "   ".join(k for _, k in rows[-1] + [key]) if rows[-1] else key[1]
        if rows[-1] and probe.textlength("■ " + line, font=font) > image.width - 16:
            rows.append([])
        rows[-1].append(key)
    strip = Image.new("RGB", (image.width, image.height + height * len(rows)), (255, 255, 255))
    strip.paste(image, (0, height * len(rows)))
    draw = ImageDraw.Draw(strip)
    draw.text((6, 4), title, fill=(0, 0, 0), font=font)
    for r, row in enumerate(rows[1:], start=1):
        x = 6.0
        for c, text in row:
            draw.rectangle((x, r * height + 5, x + height - 10, r * height + height - 5), fill=c)
            draw.text((x + height - 4, r * height + 4), text, fill=(40, 40, 40), font=font)
            x += height + probe.textlength(text, font=font) + 14
    return strip


def table_rows(outcomes: list[oracle.Outcome]) -> list[list]:
    """One row per rule: what it reaches and where the rest went."""
    rows = []
    for o in outcomes:
        c = o.counts()
        lost = ", ".join(f"{c[cause]} {cause}" for cause in oracle.CAUSES if c[cause]) or "—"
        rows.append([o.rule, f"{c[oracle.REACHED]} / {len(o.fate)}", f"{o.recall:.0%}", lost, o.settings])
    return rows


TABLE_COLUMNS = ["rule", "reached", "recall ceiling", "lost, and why", "as run"]


def crowding_figure(curves: dict, current: float | None) -> go.Figure:
    fig = go.Figure()
    names = [k for k in curves if k not in ("crowding", "group_size")]
    for k, name in enumerate(names):
        width = 3 if name.startswith("Soft") else 2
        fig.add_trace(go.Scatter(x=curves["crowding"], y=curves[name], mode="lines+markers", name=name,
                                 line=dict(width=width, dash=_DASHES[k % len(_DASHES)], shape="hv"),
                                 marker=dict(size=4)))
    if current is not None:
        fig.add_vline(x=current, line=dict(color="grey", dash="dot"), annotation_text="this scene",
                      annotation_position="top")
    fig.update_layout(title=dict(text=f"Recall ceiling of a group of {curves['group_size']} equal objects "
                                      "against crowding", x=0.5), **_LAYOUT)
    fig.update_xaxes(title="IoU of neighbouring objects' own shapes", range=[-0.02, 0.97])
    fig.update_yaxes(title="share of objects a perfect detector can report", range=[0, 1.05])
    return fig


def anchor_figure(curves: dict, xs: list[float], what: str, current: float) -> go.Figure:
    """Top: does a lone object's best anchor reach the positive threshold (without the rescue
    rules); bottom: how good that best anchor is."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("positive without low-quality matches / SSD's best-box rule",
                                        "best IoU of any anchor (YOLOv3: of the best prior's shape)"))
    for k, (name, c) in enumerate(curves.items()):
        line = dict(color=_colour_hex(k), width=2)
        if c["positive"] is not None:
            fig.add_trace(go.Scatter(x=xs, y=c["positive"], mode="lines+markers", name=name, legendgroup=name,
                                     line=line, marker=dict(size=4)), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=c["best_iou"], mode="lines+markers", name=name, legendgroup=name,
                                 showlegend=c["positive"] is None, line=line, marker=dict(size=4)),
                      row=2, col=1)
    rescued = "with torchvision's rescue rules (or YOLOv3): every lone object"
    fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[1, 1], mode="lines", name=rescued,
                             line=dict(color="grey", dash="dot")), row=1, col=1)
    # Shapes in one go: add_hline / add_vline on subplots cost ~20 ms each in plotly.
    shapes = [dict(type="line", xref="x2 domain", x0=0, x1=1, yref="y2", y0=y, y1=y,
                   line=dict(color="lightgrey", dash="dash")) for y in (0.5, 0.7)]
    shapes += [dict(type="line", xref=ax, x0=current, x1=current, yref=f"{ay} domain", y0=0, y1=1,
                    line=dict(color="grey", dash="dot")) for ax, ay in (("x", "y"), ("x2", "y2"))]
    layout = dict(_LAYOUT, height=560, legend=dict(orientation="h", y=-0.18, x=0))
    powers = [2.0**k for k in range(-6, 9) if xs[0] <= 2.0**k <= xs[-1]]  # one tick per octave
    ticks = dict(tickvals=powers, ticktext=[f"{p:g}" if p >= 1 else f"1/{1 / p:g}" for p in powers])
    fig.update_layout(title=dict(text=f"An object alone, against its {what}", x=0.5), shapes=shapes,
                      xaxis=dict(type="log", **ticks), xaxis2=dict(type="log", title=what, **ticks),
                      yaxis=dict(range=[-0.03, 1.05], title="share of placements"),
                      yaxis2=dict(range=[0, 1], title="IoU"), **layout)
    return fig


def collision_figure(curves: dict) -> go.Figure:
    x = curves["objects_per_cell"]
    fig = go.Figure([
        go.Scatter(x=x, y=curves["similar"], mode="lines+markers", name="objects like this one (size ±25 %)",
                   line=dict(width=3, color=_colour_hex(0))),
        go.Scatter(x=x, y=curves["mixed"], mode="lines+markers", name="mixed shapes (size ×½–2, aspect ×⅓–3)",
                   line=dict(width=2, color=_colour_hex(1))),
        go.Scatter(x=x, y=curves["chance"], mode="lines", line=dict(color="grey", dash="dot"),
                   name="chance, if all took one prior: 1 − (1 − e^−λ)/λ"),
    ])
    layout = dict(_LAYOUT, legend=dict(x=0.02, y=0.98, xanchor="left", yanchor="top", bgcolor=_WHITE))
    fig.update_layout(title=dict(text="YOLOv3: objects lost to a shared cell and prior", x=0.5), **layout)
    fig.update_xaxes(title=f"objects per cell of the stride-{curves['stride'][0]} grid (λ), at random places")
    fig.update_yaxes(title="share of objects lost", range=[0, 1])
    return fig


def rotation_figure(curves: dict, scene: Scene | None) -> go.Figure:
    fig = go.Figure()
    names = [k for k in curves if k != "angle"]
    for k, name in enumerate(names):
        neighbours = name.startswith("neighbours")
        fig.add_trace(go.Scatter(x=curves["angle"], y=curves[name], mode="lines", name=name,
                                 line=dict(width=3 if neighbours else 2, color="black" if neighbours else
                                           _colour_hex(k), dash="dash" if neighbours else "solid")))
    if scene is not None and len(scene):
        folded = (scene.angles.abs() % 180)
        folded = folded.where(folded <= 90, 180 - folded)  # a box looks the same at θ and 180° − θ
        fig.add_trace(go.Scatter(x=folded.tolist(), y=scene.shape_iou.tolist(), mode="markers",
                                 name="this scene's objects",
                                 marker=dict(size=9, symbol="x", color="#d55e00")))
    fig.add_hline(y=oracle.SHAPE_IOU, line=dict(color="grey", dash="dot"), annotation_text="IoU 0.5",
                  annotation_position="bottom right")
    fig.update_layout(title=dict(text="Axis-aligned boxes on turned objects", x=0.5), **_LAYOUT)
    fig.update_xaxes(title="rotation of the object, degrees", range=[0, 90], dtick=15)
    fig.update_yaxes(title="IoU", range=[0, 1.02])
    return fig


def _colour_hex(index: int) -> str:
    r, g, b = colour([4, 5, 2, 6, 0, 1][index % 6])
    return f"#{r:02x}{g:02x}{b:02x}"
