"""What a translation kept and what it changed: structure, texture, geometry, cycle.

All functions take images as float tensors (N, 3, H, W) in [0, 1] (or (3, H, W)) and
return one number per image, so callers can average or show them individually.

- Structure kept: edges at a *coarse* scale (Gaussian sigma 2 px before the gradient).
  Fine texture such as 8 px stripes is blurred away at that scale (to about 10 % of
  its contrast) while object outlines survive, so a texture-only change keeps a high
  score and a moved outline does not. Reported as an edge F-score with a 2 px
  tolerance and as SSIM between the two gradient-magnitude maps.
- Texture changed: distance between Gram matrices of a fixed fine-scale filter bank
  (colour, oriented Gabor filters at two periods), and between colour histograms.
- Geometry moved: object masks before and after, segmented against the known
  background of the generated scene, compared as IoU, centroid shift and
  `shape_change` (how far the mask moved from the source shape towards the target
  shape: 0 = shape kept, 1 = shape translated).
- Shape seen as the eye sees it: each object's fill ratio, the share of its bounding box
  its mask covers (a disc pi/4 ~ 0.785, an axis-aligned square 1.0), with each object
  cut at half its own contrast so that blur does not decide the shape.
- Objects displaced (the position pair): how far the objects' mask centroid moved
  against the shift a true translation needs, and what the output did instead; see
  `displacement`.
- Cycle error: mean absolute difference between x and G_BA(G_AB(x)).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

EDGE_SIGMA = 2.0  # px
EDGE_THRESHOLD = 0.03  # colour-gradient magnitude per px; a 0.25 step peaks near 0.05
EDGE_TOLERANCE = 2  # px
MASK_THRESHOLD = 0.12  # largest channel difference from the background


def _batch(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    return x[None] if x.dim() == 3 else x  # (3, H, W) -> (1, 3, H, W)


@functools.lru_cache(maxsize=8)  # a few fixed sigmas; built once, not per request
def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = int(math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur per channel with reflected borders, (N, C, H, W) -> same."""
    k = _gaussian_kernel(sigma)
    c, r = x.shape[1], k.numel() // 2
    # One depthwise kernel per channel: (C, 1, 1, K) along x, then (C, 1, K, 1) along y.
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def gradient_magnitude(images: torch.Tensor, sigma: float = EDGE_SIGMA) -> torch.Tensor:
    """Colour gradient magnitude at scale sigma, (N, H, W): sqrt of the sum over channels."""
    return _gradients(images, sigma)[0]


def _gradients(images: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(magnitude, summed gx, summed gy), each (N, H, W), of the blurred colour image."""
    x = blur(_batch(images), sigma)
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (x[..., 1:-1, 2:] - x[..., 1:-1, :-2]) / 2  # central differences, (N, 3, H, W)
    gy = (x[..., 2:, 1:-1] - x[..., :-2, 1:-1]) / 2
    # The direction comes from the channel sums, signed by the dominant channel's sign
    # conventions; it only picks which neighbours non-maximum suppression compares.
    return torch.sqrt((gx**2 + gy**2).sum(dim=1)), gx.sum(dim=1), gy.sum(dim=1)


def edge_map(
    images: torch.Tensor, sigma: float = EDGE_SIGMA, threshold: float = EDGE_THRESHOLD
) -> torch.Tensor:
    """Thin (Canny-style) coarse edges, (N, H, W) bool: strong gradient, maximal across the edge.

    Without thinning an edge is a band several pixels wide, and a shifted copy of an
    image would still overlap its own outlines.
    """
    return _thin_edges(*_gradients(images, sigma), threshold)


def _thin_edges(mag: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor, threshold: float) -> torch.Tensor:
    """Non-maximum suppression across the edge and a threshold, (N, H, W) bool; see `edge_map`."""
    # Quantise the gradient direction to 0, 45, 90, 135 degrees, (N, H, W) in {0..3}.
    angle = torch.atan2(gy, gx) % math.pi
    sector = torch.round(angle / (math.pi / 4)).long() % 4
    padded = F.pad(mag[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]  # (N, H+2, W+2)
    h, w = mag.shape[-2:]

    def shifted(dy: int, dx: int) -> torch.Tensor:
        return padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    keep = torch.zeros_like(mag, dtype=torch.bool)
    for k, (dy, dx) in enumerate([(0, 1), (1, 1), (1, 0), (1, -1)]):
        local_max = (mag >= shifted(dy, dx)) & (mag >= shifted(-dy, -dx))
        keep |= (sector == k) & local_max
    return keep & (mag > threshold)


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    m = mask.float()[:, None]  # (N, 1, H, W) for max_pool2d
    return F.max_pool2d(m, 2 * radius + 1, stride=1, padding=radius)[:, 0] > 0


def _edge_f(e_in: torch.Tensor, e_out: torch.Tensor, tolerance: int) -> torch.Tensor:
    """F-score of the output's edge map against the input's, within `tolerance` px, (N,).

    1 means every outline of the input is still there and nothing new was outlined;
    two maps without any edge agree perfectly (score 1).
    """
    n_in, n_out = e_in.flatten(1).sum(1).float(), e_out.flatten(1).sum(1).float()  # (N, H*W) -> (N,)
    precision = (e_out & _dilate(e_in, tolerance)).flatten(1).sum(1) / n_out.clamp(min=1)
    recall = (e_in & _dilate(e_out, tolerance)).flatten(1).sum(1) / n_in.clamp(min=1)
    f = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    return torch.where((n_in == 0) & (n_out == 0), torch.ones_like(f), f)


def _ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two gradient-magnitude maps (N, H, W), (N,)."""
    a, b = a[:, None], b[:, None]  # (N, 1, H, W)
    # Constants as in SSIM, for a dynamic range of ~0.1 (the largest gradients seen here).
    c1, c2 = (0.01 * 0.1) ** 2, (0.03 * 0.1) ** 2
    mu_a, mu_b = blur(a, 1.5), blur(b, 1.5)
    var_a = blur(a * a, 1.5) - mu_a**2
    var_b = blur(b * b, 1.5) - mu_b**2
    cov = blur(a * b, 1.5) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim.flatten(1).mean(1)  # (N, 1, H, W) -> (N, H*W) -> (N,)


# ---------------------------------------------------------------- texture


def _filter_bank() -> torch.Tensor:
    """Fixed fine-scale filters for the luminance: Gabor pairs at 4 orientations, periods 4 and 8 px."""
    filters = []
    yy, xx = torch.meshgrid(torch.arange(-5, 6.0), torch.arange(-5, 6.0), indexing="ij")
    for period in (4.0, 8.0):
        envelope = torch.exp(-(xx**2 + yy**2) / (2 * (period / 2) ** 2))
        for k in range(4):
            theta = k * math.pi / 4
            u = math.cos(theta) * xx + math.sin(theta) * yy
            for wave in (torch.cos(2 * math.pi * u / period), torch.sin(2 * math.pi * u / period)):
                g = envelope * wave
                filters.append(g - g.mean())  # zero mean: flat regions give no response
    bank = torch.stack(filters)  # (16, 11, 11)
    return (bank / bank.flatten(1).norm(dim=1).view(-1, 1, 1))[:, None]  # (16, 1, 11, 11)


_BANK = _filter_bank()


def texture_features(images: torch.Tensor) -> torch.Tensor:
    """Per-pixel features (N, 19, H*W): the 3 colour channels and 16 Gabor responses."""
    x = _batch(images)
    luminance = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]  # (N, 1, H, W)
    responses = F.conv2d(F.pad(luminance, (5, 5, 5, 5), mode="reflect"), _BANK)  # (N, 16, H, W)
    return torch.cat([x, responses], dim=1).flatten(2)  # (N, 19, H*W)


def gram_distance(inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """||G_in - G_out|| / (||G_in|| + ||G_out||) for filter-bank Gram matrices, (N,) in [0, 1]."""
    n = _batch(inputs).shape[0]
    fa, fb = texture_features(torch.cat([_batch(inputs), _batch(outputs)])).split(n)  # one pass for both
    ga = fa @ fa.transpose(1, 2) / fa.shape[-1]  # (N, 19, 19)
    gb = fb @ fb.transpose(1, 2) / fb.shape[-1]
    num = (ga - gb).flatten(1).norm(dim=1)
    return num / (ga.flatten(1).norm(dim=1) + gb.flatten(1).norm(dim=1)).clamp(min=1e-12)


def histogram_distance(inputs: torch.Tensor, outputs: torch.Tensor, bins: int = 8) -> torch.Tensor:
    """Total-variation distance between joint RGB histograms (bins^3 cells), (N,) in [0, 1]."""

    def hist(x: torch.Tensor) -> torch.Tensor:
        q = (x.clamp(0, 1) * (bins - 1e-6)).long()  # (N, 3, H, W) bin indices
        cell = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]  # (N, H, W)
        counts = [torch.bincount(c.flatten(), minlength=bins**3) for c in cell]
        counts = torch.stack(counts).float()  # (N, bins^3)
        return counts / counts.sum(1, keepdim=True)

    return 0.5 * (hist(_batch(inputs)) - hist(_batch(outputs))).abs().sum(1)


# ---------------------------------------------------------------- geometry and cycle


def object_mask(image: np.ndarray, background: np.ndarray, threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """Pixels that differ from the scene's known background, (H, W) bool; images (H, W, 3)."""
    return np.abs(image - background).max(axis=-1) > threshold


def background_as_rendered(
    output: np.ndarray, background: np.ndarray, objects: np.ndarray, margin: int = 8
) -> np.ndarray:
    """The known background as the output renders it: a colour and gradient drift fitted out.

    A generator may tint the whole picture; that is a colour change, not a change of
    shape, and it must not make every pixel look like an object. So each output
    channel is fitted by least squares as an affine function of the three background
    channels and of x, y, on the pixels at least `margin` px away from any input
    object (far enough that a disc's square counterpart lies inside the excluded zone).
    An untouched image gets its background back exactly. Arrays (H, W, 3) / (H, W).
    """
    h, w = objects.shape
    near = F.max_pool2d(torch.from_numpy(objects.astype(np.float32))[None, None], 2 * margin + 1, 1, margin)
    far = ~(near[0, 0].numpy() > 0)  # (H, W) bool
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    design = np.concatenate(
        [np.ones((h, w, 1), np.float32), background, xx[..., None] / w, yy[..., None] / h], axis=-1
    )  # (H, W, 6)
    if far.sum() < design.shape[-1] * 4:
        return background  # too little background left to fit anything
    coef, *_ = np.linalg.lstsq(design[far], output[far], rcond=None)  # (6, 3)
    fitted = design.reshape(-1, 6) @ coef  # (H*W, 6) @ (6, 3) -> (H*W, 3)
    return fitted.reshape(h, w, 3).astype(np.float32)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def shape_change(source: np.ndarray, output: np.ndarray, target: np.ndarray) -> float:
    """How far the output's mask moved from the source shape to the target shape.

    (IoU(out, target) - IoU(source, target)) / (1 - IoU(source, target)): 0 when the
    output kept the source shape, 1 when it drew the target shape exactly, negative
    when it strayed from both (e.g. everything marked as object). NaN when source and
    target share their shape (nothing to move).
    """
    base = mask_iou(source, target)
    if base >= 1.0:
        return float("nan")
    return (mask_iou(output, target) - base) / (1.0 - base)


def centroid_shift(source: np.ndarray, output: np.ndarray, boxes: np.ndarray) -> float:
    """Mean distance (px) between each object's mask centroid before and after."""
    shifts = []
    for y0, x0, y1, x1 in boxes:
        before, after = source[y0:y1, x0:x1], output[y0:y1, x0:x1]
        if not before.any() or not after.any():
            continue  # an object that vanished has no centroid; IoU reports the loss
        cb = np.argwhere(before).mean(0)
        ca = np.argwhere(after).mean(0)
        shifts.append(float(np.hypot(*(cb - ca))))
    return float(np.mean(shifts)) if shifts else float("nan")


def fill_ratios(mask: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per object, the share of its mask's tight bounding box the mask covers, (K,).

    Each object is the part of `mask` (H, W) bool inside its box (y0, x0, y1, x1), which
    holds one object (the generator keeps 4 px between objects). A disc scores pi/4,
    a square 1, and a square with rounded corners in between; NaN where nothing is left.
    """
    ratios = []
    for y0, x0, y1, x1 in boxes:
        ys, xs = np.nonzero(mask[y0:y1, x0:x1])
        if ys.size == 0:
            ratios.append(float("nan"))
            continue
        box_area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        ratios.append(ys.size / box_area)
    return np.asarray(ratios, np.float64)


def object_fill_ratios(image: np.ndarray, background: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """`fill_ratios` of each object segmented at half its own contrast, (K,).

    A generator's objects are blurred, so a fixed threshold decides their shape: a low
    one takes the blur's halo in and squares everything, a high one erodes corners and
    rounds everything. Each object is cut instead where its difference from the
    background (largest channel) falls to half of its peak (the 95th percentile in its
    box), the usual contour of a blurred blob (as a full width at half maximum).
    Images (H, W, 3) in [0, 1]; `background` as the image renders it.
    """
    difference = np.abs(image - background).max(axis=-1)  # (H, W)
    mask = np.zeros(difference.shape, bool)
    for y0, x0, y1, x1 in boxes:
        patch = difference[y0:y1, x0:x1]
        if patch.size:
            mask[y0:y1, x0:x1] = patch > 0.5 * np.percentile(patch, 95)
    return fill_ratios(mask, boxes)


# ---------------------------------------------------------------- displacement

MOVE_CLASSES = ("translate", "smear", "leave in place", "erase-and-paint", "erase")
SHARE = 0.5  # "most of": the threshold of every share below
COLOUR_MATCH = 0.15  # mean |difference| in [0, 1] units for "the same object, moved"
FOOTPRINT_MARGIN = 3  # px around a footprint still counted as the footprint


@dataclass
class Displacement:
    """What an output did with the input's objects, given where a true translation puts them.

    Shares are of the input's object area, footprints are the input's object pixels
    (source) and the same pixels moved by the needed shift (target):

    - kept: share of the source footprint still object in the output;
    - arrived: share of the target footprint that is object in the output;
    - painted: object pixels outside the source footprint (+3 px), as a share;
    - in_transit: object pixels strictly between the two footprints (the band the objects
      sweep on their way, less both footprints), as a share;
    - colour_error: mean |output at the target - input at the source|, pixel by pixel;
    - shift_px: how far the output's object centroid moved from the input's, along the
      needed direction; needed_px: the length of the needed shift; ratio = shift / needed.

    `kind` is the first that applies, in this order: "translate" (arrived and kept less
    than half, with the input's colours: colour_error <= 0.15); "smear" (half or more in
    transit); "leave in place" (half or more kept); "erase-and-paint" (the objects gone,
    half their area or more painted elsewhere, but not a faithful move); "erase" (gone,
    nothing in their place).
    """

    kept: float
    arrived: float
    painted: float
    in_transit: float
    colour_error: float
    shift_px: float
    needed_px: float
    ratio: float
    kind: str


def _moved(array: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """A mask (H, W) or image (H, W, 3) moved by (dy, dx) px; what leaves is dropped, nothing wraps."""
    h, w = array.shape[:2]
    out = np.zeros_like(array)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = array[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    return _dilate(torch.from_numpy(mask)[None], radius)[0].numpy()


def displacement(
    source: np.ndarray, output: np.ndarray, background: np.ndarray, offset: tuple[int, int]
) -> Displacement:
    """Measure how an output moved the objects of `source` against the needed `offset` (dy, dx).

    Images (H, W, 3) in [0, 1]; `background` is the scene's known background. The
    output's objects are segmented against that background as the output renders it
    (a tint is fitted out away from both footprints), like every other mask here.
    """
    dy, dx = (int(v) for v in offset)
    src = object_mask(source, background)
    tgt = _moved(src, dy, dx)
    out = object_mask(output, background_as_rendered(output, background, src | tgt))
    area = max(int(src.sum()), 1)
    near_src, near_tgt = _grow(src, FOOTPRINT_MARGIN), _grow(tgt, FOOTPRINT_MARGIN)
    steps = max(abs(dy), abs(dx))
    swept = np.zeros_like(src)
    for t in range(1, steps):  # every whole-pixel position between the two footprints
        swept |= _moved(src, round(dy * t / steps), round(dx * t / steps))
    corridor = swept & ~near_src & ~near_tgt

    kept = float((out & src).sum() / area)
    arrived = float((out & tgt).sum() / max(int(tgt.sum()), 1))
    painted = float((out & ~near_src).sum() / area)
    in_transit = float((out & corridor).sum() / area)
    # Output at each target pixel against the input at the pixel it should have come from.
    back = _moved(source, dy, dx)  # (H, W, 3)
    colour_error = float(np.abs(output - back)[tgt].mean()) if tgt.any() else float("nan")
    needed = math.hypot(dy, dx)
    if out.any() and src.any() and needed > 0:
        moved = np.argwhere(out).mean(0) - np.argwhere(src).mean(0)  # (2,) dy, dx of the centroid
        shift = float(moved @ np.array([dy, dx]) / needed)
    else:
        shift = float("nan")
    if arrived >= SHARE and kept < SHARE and colour_error <= COLOUR_MATCH:
        kind = "translate"
    elif in_transit >= SHARE:
        kind = "smear"
    elif kept >= SHARE:
        kind = "leave in place"
    elif painted >= SHARE:
        kind = "erase-and-paint"
    else:
        kind = "erase"
    ratio = shift / needed if needed > 0 else float("nan")
    return Displacement(kept, arrived, painted, in_transit, colour_error, shift, needed, ratio, kind)


def cycle_error(inputs: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference in [0, 1] units between x and its round trip, (N,)."""
    return (_batch(inputs) - _batch(reconstructions)).abs().flatten(1).mean(1)


def translation_metrics(inputs: torch.Tensor, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The image-only metrics (no masks needed), each (N,): usable on any photo pair."""
    return translation_metrics_and_edges(inputs, outputs)[0]


def translation_metrics_and_edges(
    inputs: torch.Tensor, outputs: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """`translation_metrics`, and the inputs' edge map (N, H, W) that the edge overlay draws.

    The coarse gradients of inputs and outputs are computed once, in one batch, and
    shared by the edge F-score, the gradient SSIM and the overlay (the same numbers as
    computing each on its own, at a third of the cost).
    """
    a, b = _batch(inputs), _batch(outputs)
    n = a.shape[0]
    mag, gx, gy = _gradients(torch.cat([a, b]), EDGE_SIGMA)  # (2N, H, W) each
    edges = _thin_edges(mag, gx, gy, EDGE_THRESHOLD)
    metrics = {
        "structure_edge_f": _edge_f(edges[:n], edges[n:], EDGE_TOLERANCE),
        "structure_grad_ssim": _ssim(mag[:n], mag[n:]),
        "texture_gram": gram_distance(a, b),
        "texture_hist": histogram_distance(a, b),
    }
    return metrics, edges[:n]
