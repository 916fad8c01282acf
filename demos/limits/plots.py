"""Pictures of the objects each rule loses, and the plotly figures of the sweeps (no Gradio here)."""

from __future__ import annotations

import plotly.graph_objects as go
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from demos.limits import oracle, sweeps
from demos.limits.scenes import Scene
from shared.drawing import colour, font_for
from shared.templates import fill, unfill

# Palette index and caption per cause (shared.drawing's colour-blind-safe colours).
CAUSE_STYLE = {oracle.NO_FIT: (6, "no fit"), oracle.TAKEN: (0, "taken"), oracle.NMS: (5, "NMS"),
               oracle.CAP: (7, "cap"), oracle.DECAYED: (4, "decayed"), oracle.SHAPE: (4, "IoU")}
REACHED_COLOUR = (0, 158, 115)
_WHITE = "rgba(255,255,255,0.85)"
_LAYOUT = dict(template="none", font=dict(family="Helvetica, Arial, sans-serif", size=13),
               margin=dict(l=60, r=20, t=60, b=55), height=420,
               legend=dict(x=0.02, y=0.02, xanchor="left", yanchor="bottom", bgcolor=_WHITE))
_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]

# Names that are the same in every language: the families' own, and curves named by them alone.
SAME_NAMES = {"rule": ("retinanet", "faster_rcnn", "ssd300", "yolov3"), "curve": ("nms", "rpn")}

# Every text the table and the figures show, by key, in English: the rules' names and settings,
# the causes and the curves' names (from oracle and sweeps), the headers, titles, axes and legends.
# The tab registers each for translation ("limits.<key>") and passes them back in the page's
# language, with its own punctuation ("list_join"); values go in at [name] (the browser reads
# every text as an ICU message, where braces are syntax).
TEXTS = {
    **{f"rule.{key}": name for key, name in oracle.NAMES.items() if key not in SAME_NAMES["rule"]},
    **{f"settings.{key}": text for key, text in oracle.SETTINGS.items()},
    **{f"cause.{key}": cause for cause, key in oracle.CAUSE_KEYS.items()},
    **{f"curve.{key}": name for key, name in sweeps.NAMES.items() if key not in SAME_NAMES["curve"]},
    "column.rule": "rule",
    "column.reached": "reached",
    "column.recall": "recall ceiling",
    "column.lost": "lost, and why",
    "column.settings": "as run",
    "lost": "[n] [cause]",
    "list_join": ", ",
    "picture.title": "[rule]: [reached] of [n] reachable ([recall])",
    "this_scene": "this scene",
    "crowding.title": "Recall ceiling of a group of [n] equal objects against crowding",
    "crowding.x": "IoU of neighbouring objects' own shapes",
    "crowding.y": "share of objects a perfect detector can report",
    "anchor.positive": "positive without low-quality matches / SSD's best-box rule",
    "anchor.best": "best IoU of any anchor (YOLOv3: of the best prior's shape)",
    "anchor.rescued": "with torchvision's rescue rules (or YOLOv3): every lone object",
    "anchor.title": "An object alone, against its [what]",
    "anchor.size": "object size, px (√(w·h) in the 640×480 image)",
    "anchor.aspect": "aspect ratio h / w",
    "anchor.y": "share of placements",
    "collision.similar": "objects like this one (size ±25 %)",
    "collision.mixed": "mixed shapes (size ×½–2, aspect ×⅓–3)",
    "collision.chance": "chance, if all took one prior: 1 − (1 − e^−λ)/λ",
    "collision.title": "YOLOv3: objects lost to a shared cell and prior",
    "collision.x": "objects per cell of the stride-[stride] grid (λ), at random places",
    "collision.y": "share of objects lost",
    "rotation.scene": "this scene's objects",
    "rotation.title": "Axis-aligned boxes on turned objects",
    "rotation.x": "rotation of the object, degrees",
}
TABLE_COLUMNS = [TEXTS[f"column.{k}"] for k in ("rule", "reached", "recall", "lost", "settings")]


def _texts(texts: dict[str, str] | None) -> dict[str, str]:
    return TEXTS | (texts or {})


def curve_name(name: str, texts: dict[str, str] | None = None) -> str:
    """A curve's name in the language of `texts`, from the template and values it was named with
    (a family's own name, such as "SSD300", stays as it is)."""
    t = _texts(texts)
    for key, english in sweeps.NAMES.items():
        values = unfill(english, name)  # "NMS 0.3" -> {"t": "0.3"}: the values it was named with
        if values is not None and f"curve.{key}" in t:
            return fill(t[f"curve.{key}"], **values)
    return name


def rule_name(key: str, texts: dict[str, str] | None = None) -> str:
    """The name of the rule `key` (one of oracle.NAMES) in the language of `texts`."""
    return _texts(texts).get(f"rule.{key}", oracle.NAMES[key])


def lost_list(counts: dict[str, int], texts: dict[str, str] | None = None) -> str:
    """"11 anchor taken, 2 suppressed by NMS": each cause with its count, in the order of CAUSES."""
    t = _texts(texts)
    return t["list_join"].join(fill(t["lost"], n=counts[cause], cause=t[f"cause.{oracle.CAUSE_KEYS[cause]}"])
                               for cause in oracle.CAUSES if counts[cause])


def fate_picture(scene: Scene, base: Image.Image, outcome: oracle.Outcome,
                 texts: dict[str, str] | None = None) -> Image.Image:
    """The scene with every object's box: thin green where the rule lets the object
    through; where it does not, the object itself filled in the colour of the cause, its
    box outlined, and a line to the object that took its anchor or suppressed it. The title
    and the legend are in the language of `texts`."""
    t = _texts(texts)
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
    if outcome.key == "axis":  # the objects' own outlines, to compare with their boxes
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
    title = fill(t["picture.title"], rule=rule_name(outcome.key, t), reached=n - len(lost), n=n,
                 recall=f"{outcome.recall:.0%}")
    keys = [(REACHED_COLOUR, t["cause.reached"])]
    keys += [(colour(CAUSE_STYLE[c][0]), t[f"cause.{oracle.CAUSE_KEYS[c]}"]) for c in causes]
    return _legend(out, title, keys)


def _legend(image: Image.Image, title: str, keys: list[tuple[tuple[int, int, int], str]]) -> Image.Image:
    """A white strip above the picture: the title, then a coloured square per key."""
    font = font_for(title + "".join(k for _, k in keys), max(12, image.width // 48))
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


def table_rows(outcomes: list[oracle.Outcome], texts: dict[str, str] | None = None) -> dict:
    """One row per rule: what it reaches and where the rest went, with the headers, in the
    language of `texts`: {"headers": [...], "data": [[...], ...]}."""
    t = _texts(texts)
    rows = []
    for o in outcomes:
        c = o.counts()
        rows.append([rule_name(o.key, t), f"{c[oracle.REACHED]} / {len(o.fate)}", f"{o.recall:.0%}",
                     lost_list(c, t) or "—", fill(t[f"settings.{o.key}"], **o.values)])
    headers = [t[f"column.{k}"] for k in ("rule", "reached", "recall", "lost", "settings")]
    return {"headers": headers, "data": rows}


def crowding_figure(curves: dict, current: float | None, texts: dict[str, str] | None = None) -> go.Figure:
    t = _texts(texts)
    fig = go.Figure()
    names = [k for k in curves if k not in ("crowding", "group_size")]
    for k, name in enumerate(names):
        width = 3 if name.startswith("Soft") else 2
        fig.add_trace(go.Scatter(x=curves["crowding"], y=curves[name], mode="lines+markers",
                                 name=curve_name(name, t),
                                 line=dict(width=width, dash=_DASHES[k % len(_DASHES)], shape="hv"),
                                 marker=dict(size=4)))
    if current is not None:
        fig.add_vline(x=current, line=dict(color="grey", dash="dot"), annotation_text=t["this_scene"],
                      annotation_position="top")
    fig.update_layout(title=dict(text=fill(t["crowding.title"], n=curves["group_size"]), x=0.5), **_LAYOUT)
    fig.update_xaxes(title=t["crowding.x"], range=[-0.02, 0.97])
    fig.update_yaxes(title=t["crowding.y"], range=[0, 1.05])
    return fig


def anchor_figure(curves: dict, xs: list[float], what: str, current: float,
                  texts: dict[str, str] | None = None) -> go.Figure:
    """Top: does a lone object's best anchor reach the positive threshold (without the rescue
    rules); bottom: how good that best anchor is. `what` is "size" or "aspect", the swept setting."""
    t = _texts(texts)
    what = t[f"anchor.{what}"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(t["anchor.positive"], t["anchor.best"]))
    for k, (name, c) in enumerate(curves.items()):
        line = dict(color=_colour_hex(k), width=2)
        label = curve_name(name, t)
        if c["positive"] is not None:
            fig.add_trace(go.Scatter(x=xs, y=c["positive"], mode="lines+markers", name=label,
                                     legendgroup=name, line=line, marker=dict(size=4)), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=c["best_iou"], mode="lines+markers", name=label, legendgroup=name,
                                 showlegend=c["positive"] is None, line=line, marker=dict(size=4)),
                      row=2, col=1)
    rescued = t["anchor.rescued"]
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
    fig.update_layout(title=dict(text=fill(t["anchor.title"], what=what), x=0.5), shapes=shapes,
                      xaxis=dict(type="log", **ticks), xaxis2=dict(type="log", title=what, **ticks),
                      yaxis=dict(range=[-0.03, 1.05], title=t["anchor.y"]),
                      yaxis2=dict(range=[0, 1], title="IoU"), **layout)
    return fig


def collision_figure(curves: dict, texts: dict[str, str] | None = None) -> go.Figure:
    t = _texts(texts)
    x = curves["objects_per_cell"]
    fig = go.Figure([
        go.Scatter(x=x, y=curves["similar"], mode="lines+markers", name=t["collision.similar"],
                   line=dict(width=3, color=_colour_hex(0))),
        go.Scatter(x=x, y=curves["mixed"], mode="lines+markers", name=t["collision.mixed"],
                   line=dict(width=2, color=_colour_hex(1))),
        go.Scatter(x=x, y=curves["chance"], mode="lines", line=dict(color="grey", dash="dot"),
                   name=t["collision.chance"]),
    ])
    layout = dict(_LAYOUT, legend=dict(x=0.02, y=0.98, xanchor="left", yanchor="top", bgcolor=_WHITE))
    fig.update_layout(title=dict(text=t["collision.title"], x=0.5), **layout)
    fig.update_xaxes(title=fill(t["collision.x"], stride=curves["stride"][0]))
    fig.update_yaxes(title=t["collision.y"], range=[0, 1])
    return fig


def rotation_figure(curves: dict, scene: Scene | None, texts: dict[str, str] | None = None) -> go.Figure:
    t = _texts(texts)
    fig = go.Figure()
    names = [k for k in curves if k != "angle"]
    for k, name in enumerate(names):
        neighbours = name.startswith("neighbours")
        fig.add_trace(go.Scatter(x=curves["angle"], y=curves[name], mode="lines", name=curve_name(name, t),
                                 line=dict(width=3 if neighbours else 2, color="black" if neighbours else
                                           _colour_hex(k), dash="dash" if neighbours else "solid")))
    if scene is not None and len(scene):
        folded = (scene.angles.abs() % 180)
        folded = folded.where(folded <= 90, 180 - folded)  # a box looks the same at θ and 180° − θ
        fig.add_trace(go.Scatter(x=folded.tolist(), y=scene.shape_iou.tolist(), mode="markers",
                                 name=t["rotation.scene"],
                                 marker=dict(size=9, symbol="x", color="#d55e00")))
    fig.add_hline(y=oracle.SHAPE_IOU, line=dict(color="grey", dash="dot"), annotation_text="IoU 0.5",
                  annotation_position="bottom right")
    fig.update_layout(title=dict(text=t["rotation.title"], x=0.5), **_LAYOUT)
    fig.update_xaxes(title=t["rotation.x"], range=[0, 90], dtick=15)
    fig.update_yaxes(title="IoU", range=[0, 1.02])
    return fig


def _colour_hex(index: int) -> str:
    r, g, b = colour([4, 5, 2, 6, 0, 1][index % 6])
    return f"#{r:02x}{g:02x}{b:02x}"
