"""The rules a perfect network still has to pass: resizing, anchors, assignment, NMS.

Everything torchvision has is used as torchvision runs it: `AnchorGenerator` and
`DefaultBoxGenerator` build the anchors on the padded input the detector sees,
`Matcher`/`SSDMatcher` assign them, `batched_nms` post-processes. Soft-NMS and the
YOLOv3 assignment (one anchor, in the cell holding the object's centre) are not in
torchvision and are written here from their papers.

A perfect network outputs exactly the ground-truth box, with score 1, from every anchor
trained as a positive for that object, and nothing from any other anchor. Equal scores
make NMS order-dependent; ties go to the object listed first (`perfect_scores`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import batched_nms, box_iou

# ---------------------------------------------------------------- NMS and Soft-NMS


def perfect_scores(n: int) -> torch.Tensor:
    """Score 1 for every object, lowered by 1e-6 per place so ties go to the first listed."""
    return 1.0 - 1e-6 * torch.arange(n, dtype=torch.float32)


def nms_fates(boxes: torch.Tensor, labels: torch.Tensor,
              threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's per-class NMS on perfect boxes: (kept (N,) bool, suppressor (N,) or -1).

    The suppressor of a lost box is the first kept box of its class that overlaps it
    by more than `threshold` (NMS keeps in score order, i.e. in list order here)."""
    n = boxes.shape[0]
    kept = torch.zeros(n, dtype=torch.bool)
    kept[batched_nms(boxes, perfect_scores(n), labels, threshold)] = True
    earlier = torch.ones(n, n, dtype=torch.bool).tril(-1)  # [i, j]: j comes before i
    blames = (box_iou(boxes, boxes) > threshold) & (labels[:, None] == labels[None]) & kept[None] & earlier
    suppressor = torch.where(blames.any(dim=1) & ~kept, blames.int().argmax(dim=1), -1)
    return kept, suppressor


def soft_nms(boxes: torch.Tensor, labels: torch.Tensor, method: str = "gaussian", sigma: float = 0.5,
             threshold: float = 0.5, score_threshold: float = 0.05) -> torch.Tensor:
    """Soft-NMS (Bodla et al. 2017) on perfect boxes; returns each box's final score (N,).

    Instead of deleting the boxes that overlap a kept one, their scores decay:
    Gaussian, s · exp(−IoU²/σ); or linear, s · (1 − IoU) where IoU ≥ `threshold`. Boxes
    whose score falls under `score_threshold` are dropped (0 in the result)."""
    n = boxes.shape[0]
    iou = box_iou(boxes, boxes) * (labels[:, None] == labels[None])  # other classes never decay
    scores, final = perfect_scores(n), torch.zeros(n)
    active = torch.ones(n, dtype=torch.bool)
    for _ in range(n):
        best = int(torch.where(active, scores, -1.0).argmax())
        if not active[best]:
            break
        final[best], active[best] = scores[best], False
        overlap = iou[best]
        if method == "gaussian":
            decay = torch.exp(-(overlap**2) / sigma)
        else:
            decay = torch.where(overlap >= threshold, 1 - overlap, torch.ones_like(overlap))
        scores = torch.where(active, scores * decay, scores)
        active &= scores >= score_threshold
    return final


# ---------------------------------------------------------------- what each family feeds its network


@dataclass(frozen=True)
class Resize:
    """How a family maps image pixels to its network's input: x·sx + px, y·sy + py."""

    sx: float
    sy: float
    px: float
    py: float
    size: tuple[int, int]  # (width, height) of the padded network input

    def boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        return boxes * torch.tensor([self.sx, self.sy, self.sx, self.sy]) + torch.tensor(
            [self.px, self.py, self.px, self.py])


def rcnn_resize(width: int, height: int, min_size: int = 800, max_size: int = 1333,
                divisible: int = 32) -> Resize:
    """`GeneralizedRCNNTransform` (RetinaNet, Faster R-CNN): shorter side to 800 unless the
    longer passes 1333, then zero padding to a multiple of 32."""
    scale = min(min_size / min(width, height), max_size / max(width, height))
    # interpolate(..., recompute_scale_factor=True) floors each side.
    w, h = math.floor(width * scale), math.floor(height * scale)
    padded = (math.ceil(w / divisible) * divisible, math.ceil(h / divisible) * divisible)
    return Resize(w / width, h / height, 0.0, 0.0, padded)


def ssd_resize(width: int, height: int, side: int = 300) -> Resize:
    """SSD300 stretches every image to 300×300, whatever its shape."""
    return Resize(side / width, side / height, 0.0, 0.0, (side, side))


def letterbox(width: int, height: int, side: int = 416) -> Resize:
    """YOLOv3 scales the longer side to 416 and pads the shorter one on both sides."""
    r = side / max(width, height)
    w, h = round(width * r), round(height * r)
    return Resize(r, r, float((side - w) // 2), float((side - h) // 2), (side, side))


# ---------------------------------------------------------------- anchors


@dataclass
class Anchors:
    boxes: torch.Tensor  # (A, 4) x1, y1, x2, y2 in network-input pixels
    # One row per level: (offset, grid h, grid w, stride h, stride w, origin), and the
    # level's cell anchors (k, 4) around each grid point. Grid point (i, j) sits at
    # (origin + j · stride w, origin + i · stride h); its anchors are numbered
    # offset + (i · grid w + j) · k + a, the layout both torchvision generators use.
    levels: list[tuple[int, int, int, int, int, float]]
    cells: list[torch.Tensor]

    def level_of(self, index: torch.Tensor) -> torch.Tensor:
        offsets = torch.tensor([lv[0] for lv in self.levels])
        return torch.bucketize(index, offsets, right=True) - 1


def _shape_only(*shape: int) -> torch.Tensor:
    """A tensor with the right shape and no memory: the generators read shapes only."""
    return torch.zeros(1).expand(*shape)


def _fpn_grids(size: tuple[int, int], strides: tuple[int, ...], extra: int) -> list[tuple[int, int]]:
    """Feature-map sizes of a ResNet FPN on a padded input, plus `extra` levels made by
    stride-2 ops (RetinaNet's P6/P7 convolutions, Faster R-CNN's pool): each halves, rounding up."""
    w, h = size
    grids = [(h // s, w // s) for s in strides]
    for _ in range(extra):
        grids.append((math.ceil(grids[-1][0] / 2), math.ceil(grids[-1][1] / 2)))
    return grids


@functools.lru_cache(maxsize=8)
def fpn_anchors(family: str, size: tuple[int, int]) -> Anchors:
    """torchvision's default anchors for RetinaNet (P3–P7, 3 sizes × 3 ratios) or the
    Faster R-CNN RPN (P2–P6, 1 size × 3 ratios) on a padded input of `size` (w, h)."""
    if family == "retinanet":
        sizes = tuple((x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in [32, 64, 128, 256, 512])
        grids = _fpn_grids(size, (8, 16, 32), extra=2)
    else:
        sizes = ((32,), (64,), (128,), (256,), (512,))
        grids = _fpn_grids(size, (4, 8, 16, 32), extra=1)
    generator = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    images = ImageList(_shape_only(1, 3, size[1], size[0]), [(size[1], size[0])])
    boxes = generator(images, [_shape_only(1, 1, gh, gw) for gh, gw in grids])[0]
    levels, offset = [], 0
    for (gh, gw), cell in zip(grids, generator.cell_anchors, strict=True):
        levels.append((offset, gh, gw, size[1] // gh, size[0] // gw, 0.0))
        offset += gh * gw * cell.shape[0]
    return Anchors(boxes, levels, list(generator.cell_anchors))


@functools.lru_cache(maxsize=1)
def ssd300_anchors() -> Anchors:
    """SSD300-VGG16's 8,732 default boxes, as torchvision's `ssd300_vgg16` builds them."""
    steps = [8, 16, 32, 64, 100, 300]
    generator = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                                    scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], steps=steps)
    grids = [38, 19, 10, 5, 3, 1]  # VGG16's conv4_3, fc7 and the four extra layers at 300 px
    images = ImageList(_shape_only(1, 3, 300, 300), [(300, 300)])
    boxes = generator(images, [_shape_only(1, 1, g, g) for g in grids])[0]
    levels, cells, offset = [], [], 0
    for g, step, k in zip(grids, steps, generator.num_anchors_per_location(), strict=True):
        levels.append((offset, g, g, step, step, step / 2))  # centres at (j + 0.5) · step
        cells.append(boxes[offset:offset + k] - step / 2)  # the first grid point's boxes, around it
        offset += g * g * k
    return Anchors(boxes, levels, cells)


# ---------------------------------------------------------------- assignment


def pair_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of a[i] with b[i], row by row: (P, 4), (P, 4) -> (P,)."""
    lt, rb = torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(dim=1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def touching_pairs(gt: torch.Tensor, anchors: Anchors) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (object, anchor) pair whose boxes may intersect: (P,) object, (P,) anchor index.

    Anchors sit on each level's grid, so the grid points whose anchors can reach an
    object form a rectangle of the grid; enumerating those rectangles costs what the
    pairs cost, where a full IoU matrix would cost objects × all anchors (~160k)."""
    objects, indices = [], []
    for (offset, gh, gw, sh, sw, origin), cell in zip(anchors.levels, anchors.cells, strict=True):
        k = cell.shape[0]
        lo, hi = cell[:, :2].min(dim=0).values, cell[:, 2:].max(dim=0).values  # reach of the cell anchors
        j0 = ((gt[:, 0] - hi[0] - origin) / sw).floor().clamp(0, gw - 1).long()
        j1 = ((gt[:, 2] - lo[0] - origin) / sw).ceil().clamp(0, gw - 1).long()
        i0 = ((gt[:, 1] - hi[1] - origin) / sh).floor().clamp(0, gh - 1).long()
        i1 = ((gt[:, 3] - lo[1] - origin) / sh).ceil().clamp(0, gh - 1).long()
        nj, count = j1 - j0 + 1, (j1 - j0 + 1) * (i1 - i0 + 1)
        obj = torch.repeat_interleave(torch.arange(gt.shape[0]), count)  # (L,) one per grid point
        local = torch.arange(int(count.sum())) - torch.repeat_interleave(count.cumsum(0) - count, count)
        point = (i0[obj] + local // nj[obj]) * gw + j0[obj] + local % nj[obj]
        objects.append(obj.repeat_interleave(k))
        indices.append(offset + (point[:, None] * k + torch.arange(k)).reshape(-1))  # (L * k,)
    return torch.cat(objects), torch.cat(indices)


def nearest_pairs(gt: torch.Tensor, anchors: Anchors) -> tuple[torch.Tensor, torch.Tensor]:
    """(object, anchor) pairs holding each object's best anchor: on every level, the anchors
    of the 2×2 grid points around its centre.

    For two axis-aligned boxes of fixed sizes the IoU only falls as their centres move
    apart along either axis, so on one level the grid point nearest the object's centre
    in x and in y carries the best anchor of each shape; the second point of each pair
    covers anchors whose centres the generator rounded half a pixel off."""
    centre = (gt[:, :2] + gt[:, 2:]) / 2
    objects, indices = [], []
    corners = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    for (offset, gh, gw, sh, sw, origin), cell in zip(anchors.levels, anchors.cells, strict=True):
        k = cell.shape[0]
        j = ((centre[:, 0] - origin) / sw).floor()[:, None] + corners[None, :, 1]  # (N, 4)
        i = ((centre[:, 1] - origin) / sh).floor()[:, None] + corners[None, :, 0]
        point = i.clamp(0, gh - 1).long() * gw + j.clamp(0, gw - 1).long()
        objects.append(torch.arange(gt.shape[0]).repeat_interleave(4 * k))
        indices.append(offset + (point.reshape(-1, 1) * k + torch.arange(k)).reshape(-1))
    return torch.cat(objects), torch.cat(indices)


def best_iou(gt: torch.Tensor, anchors: Anchors) -> torch.Tensor:
    """(N,) each object's best IoU with any anchor (objects away from the borders)."""
    obj, idx = nearest_pairs(gt, anchors)
    iou = pair_iou(gt[obj], anchors.boxes[idx])
    return torch.zeros(gt.shape[0]).scatter_reduce(0, obj, iou, "amax", include_self=True)


@dataclass
class Assignment:
    anchor: torch.Tensor  # (R,) indices of the anchors that decide anything
    matches: torch.Tensor  # (R,) the object each was assigned, or < 0 (background / ignored)
    best_iou: torch.Tensor  # (N,) each object's best IoU with any anchor
    taker: torch.Tensor  # (N,) for each object, the object its best anchor went to (or -1)

    def positives(self, n: int) -> torch.Tensor:
        """(N,) bool: objects with at least one positive anchor."""
        hit = torch.zeros(n, dtype=torch.bool)
        hit[self.matches[self.matches >= 0]] = True
        return hit


def match_fpn(gt: torch.Tensor, anchors: Anchors, high: float, low: float, low_quality: bool) -> Assignment:
    """torchvision's `Matcher(high, low, low_quality)` on the anchors that matter.

    An anchor that overlaps no object by `low` or more, and is no object's best, comes
    out negative whatever the others do, so the matrix handed to the Matcher keeps only
    the rest (in their original order, so ties resolve as on the full matrix). This is
    exact as long as every object touches some anchor, which dense anchors guarantee."""
    obj, idx = touching_pairs(gt, anchors)
    iou = pair_iou(gt[obj], anchors.boxes[idx])
    n = gt.shape[0]
    best = torch.zeros(n).scatter_reduce(0, obj, iou, "amax", include_self=True)
    anchor_best = torch.zeros(anchors.boxes.shape[0]).scatter_reduce(0, idx, iou, "amax", include_self=True)
    decisive = (anchor_best[idx] >= low) | ((iou == best[obj]) & (iou > 0))
    obj, idx, iou = obj[decisive], idx[decisive], iou[decisive]
    mark = torch.zeros(anchors.boxes.shape[0], dtype=torch.bool)
    mark[idx] = True
    kept = mark.nonzero().flatten()  # the decisive anchors, in their original order
    column = torch.cumsum(mark, 0)[idx] - 1  # each pair's column among them
    quality = torch.zeros(n, kept.shape[0])
    quality[obj, column] = iou  # (N, R) the Matcher's input
    matches = det_utils.Matcher(high, low, allow_low_quality_matches=low_quality)(quality)
    return Assignment(kept, matches, best, _taker(quality, matches))


def match_ssd(gt: torch.Tensor, boxes: torch.Tensor, threshold: float = 0.5,
              forced: bool = True) -> Assignment:
    """SSD: `SSDMatcher(0.5)`, i.e. IoU ≥ 0.5, and each object also gets its best default box
    (the later object wins where two share one); `forced=False` drops that second rule.
    With only 8,732 default boxes the full matrix is cheap."""
    quality = box_iou(gt, boxes)  # (N, 8732)
    matcher = det_utils.SSDMatcher(threshold) if forced else det_utils.Matcher(threshold, threshold)
    matches = matcher(quality)
    best = quality.max(dim=1).values
    return Assignment(torch.arange(boxes.shape[0]), matches, best, _taker(quality, matches))


def _taker(quality: torch.Tensor, matches: torch.Tensor) -> torch.Tensor:
    """For each object, whom its best anchor was finally given to (-1: to nobody)."""
    return matches[quality.argmax(dim=1)].clamp(min=-1)


# YOLOv3's nine priors on COCO (w, h at 416 px); three per scale, small ones on the finest grid.
YOLO_ANCHORS = torch.tensor([[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90],
                             [156, 198], [373, 326]], dtype=torch.float32)
YOLO_STRIDES = (8, 16, 32)


def yolo_assign(boxes: torch.Tensor, group: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """YOLOv3's assignment of network-input boxes (N, 4): one prior per object.

    The prior is the one of nine whose shape (both centred) overlaps the box most; it
    lives on one of three grids, and the object goes to that prior in the grid cell
    holding its centre. Objects with the same cell and prior collide: the targets are
    written in list order, so the last one stays. `group` keeps separate scenes apart.
    """
    wh = boxes[:, 2:] - boxes[:, :2]
    inter = torch.minimum(wh[:, None], YOLO_ANCHORS[None]).prod(dim=2)  # (N, 9)
    shape_iou = inter / (wh.prod(dim=1)[:, None] + YOLO_ANCHORS.prod(dim=1)[None] - inter)
    prior = shape_iou.argmax(dim=1)
    stride = torch.tensor(YOLO_STRIDES)[prior // 3]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    cell = (centre / stride[:, None]).floor().long()
    group = torch.zeros_like(prior) if group is None else group
    slot = torch.stack([group, prior, cell[:, 0], cell[:, 1]], dim=1)
    _, owner_of_slot = torch.unique(slot, dim=0, return_inverse=True)
    # The last object written to a slot keeps it: the largest index among those sharing it.
    winner = torch.full((int(owner_of_slot.max()) + 1,), -1).scatter_reduce(
        0, owner_of_slot, torch.arange(len(prior)), "amax")
    return {"prior": prior, "stride": stride, "cell": cell, "winner": winner[owner_of_slot],
            "shape_iou": shape_iou.max(dim=1).values}
