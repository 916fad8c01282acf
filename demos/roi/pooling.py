"""ROIPool against ROIAlign on one real feature map: where each reads, and what it loses.

Model code only (no Gradio). The pooled outputs are torchvision's own `roi_pool` and
`roi_align`. This module adds what those do not return: the feature cells and sample
points each one reads (re-derived from the kernels' float32 arithmetic; tests/test_roi.py
checks them against torchvision's outputs), a sweep of sub-pixel shifts of the region,
and the localisation error of a point feature recovered from the pooled grid.

Coordinates. Image pixel i covers [i, i + 1), so a box edge at x = 0 is the image's left
border. A feature map of stride s is read as cell j covering image pixels
[s·j, s·(j + 1)), centred at s·(j + ½): exactly true for the average-pooled image, the
second feature source here. ROIAlign samples at continuous feature coordinates u where
cell j sits at u = j, so the image position it reads is s·(u + ½). `aligned=True`
subtracts ½ from the box's feature coordinates; without it the whole sampling grid
reads content half a cell to the right of and below the box.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from torchvision.ops import roi_align, roi_pool

from demos.detection import registry as detection_models
from demos.detection.data import to_tensor
from shared import device as devices
from shared import errors
from shared.loading import get_model
from shared.templates import fill
from shared.validation import BadInput

DETECTOR = detection_models.bundled_name("focal")
DETECTOR_LEVELS = {8: "p3", 16: "p4"}  # the bundled backbone's FPN: stride -> level
STRIDES = (4, 8, 16, 32)  # the average-pooled image accepts any of these
FEATURES = ("detector", "image")
PAD_TO = 32  # the padded image is a whole number of cells at every stride
MAX_OUTPUT = 16
MAX_SAMPLING = 8
SWEEP_STEP = 1 / 64  # of a cell: 129 shifts over ±1 cell, sub-pixel for every stride here
POINT_SIGMA = 1.0  # the synthetic point feature's Gaussian width, in cells
METHODS = ("ROIPool", "ROIAlign, aligned=False", "ROIAlign, aligned=True")
# The errors of a stride or a feature map this module lacks; values go in at [name], so the page
# gets them in its own language (shared.errors).
NO_LEVEL = errors.template("roi.error.no_level", "The detector's feature pyramid has levels at strides 8 and "
                           "16 only (got [stride]); choose one of those, or the raw image.")
MESSAGES = errors.templates("error.roi", {
    "stride": "The feature stride must be one of [strides] (got [stride]).",
    "unknown_map": "Unknown feature map [name]; the demo needs one of: [known].",
})
# What each feature source is, in English. Values go in at [name] (shared.templates), so the tab
# can describe a map from its own texts in another language (`describe`).
DESCRIPTIONS = {"detector": "[model] FPN level [level] (stride [stride], [channels] channels)",
                "image": "image brightness averaged over [stride]×[stride] blocks"}


@dataclass
class FeatureMap:
    values: torch.Tensor  # (1, C, H, W) float32 on the CPU; H, W = padded image size / stride
    stride: int
    source: str  # one of FEATURES
    image_size: tuple[int, int]  # (width, height) of the image it was computed from
    seconds: float  # time of the network (or the pooling of the image) alone

    @property
    def description(self) -> str:
        return describe(self)


def describe(fm: FeatureMap, templates: dict[str, str] = DESCRIPTIONS) -> str:
    """What the map is, from `templates` (DESCRIPTIONS, or the same texts in another language)."""
    level = DETECTOR_LEVELS.get(fm.stride, "").upper()
    channels = fm.values.shape[1]  # (1, C, H, W)
    return fill(templates[fm.source], model=DETECTOR, level=level, stride=fm.stride, channels=channels)


def _pad(x: torch.Tensor, mode: str = "constant") -> torch.Tensor:
    """Pad (N, C, H, W) on the right and bottom to multiples of PAD_TO; box coordinates are unchanged."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % PAD_TO, 0, -h % PAD_TO), mode=mode)


def detector_features(image: Image.Image, stride: int) -> FeatureMap:
    """One FPN level of the bundled focal-loss detector's backbone, run on the image as it is."""
    if stride not in DETECTOR_LEVELS:
        raise BadInput(fill(NO_LEVEL, stride=stride))
    model = get_model(DETECTOR)
    dev = next(model.parameters()).device
    mean = torch.tensor(model.config["image_mean"]).view(3, 1, 1)
    std = torch.tensor(model.config["image_std"]).view(3, 1, 1)
    # Normalised, then padded with zeros (the mean colour), as torchvision's detection transform pads.
    x = _pad(((to_tensor(image) - mean) / std)[None]).to(dev)  # (1, 3, H', W')
    with torch.inference_mode():
        devices.synchronise(dev)
        t0 = time.perf_counter()
        level = model.backbone(x)[DETECTOR_LEVELS[stride]]  # (1, 64, H'/s, W'/s)
        devices.synchronise(dev)
        seconds = time.perf_counter() - t0
    values = level.float().cpu()
    return FeatureMap(values, stride, "detector", image.size, seconds)


def image_features(image: Image.Image, stride: int) -> FeatureMap:
    """The image's brightness averaged over stride x stride blocks: a one-channel map whose
    cells are exactly the pixel blocks they summarise."""
    if stride not in STRIDES:
        raise BadInput(fill(MESSAGES["stride"], strides=", ".join(map(str, STRIDES)), stride=stride))
    t0 = time.perf_counter()
    rgb = to_tensor(image)  # (3, H, W) in [0, 1]
    luma = (torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1) * rgb).sum(0)  # (H, W)
    values = F.avg_pool2d(_pad(luma[None, None], mode="replicate"), stride)  # (1, 1, H'/s, W'/s)
    return FeatureMap(values, stride, "image", image.size, time.perf_counter() - t0)


def feature_map(image: Image.Image, source: str, stride: int) -> FeatureMap:
    if source == "detector":
        return detector_features(image, stride)
    if source == "image":
        return image_features(image, stride)
    raise BadInput(fill(MESSAGES["unknown_map"], name=repr(source), known=", ".join(FEATURES)))


@functools.cache
def detector_cell_centre(stride: int, cell: int = 6) -> float:
    """Where the detector's cell `cell` of level `stride` is centred, in image pixels, measured
    as the centroid of |d feature / d input| on a blank 256 px image (one backward pass)."""
    model = get_model(DETECTOR)
    dev = next(model.parameters()).device
    x = torch.zeros(1, 3, 256, 256, device=dev, requires_grad=True)
    with torch.enable_grad():
        level = model.backbone(x)[DETECTOR_LEVELS[stride]]  # (1, C, 256/s, 256/s)
        (grad,) = torch.autograd.grad(level[0, :, cell, cell].sum(), x)
    weight = grad.abs().sum(dim=(0, 1, 2)).cpu()  # (256,): sensitivity per image column
    columns = torch.arange(256, dtype=torch.float32) + 0.5  # pixel centres
    return float((weight * columns).sum() / weight.sum())


# ---------------------------------------------------------------- where each operator reads


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def pool_cells(boxes: np.ndarray, stride: int) -> np.ndarray:
    """(K, 4) boxes in image pixels -> (K, 4) int first and last cells (x0, y0, x1, y1), inclusive.

    ROIPool's first quantisation: each edge, scaled to the feature map in float32, is
    rounded to the nearest cell (C's round: halves away from zero; edges are >= 0 here).
    """
    scaled = _f32(boxes) * np.float32(1.0 / stride)
    return np.floor(scaled.astype(np.float64) + 0.5).astype(np.int64)


def pool_box(boxes: np.ndarray, stride: int) -> np.ndarray:
    """The image region ROIPool actually pools: whole cells, the last one included."""
    cells = pool_cells(boxes, stride)
    return np.stack([cells[:, 0], cells[:, 1], cells[:, 2] + 1, cells[:, 3] + 1], axis=1) * float(stride)


def align_box(boxes: np.ndarray, stride: int, aligned: bool) -> np.ndarray:
    """The image region ROIAlign's bins tile: the box itself with `aligned`, else the box
    moved by half a cell right and down (and at least one cell wide)."""
    scaled = _f32(boxes) * np.float32(1.0 / stride) - np.float32(0.5 if aligned else 0.0)
    start, end = scaled[:, :2], scaled[:, 2:]
    size = end - start if aligned else np.maximum(end - start, np.float32(1.0))
    return np.concatenate([start, start + size], axis=1).astype(np.float64) * stride + stride / 2


@dataclass
class PoolGeometry:
    cells: tuple[int, int, int, int]  # first and last cells, inclusive
    box: tuple[float, float, float, float]  # the quantised region, image pixels
    bins: np.ndarray  # (out, out, 4) each bin's cells as image pixels; bins may overlap
    empty: np.ndarray  # (out, out) bool: bins with no cell (torchvision outputs 0 there)


def pool_geometry(box: tuple[float, float, float, float], stride: int, output: int,
                  feature_size: tuple[int, int]) -> PoolGeometry:
    """ROIPool's second quantisation: the rounded region split into `output` bins whose
    edges are again rounded outwards to whole cells (floor of the start, ceil of the end)."""
    cells = pool_cells(np.array([box]), stride)[0]
    width, height = feature_size
    x0, y0, x1, y1 = (int(v) for v in cells)
    bin_w = np.float32(max(x1 - x0 + 1, 1)) / np.float32(output)
    bin_h = np.float32(max(y1 - y0 + 1, 1)) / np.float32(output)
    steps = np.arange(output, dtype=np.float32)
    xs = np.clip(np.floor(steps * bin_w).astype(int) + x0, 0, width)
    xe = np.clip(np.ceil((steps + 1) * bin_w).astype(int) + x0, 0, width)
    ys = np.clip(np.floor(steps * bin_h).astype(int) + y0, 0, height)
    ye = np.clip(np.ceil((steps + 1) * bin_h).astype(int) + y0, 0, height)
    bins = np.zeros((output, output, 4))
    bins[..., 0], bins[..., 2] = xs[None, :], xe[None, :]  # rows are y, columns are x
    bins[..., 1], bins[..., 3] = ys[:, None], ye[:, None]
    empty = (bins[..., 2] <= bins[..., 0]) | (bins[..., 3] <= bins[..., 1])
    quantised = tuple(float(v) for v in pool_box(np.array([box]), stride)[0])
    return PoolGeometry((x0, y0, x1, y1), quantised, bins * stride, empty)  # type: ignore[arg-type]


@dataclass
class AlignGeometry:
    box: tuple[float, float, float, float]  # the region the bins tile, image pixels
    bins: np.ndarray  # (out, out, 4) image pixels
    points: np.ndarray  # (out, out, gh * gw, 2) bilinear sample points (x, y), image pixels
    points_feature: np.ndarray  # the same points in feature coordinates (cell j at u = j)
    grid: tuple[int, int]  # sample points per bin, (gh, gw)


def align_geometry(box: tuple[float, float, float, float], stride: int, output: int, sampling_ratio: int,
                   aligned: bool) -> AlignGeometry:
    """ROIAlign's bins and sample points: no rounding anywhere, `sampling_ratio`² points per bin
    (adaptive when 0: ceil(region size / output) per side), each read by bilinear interpolation."""
    offset = np.float32(0.5 if aligned else 0.0)
    x1, y1, x2, y2 = _f32(box) * np.float32(1.0 / stride)
    start = np.array([x1 - offset, y1 - offset], dtype=np.float32)
    size = np.array([x2 - offset, y2 - offset], dtype=np.float32) - start
    if not aligned:
        size = np.maximum(size, np.float32(1.0))  # the legacy kernel forces at least one cell
    bin_size = size / np.float32(output)
    grid = [sampling_ratio if sampling_ratio > 0 else math.ceil(float(s) / output) for s in size]
    gw, gh = grid
    steps = np.arange(output, dtype=np.float32)
    # Sample coordinates along each axis, (out, g): bin start plus (i + 1/2) / g of a bin.
    ux = start[0] + steps[:, None] * bin_size[0] + (np.arange(gw, dtype=np.float32) + 0.5) * bin_size[0] / gw
    uy = start[1] + steps[:, None] * bin_size[1] + (np.arange(gh, dtype=np.float32) + 0.5) * bin_size[1] / gh
    px = np.broadcast_to(ux[None, :, None, :], (output, output, gh, gw))  # (out_y, out_x, gh, gw)
    py = np.broadcast_to(uy[:, None, :, None], (output, output, gh, gw))
    feature_points = np.stack([px, py], axis=-1).reshape(output, output, gh * gw, 2)  # (out, out, n, 2)
    edges_x = (start[0] + np.arange(output + 1, dtype=np.float32) * bin_size[0]).astype(np.float64)
    edges_y = (start[1] + np.arange(output + 1, dtype=np.float32) * bin_size[1]).astype(np.float64)
    to_image = functools.partial(_feature_to_image, stride=stride)
    bins = np.zeros((output, output, 4))
    bins[..., 0], bins[..., 2] = to_image(edges_x[None, :-1]), to_image(edges_x[None, 1:])
    bins[..., 1], bins[..., 3] = to_image(edges_y[:-1, None]), to_image(edges_y[1:, None])
    region = tuple(float(v) for v in align_box(np.array([box]), stride, aligned)[0])
    return AlignGeometry(region, bins, to_image(feature_points.astype(np.float64)), feature_points,
                         (gh, gw))  # type: ignore[arg-type]


def _feature_to_image(u: np.ndarray, stride: int) -> np.ndarray:
    return (u + 0.5) * stride


# ---------------------------------------------------------------- pooling, shifting, localising


def pool_both(values: torch.Tensor, boxes: np.ndarray, stride: int, output: int, sampling_ratio: int,
              aligned: bool, batch: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's roi_pool and roi_align of (K, 4) image-pixel boxes: two (K, C, out, out)."""
    index = np.zeros(len(boxes)) if batch is None else batch
    rois = torch.from_numpy(np.column_stack([index, boxes])).float()  # (K, 5): batch index, x1, y1, x2, y2
    scale = 1.0 / stride
    pooled = roi_pool(values, rois, output, spatial_scale=scale)
    # torchvision reads sampling_ratio <= 0 as adaptive; 0 is how the UI says it.
    aligned_out = roi_align(values, rois, output, spatial_scale=scale, sampling_ratio=sampling_ratio,
                            aligned=aligned)
    return pooled, aligned_out


def shifts_for(box: tuple[float, float, float, float], stride: int, width: int) -> np.ndarray:
    """Horizontal shifts in image pixels: ±1 cell in steps of 1/64 cell, kept inside the image."""
    steps = np.arange(-64, 65) * (SWEEP_STEP * stride)  # (129,)
    return steps[(box[0] + steps >= 0) & (box[2] + steps <= width)]


def point_features(points: np.ndarray, stride: int, feature_size: tuple[int, int]) -> torch.Tensor:
    """One synthetic feature map per point: a Gaussian bump (sigma POINT_SIGMA cells) at that
    image position, sampled at the cell centres s·(j + ½). (K, 2) -> (K, 1, H, W)."""
    width, height = feature_size
    cx = (torch.arange(width, dtype=torch.float64) + 0.5) * stride  # (W,)
    cy = (torch.arange(height, dtype=torch.float64) + 0.5) * stride  # (H,)
    p = torch.from_numpy(np.asarray(points, dtype=np.float64))
    dx2 = (cx[None, None, :] - p[:, 0, None, None]) ** 2  # (K, 1, W)
    dy2 = (cy[None, :, None] - p[:, 1, None, None]) ** 2  # (K, H, 1)
    bump = torch.exp(-(dx2 + dy2) / (2 * (POINT_SIGMA * stride) ** 2))  # (K, H, W)
    return bump[:, None].float()


def peak_location(grids: torch.Tensor, sharpness: np.ndarray) -> np.ndarray:
    """(K, out, out) pooled grids -> (K, 2) peak positions (x, y) in bins, 0 to out.

    A soft-argmax on the log values: softmax(p · log v) weights every bin centre, which for a
    Gaussian bump is the centroid of the bump narrowed by √p. `sharpness` (K, 2) gives p per
    axis, chosen so the point is about one bin wide: the estimate then stays close to the
    truth without being cut off by the grid's edges, and it changes continuously with the
    values, so any jump in it comes from the pooling, not from this read-out.
    """
    k, out, _ = grids.shape
    logs = grids.double().clamp_min(1e-12).log()  # (K, out, out)
    centres = torch.arange(out, dtype=torch.float64) + 0.5
    found = []
    for axis, reduce in ((0, 1), (1, 2)):  # x: the marginal over rows; y: over columns
        p = torch.from_numpy(np.asarray(sharpness, dtype=np.float64)[:, axis]).view(k, 1, 1)
        weights = torch.softmax((p * logs).reshape(k, -1), dim=1).reshape(k, out, out)
        found.append((weights.sum(dim=reduce) * centres).sum(dim=1))
    return torch.stack(found, dim=1).numpy()


def localisation_errors(box: tuple[float, float, float, float], stride: int, output: int, sampling_ratio: int,
                        feature_size: tuple[int, int], shifts: np.ndarray) -> dict[str, np.ndarray]:
    """For each shift δ: a point feature at the region's centre + (δ, 0), the region moved by δ,
    pooled three ways; the grid's peak (`peak_location`), placed back in the requested region as a
    mask or keypoint head's output is, minus the true position. {method: (K, 2) errors in px}."""
    boxes = np.asarray(box, dtype=np.float64)[None] + np.outer(shifts, [1, 0, 1, 0])  # (K, 4)
    truth = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])  # (K, 2)
    maps = point_features(truth, stride, feature_size)  # (K, 1, H, W): map k holds point k
    batch = np.arange(len(boxes))
    pooled, legacy = pool_both(maps, boxes, stride, output, sampling_ratio, aligned=False, batch=batch)
    aligned = pool_both(maps, boxes, stride, output, sampling_ratio, aligned=True, batch=batch)[1]
    bin_size = np.column_stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]]) / output  # (K, 2)
    sharpness = np.maximum(1.0, (POINT_SIGMA * stride / bin_size) ** 2)  # the bump about one bin wide
    errors = {}
    for name, grids in zip(METHODS, (pooled, legacy, aligned), strict=True):
        found = boxes[:, :2] + peak_location(grids[:, 0], sharpness) * bin_size
        errors[name] = found - truth
    return errors


@dataclass
class Analysis:
    features: FeatureMap
    box: tuple[float, float, float, float]  # the requested region, working-image pixels
    output: int
    sampling_ratio: int
    aligned: bool
    pool: torch.Tensor  # (C, out, out) torchvision's roi_pool of the region
    align: torch.Tensor  # (C, out, out) torchvision's roi_align of the region
    pool_geometry: PoolGeometry
    align_geometry: AlignGeometry
    shifts: np.ndarray  # (K,) image pixels
    pool_sweep: torch.Tensor  # (K, C, out, out) at each shift
    align_sweep: torch.Tensor
    pool_boxes: np.ndarray  # (K, 4) the region each operator really pools, at each shift
    align_boxes: np.ndarray
    errors: dict[str, np.ndarray]  # METHODS -> (K, 2) point localisation errors, image pixels
    channel: int  # the channel shown: the one varying most inside the region
    seconds: float  # everything after the feature map

    @property
    def requested_boxes(self) -> np.ndarray:
        return np.asarray(self.box)[None] + np.outer(self.shifts, [1, 0, 1, 0])  # (K, 4)

    def centre_offsets(self, boxes: np.ndarray) -> np.ndarray:
        """(K,) horizontal offset of a box's centre from the requested region's, image pixels."""
        requested = self.requested_boxes
        return (boxes[:, 0] + boxes[:, 2]) / 2 - (requested[:, 0] + requested[:, 2]) / 2

    @property
    def probe(self) -> tuple[int, int]:
        """The bin whose value the shift plot follows (the middle one)."""
        return self.output // 2, self.output // 2

    def distinct_outputs(self, sweep: torch.Tensor) -> int:
        """How many different pooled outputs the sweep produced (steps + 1 for ROIPool)."""
        flat = sweep.reshape(len(sweep), -1)  # (K, C * out * out)
        return 1 + int((flat[1:] != flat[:-1]).any(dim=1).sum())

    def largest_jump(self, sweep: torch.Tensor) -> float:
        """The largest change of any pooled value between neighbouring shifts, over the range of values."""
        flat = sweep.reshape(len(sweep), -1)
        spread = float(flat.max() - flat.min()) or 1.0
        return float((flat[1:] - flat[:-1]).abs().max()) / spread if len(flat) > 1 else 0.0

    @functools.cached_property
    def steps(self) -> dict[str, float]:
        """The sweep in four numbers (computed once: the summary and the JSON both show them)."""
        return {"roi_pool_distinct_outputs": self.distinct_outputs(self.pool_sweep),
                "roi_align_distinct_outputs": self.distinct_outputs(self.align_sweep),
                "roi_pool_largest_jump": self.largest_jump(self.pool_sweep),
                "roi_align_largest_jump": self.largest_jump(self.align_sweep)}


@torch.inference_mode()
def analyse(features: FeatureMap, box: tuple[float, float, float, float], output: int = 7,
            sampling_ratio: int = 2, aligned: bool = True) -> Analysis:
    """Pool the region both ways, derive what each read, sweep sub-pixel shifts, localise a point."""
    t0 = time.perf_counter()
    stride = features.stride
    size = (features.values.shape[-1], features.values.shape[-2])  # feature map (width, height)
    shifts = shifts_for(box, stride, features.image_size[0])
    boxes = np.asarray(box, dtype=np.float64)[None] + np.outer(shifts, [1, 0, 1, 0])  # (K, 4)
    here = np.asarray([box], dtype=np.float64)
    pool, align = pool_both(features.values, here, stride, output, sampling_ratio, aligned)
    pool_sweep, align_sweep = pool_both(features.values, boxes, stride, output, sampling_ratio, aligned)
    spread = align[0].reshape(align.shape[1], -1).var(dim=1)  # (C,) variance over the bins
    return Analysis(
        features=features, box=box, output=output, sampling_ratio=sampling_ratio, aligned=aligned,
        pool=pool[0], align=align[0],
        pool_geometry=pool_geometry(box, stride, output, size),
        align_geometry=align_geometry(box, stride, output, sampling_ratio, aligned),
        shifts=shifts, pool_sweep=pool_sweep, align_sweep=align_sweep,
        pool_boxes=pool_box(boxes, stride), align_boxes=align_box(boxes, stride, aligned),
        errors=localisation_errors(box, stride, output, sampling_ratio, size, shifts),
        channel=int(spread.argmax()), seconds=time.perf_counter() - t0,
    )
