"""Top-down pose estimation: find each person, then find the keypoints inside each box.

Stage one is the detection tab's compact RetinaNet, rebuilt here with one class
(person) and anchors for tall boxes. Stage two is a SimpleBaselines-style network
(Xiao et al. 2018, arXiv:1804.06208): a small residual backbone down to stride 16,
three stride-2 deconvolutions back up, and a 1x1 layer giving one heat-map per
keypoint. Every detected box is cut out by an affine warp to a fixed 64x48 crop, and
all crops go through the network as one batch; so the cost of this stage grows with
the number of people in the image, which is the point the demo makes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from demos.detection.model import build_detector

from .data import FLIP_INDEX, NUM_KEYPOINTS

CROP_H, CROP_W = 64, 48  # SimpleBaselines' 256x192 aspect, at a quarter of the size
HEATMAP_STRIDE = 2  # heat-maps are 32x24: a cell is 2 crop pixels
BOX_PADDING = 1.25  # context around the box, as in SimpleBaselines
SIGMA = 1.25  # Gaussian of the target heat-maps, in heat-map cells

# The detection tab's architecture at 128 px, one class, anchors for standing people
# (torchvision's aspect ratio is height / width). Written out in full rather than
# derived from the detection tab's CONFIG, so that a later change there cannot
# silently change the architecture the bundled checkpoint was trained with.
DETECTOR_CONFIG: dict = {
    "num_classes": 1,
    "image_size": 128,
    "stage_channels": [16, 32, 64, 128],
    "fpn_channels": 64,
    "tower_depth": 2,
    "anchor_sizes": [[12, 17, 24], [34, 48, 68]],
    "aspect_ratios": [1.0, 2.0, 3.0],
    "prior_probability": 0.01,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.25, 0.25, 0.25],
    "score_thresh": 0.05,
    "nms_thresh": 0.6,  # people overlap more than the shapes of the detection scenes
    "detections_per_img": 30,
    "box_loss": "giou",
}


def build_person_detector(seed: int = 0) -> nn.Module:
    """The detection tab's RetinaNet with one class (person), trained with focal loss."""
    return build_detector("focal", num_classes=1, seed=seed, config=DETECTOR_CONFIG)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (1x1 where the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (
            nn.Identity() if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.bn2(self.conv2(y)) + self.short(x), inplace=True)


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class HeatmapNet(nn.Module):
    """Crop (N, 3, 64, 48) -> heat-maps (N, 17, 32, 24)."""

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 128), deconv: int = 48) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = conv_bn(3, w0, 2)  # 32x24
        self.layer1 = ResBlock(w0, w1, 2)  # 16x12
        self.layer2 = ResBlock(w1, w2, 2)  # 8x6
        self.layer3 = ResBlock(w2, w3, 2)  # 4x3
        ups: list[nn.Module] = []
        cin = w3
        for _ in range(3):  # 4x3 -> 8x6 -> 16x12 -> 32x24
            ups += [nn.ConvTranspose2d(cin, deconv, 4, 2, 1, bias=False), nn.BatchNorm2d(deconv),
                    nn.ReLU(True)]
            cin = deconv
        self.deconv = nn.Sequential(*ups)
        self.head = nn.Conv2d(deconv, NUM_KEYPOINTS, 1)
        nn.init.normal_(self.head.weight, std=0.001)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = (crops - self.mean) / self.std
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.head(self.deconv(x))


# ---------------------------------------------------------------- crops


def crop_regions(boxes: torch.Tensor, padding: float = BOX_PADDING) -> torch.Tensor:
    """xyxy boxes (N, 4) -> regions (N, 4) as (cx, cy, w, h) with the crop's 3:4 aspect."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    w, h = (boxes[:, 2] - boxes[:, 0]).clamp_min(1), (boxes[:, 3] - boxes[:, 1]).clamp_min(1)
    aspect = CROP_W / CROP_H
    # Grow the short side rather than squash the person: the net sees true proportions.
    h = torch.maximum(h, w / aspect)
    w = h * aspect
    return torch.stack([cx, cy, w * padding, h * padding], dim=1)


def crop(image: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Cut regions (N, 4) out of image (3, H, W) into crops (N, 3, CROP_H, CROP_W).

    Coordinates are continuous (pixel i spans [i, i + 1)), which matches
    grid_sample's align_corners=False: normalised -1 and 1 are the outer edges.
    """
    _, height, width = image.shape
    n = regions.shape[0]
    theta = torch.zeros(n, 2, 3, dtype=image.dtype, device=image.device)
    theta[:, 0, 0] = regions[:, 2] / width
    theta[:, 0, 2] = 2 * regions[:, 0] / width - 1
    theta[:, 1, 1] = regions[:, 3] / height
    theta[:, 1, 2] = 2 * regions[:, 1] / height - 1
    grid = F.affine_grid(theta, [n, 3, CROP_H, CROP_W], align_corners=False)  # (N, CROP_H, CROP_W, 2)
    batch = image.unsqueeze(0).expand(n, -1, -1, -1)  # one view per crop, no copy
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def image_to_heatmap(xy: torch.Tensor, regions: torch.Tensor, hm_hw: tuple[int, int]) -> torch.Tensor:
    """Image points (N, K, 2) -> heat-map cell coordinates (N, K, 2) of each region."""
    h, w = hm_hw
    origin = regions[:, None, :2] - regions[:, None, 2:] / 2  # (N, 1, 2) top-left of each region
    cell = regions[:, None, 2:] / regions.new_tensor([w, h])  # (N, 1, 2) size of a cell
    return (xy - origin) / cell - 0.5


def heatmap_to_image(uv: torch.Tensor, regions: torch.Tensor, hm_hw: tuple[int, int]) -> torch.Tensor:
    """The inverse of `image_to_heatmap`."""
    h, w = hm_hw
    origin = regions[:, None, :2] - regions[:, None, 2:] / 2
    cell = regions[:, None, 2:] / regions.new_tensor([w, h])
    return (uv + 0.5) * cell + origin


def gaussian_targets(uv: torch.Tensor, valid: torch.Tensor, hm_hw: tuple[int, int],
                     sigma: float = SIGMA) -> torch.Tensor:
    """Heat-map targets (N, K, h, w): a Gaussian at each valid point (N, K, 2), zeros elsewhere."""
    h, w = hm_hw
    ys = torch.arange(h, dtype=uv.dtype, device=uv.device).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=uv.dtype, device=uv.device).view(1, 1, 1, w)
    d2 = (xs - uv[..., 0, None, None]) ** 2 + (ys - uv[..., 1, None, None]) ** 2  # (N, K, h, w)
    return torch.exp(-d2 / (2 * sigma**2)) * valid[..., None, None].to(uv.dtype)


# ---------------------------------------------------------------- decoding


def refine(heatmaps: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-cell peak positions from integer peaks by a parabola through the log heat-map.

    For a Gaussian blob the log is a parabola, so the fit recovers the true centre
    (the idea of DARK, Zhang et al. 2020); the offset is clamped to half a cell.
    heatmaps (M, h, w); u, v (M,) integer peak columns and rows.
    """
    m, h, w = heatmaps.shape
    logs = heatmaps.clamp_min(1e-6).log()
    idx = torch.arange(m, device=heatmaps.device)

    def offset(prev: torch.Tensor, mid: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        curvature = prev - 2 * mid + nxt
        safe = torch.where(curvature < -1e-6, curvature, torch.full_like(curvature, -1e-6))
        return (-(nxt - prev) / (2 * safe)).clamp(-0.5, 0.5)

    ul, ur = (u - 1).clamp(0, w - 1), (u + 1).clamp(0, w - 1)
    vu, vd = (v - 1).clamp(0, h - 1), (v + 1).clamp(0, h - 1)
    mid = logs[idx, v, u]
    du = offset(logs[idx, v, ul], mid, logs[idx, v, ur]) * ((u > 0) & (u < w - 1))
    dv = offset(logs[idx, vu, u], mid, logs[idx, vd, u]) * ((v > 0) & (v < h - 1))
    return u.to(heatmaps.dtype) + du, v.to(heatmaps.dtype) + dv


def decode_heatmaps(heatmaps: torch.Tensor) -> torch.Tensor:
    """Heat-maps (N, K, h, w) -> (N, K, 3): sub-cell (u, v) of each map's maximum and its value."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n * k, h * w)  # (N*K, h*w): one row per map
    score, index = flat.max(dim=1)
    u, v = refine(heatmaps.reshape(n * k, h, w), index % w, index // w)
    return torch.stack([u, v, score], dim=1).reshape(n, k, 3)  # (N*K, 3) -> (N, K, 3)


class TopDownPose(nn.Module):
    """Person detector + heat-map network; one state dict (detector.*, keypoints.*)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.detector = build_person_detector(seed)
        self.keypoints = HeatmapNet()

    @torch.no_grad()
    def forward(self, image: torch.Tensor, box_threshold: float = 0.3, flip: bool = False) -> dict:
        """One image (3, H, W) in [0, 1] -> boxes (N, 4), box scores (N,), keypoints (N, 17, 3)
        in the image's pixels, and the crops' heat-maps (N, 17, 32, 24)."""
        found = self.detector([image])[0]
        keep = found["scores"] >= box_threshold
        boxes, scores = found["boxes"][keep], found["scores"][keep]
        return dict(boxes=boxes, box_scores=scores, **self.keypoints_in_boxes(image, boxes, flip))

    @torch.no_grad()
    def keypoints_in_boxes(self, image: torch.Tensor, boxes: torch.Tensor, flip: bool = False) -> dict:
        regions = crop_regions(boxes)
        if boxes.shape[0] == 0:
            return {"keypoints": torch.zeros(0, NUM_KEYPOINTS, 3), "heatmaps": torch.zeros(0, NUM_KEYPOINTS,
                    CROP_H // HEATMAP_STRIDE, CROP_W // HEATMAP_STRIDE), "regions": regions}
        crops = crop(image, regions)
        heatmaps = self.keypoints(crops)
        if flip:  # average with the mirrored crop's maps, left and right swapped back
            mirrored = self.keypoints(crops.flip(-1)).flip(-1)[:, list(FLIP_INDEX)]
            heatmaps = (heatmaps + mirrored) / 2
        peaks = decode_heatmaps(heatmaps)
        xy = heatmap_to_image(peaks[..., :2], regions, tuple(heatmaps.shape[-2:]))
        keypoints = torch.cat([xy, peaks[..., 2:].clamp(0, 1)], dim=-1)  # (N, 17, 3)
        return {"keypoints": keypoints, "heatmaps": heatmaps, "regions": regions}
