"""The curves behind the plots: one rule at a time, one setting swept, everything else held.

- crowding: recall of one group of equal objects against the overlap of neighbours,
  for NMS at several thresholds, Soft-NMS and YOLOv3's one-object-per-cell rule;
- anchors: for an object alone, its best anchor IoU and whether it reaches each
  family's positive threshold, against its size and against its aspect ratio;
- collisions: the share of objects YOLOv3 loses to a shared cell and prior, against
  how many objects fall in one cell, with the chance-placement expectation;
- rotation: how well a perfect axis-aligned box covers a turned object, and how much
  two touching turned neighbours' boxes overlap.
"""

from __future__ import annotations

import math

import torch

from demos.limits import oracle, rules
from demos.limits.scenes import HEIGHT, WIDTH, Scene, group_offsets, half_extents, shape_of
from shared.templates import fill

CROWDING = [round(0.05 * k, 2) for k in range(20)]  # 0 … 0.95
SIZES = [round(4 * 2 ** (k / 3), 1) for k in range(19)]  # 4 … 256 px, three steps per octave
ASPECTS = [round(2 ** (k / 3), 3) for k in range(-9, 10)]  # 1/8 … 8
ANGLES = list(range(0, 91, 3))
DENSITIES = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
NMS_THRESHOLDS = (0.3, 0.5, 0.7)
POSITIONS = 16  # placements per point, to average over where the grids fall
# (family, positive IoU): the threshold an object's best anchor must reach without low-quality matches.
FAMILIES = (("RetinaNet", 0.5), ("Faster R-CNN RPN", 0.7), ("SSD300", 0.5))
# The curves' names, which are also their keys in the results: values go in at [name]
# (shared.templates), so the plots can name each curve from the same values in another language.
NAMES = {"nms": "NMS [t]", "gaussian": "Soft-NMS Gaussian σ=[sigma]", "linear": "Soft-NMS linear [t]",
         "rpn": "Faster R-CNN RPN", "prior": "YOLOv3 (prior shape)", "box": "box vs object, aspect [aspect]",
         "neighbours": "neighbours' boxes, crowding [crowding]"}


def _group(count: int, crowding: float, size: float, aspect: float, rotation: float, mixed: bool,
           centre: tuple[float, float]) -> Scene:
    w, h = shape_of(size, aspect)
    centres = group_offsets(count, crowding, w, h, rotation) + torch.tensor(centre)
    labels = torch.arange(count) % 2 if mixed else torch.zeros(count, dtype=torch.int64)
    return Scene(WIDTH, HEIGHT, centres, torch.tensor([[w, h]]).repeat(count, 1),
                 torch.full((count,), float(rotation)), labels, ["A", "B"] if mixed else ["object"])


def _placements(n: int, spread: float, seed: int = 0) -> torch.Tensor:
    """(n, 2) points near the image centre, spread over `spread` pixels in x and y."""
    gen = torch.Generator().manual_seed(seed)
    return torch.tensor([WIDTH / 2, HEIGHT / 2]) + (torch.rand(n, 2, generator=gen) - 0.5) * spread


def crowding_curves(size: float, aspect: float, rotation: float, group_size: int, mixed: bool,
                    nms_threshold: float, sigma: float) -> dict[str, list[float]]:
    """Recall of a group of equal objects against the IoU of neighbours' own shapes.

    Groups never touch each other, so one group tells the whole story for NMS; YOLOv3's
    cells depend on where the group falls, so it is averaged over POSITIONS placements."""
    count = max(2, group_size)
    thresholds = sorted({*NMS_THRESHOLDS, nms_threshold})
    nms = {t: fill(NAMES["nms"], t=f"{t:g}") for t in thresholds}
    curves: dict[str, list[float]] = {nms[t]: [] for t in thresholds}
    gaussian = fill(NAMES["gaussian"], sigma=f"{sigma:g}")
    linear = fill(NAMES["linear"], t=f"{nms_threshold:g}")
    curves |= {gaussian: [], linear: [], "YOLOv3": []}
    spots = _placements(POSITIONS, 32.0)
    letterbox = rules.letterbox(WIDTH, HEIGHT)
    for t in CROWDING:
        group = _group(count, t, size, aspect, rotation, mixed, (WIDTH / 2, HEIGHT / 2))
        for thr in thresholds:
            curves[nms[thr]].append(oracle.nms_only(group, thr).recall)
        for method, name in (("gaussian", gaussian), ("linear", linear)):
            curves[name].append(oracle.soft_nms(group, method, sigma, nms_threshold).recall)
        # The same group at every placement at once, kept apart by a group id.
        shift = (spots - torch.tensor([WIDTH / 2, HEIGHT / 2])).repeat(1, 2)  # (P, 4)
        boxes = letterbox.boxes((group.boxes[None] + shift[:, None]).reshape(-1, 4))  # (P * count, 4)
        ids = torch.arange(POSITIONS).repeat_interleave(count)
        won = rules.yolo_assign(boxes, ids)["winner"] == torch.arange(len(ids))
        labels = group.labels.repeat(POSITIONS)
        scores = rules.perfect_scores(int(won.sum()))
        keep = rules.batched_nms(boxes[won], scores, (ids * 2 + labels)[won], 0.45)
        curves["YOLOv3"].append(len(keep) / len(ids))
    return {"crowding": CROWDING, "group_size": count, **curves}


def anchor_curves(shapes: list[tuple[float, float]], rotation: float) -> dict[str, dict[str, list[float]]]:
    """For each (size, aspect) of an object alone: per family, the mean best-anchor IoU and
    the share of placements where that IoU reaches the family's positive threshold.

    Alone, an object is a positive under torchvision's low-quality matching, SSD's
    best-box rule or YOLOv3 whatever its IoU, so what is left to measure is how good
    that best match is, and whether it would pass without those rescue rules."""
    n = len(shapes)
    w, h = torch.tensor([shape_of(s, a) for s, a in shapes]).T  # (S,), (S,)
    sizes = torch.stack([w, h], dim=1).repeat_interleave(POSITIONS, dim=0)  # (S * P, 2)
    spots = _placements(POSITIONS, 128 / 1.6).repeat(n, 1)  # one stride of the coarsest level, at 1.6x
    half = half_extents(sizes, torch.full((len(sizes),), float(rotation)))
    boxes = torch.cat([spots - half, spots + half], dim=1)  # (S * P, 4) in image pixels
    rcnn, ssd = rules.rcnn_resize(WIDTH, HEIGHT), rules.ssd_resize(WIDTH, HEIGHT)
    best = {
        "RetinaNet": rules.best_iou(rcnn.boxes(boxes), rules.fpn_anchors("retinanet", rcnn.size)),
        NAMES["rpn"]: rules.best_iou(rcnn.boxes(boxes), rules.fpn_anchors("rpn", rcnn.size)),
        "SSD300": rules.best_iou(ssd.boxes(boxes), rules.ssd300_anchors()),
    }
    yolo = rules.letterbox(WIDTH, HEIGHT)
    best[NAMES["prior"]] = rules.yolo_assign(yolo.boxes(boxes))["shape_iou"]
    out = {}
    for name, iou in best.items():
        iou = iou.reshape(n, POSITIONS)
        threshold = dict(FAMILIES).get(name)
        out[name] = {"best_iou": iou.mean(dim=1).tolist(),
                     "positive": (iou >= threshold).float().mean(dim=1).tolist() if threshold else None}
    return out


def collision_curves(size: float, aspect: float, rotation: float, seed: int = 0) -> dict[str, list[float]]:
    """The share of objects YOLOv3 loses to collisions, against objects per grid cell.

    Objects are dropped uniformly over the image: like this one (size within ±25 %), or
    of mixed shapes (half to twice the size, a third to three times the aspect), which
    spreads them over more priors. If every object took the same prior, chance alone
    would lose 1 − (1 − e^−λ)/λ of them at λ objects per cell."""
    box = rules.letterbox(WIDTH, HEIGHT)
    w, h = shape_of(size, aspect)
    reference = torch.tensor([[WIDTH / 2 - w / 2, HEIGHT / 2 - h / 2, WIDTH / 2 + w / 2, HEIGHT / 2 + h / 2]])
    stride = int(rules.yolo_assign(box.boxes(reference))["stride"][0])
    cells = (WIDTH * box.sx / stride) * (HEIGHT * box.sy / stride)
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {"objects_per_cell": [], "similar": [], "mixed": [],
                                   "chance": [], "stride": [stride]}
    for density in DENSITIES:
        n = max(2, min(4000, round(density * cells)))
        centres = torch.rand(n, 2, generator=gen) * torch.tensor([WIDTH, HEIGHT])
        out["objects_per_cell"].append(n / cells)
        for kind in ("similar", "mixed"):
            if kind == "similar":
                scale, stretch = 0.8 + 0.45 * torch.rand(n, generator=gen), torch.ones(n)
            else:
                scale = 2 ** (2 * torch.rand(n, generator=gen) - 1)
                stretch = 3 ** (2 * torch.rand(n, generator=gen) - 1)
            sizes = torch.stack([w * scale / stretch.sqrt(), h * scale * stretch.sqrt()], dim=1)
            half = half_extents(sizes, torch.full((n,), float(rotation)))
            won = rules.yolo_assign(box.boxes(torch.cat([centres - half, centres + half], dim=1)))["winner"]
            out[kind].append(1 - float((won == torch.arange(n)).float().mean()))
        lam = n / cells
        out["chance"].append(1 - (1 - math.exp(-lam)) / lam)
    return out


def all_curves(crowding: float, size: float, aspect: float, rotation: float, group_size: int, mixed: bool,
               nms_threshold: float, sigma: float) -> dict:
    """Every sweep the tab plots, for the current settings."""
    return {"crowding": crowding_curves(size, aspect, rotation, group_size, mixed, nms_threshold, sigma),
            "sizes": SIZES, "size": anchor_curves([(s, aspect) for s in SIZES], rotation),
            "aspects": ASPECTS, "aspect": anchor_curves([(size, a) for a in ASPECTS], rotation),
            "collisions": collision_curves(size, aspect, rotation),
            "rotation": rotation_curves(aspect, crowding)}


def rotation_curves(aspect: float, crowding: float) -> dict[str, list[float]]:
    """Against the angle: the IoU of a turned object with its perfect axis-aligned box, for
    several aspect ratios; and the IoU of the boxes of two neighbours whose own shapes
    overlap by `crowding`, at this aspect ratio."""
    angles = torch.tensor(ANGLES, dtype=torch.float32)
    out: dict[str, list[float]] = {"angle": ANGLES}
    for ar in sorted({1.0, 2.0, 4.0, 8.0, round(max(aspect, 1 / aspect), 2)}):
        sizes = torch.tensor([[1.0, ar]]).repeat(len(angles), 1)
        half = half_extents(sizes, angles)
        out[fill(NAMES["box"], aspect=f"{ar:g}")] = (ar / (4 * half.prod(dim=1))).tolist()
    w, h = shape_of(32.0, aspect)
    pairs = []
    for angle in ANGLES:
        group = _group(2, crowding, 32.0, aspect, angle, False, (0.0, 0.0))
        pairs.append(float(rules.box_iou(group.boxes[:1], group.boxes[1:])[0, 0]))
    out[fill(NAMES["neighbours"], crowding=f"{crowding:g}")] = pairs
    return out
