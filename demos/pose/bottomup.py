"""Bottom-up pose estimation: every keypoint of every person at once, then grouping.

One network looks at the whole image once and predicts, at stride 4, a heat-map per
keypoint type and a part affinity field (PAF) per limb: a 2D unit vector field that
points from a limb's first keypoint to its second wherever the limb lies (Cao et al.
2017, OpenPose, arXiv:1611.08050). Grouping then scores every candidate pair of
keypoints by the line integral of the field along the segment between them and
assembles people greedily, strongest connections first. The network's cost does not
depend on the number of people; only the cheap grouping does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import NUM_KEYPOINTS, SKELETON
from .topdown import ResBlock, conv_bn, refine

INPUT_SIZE = 128  # the network's working resolution (longer side, letterboxed)
STRIDE = 4
SIGMA = 1.0  # target Gaussian, in heat-map cells
PAF_WIDTH = 1.0  # half-width of a limb's field, in heat-map cells
# Limbs for the fields: COCO's 19 skeleton edges, each pointing away from the torso
# and listed torso first, so the greedy assembly grows people from their largest parts.
LIMBS = (
    (5, 6), (5, 11), (6, 12), (11, 12), (5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15),
    (12, 14), (14, 16), (5, 3), (6, 4), (3, 1), (4, 2), (1, 0), (2, 0), (1, 2),
)
assert {frozenset(limb) for limb in LIMBS} == {frozenset(limb) for limb in SKELETON}


class BottomUpNet(nn.Module):
    """Image (N, 3, 128, 128) -> heat-maps (N, 17, 32, 32) and PAFs (N, 2 * limbs, 32, 32).

    A small U-shaped net: down to stride 16 for context (people are up to 100 px
    tall), back up to stride 4 with skip connections for precise peaks.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 96), head: int = 48) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = nn.Sequential(conv_bn(3, w0, 2), conv_bn(w0, w1, 2))  # stride 4
        self.enc1 = ResBlock(w1, w1)
        self.enc2 = ResBlock(w1, w2, 2)  # stride 8
        self.enc3 = nn.Sequential(ResBlock(w2, w3, 2), ResBlock(w3, w3, dilation=2))  # stride 16
        self.lat2 = nn.Conv2d(w2, w3, 1)
        self.dec2 = conv_bn(w3, w2)
        self.lat1 = nn.Conv2d(w1, w2, 1)
        self.dec1 = conv_bn(w2, head)
        self.heat = nn.Sequential(conv_bn(head, head), nn.Conv2d(head, NUM_KEYPOINTS, 1))
        self.paf = nn.Sequential(conv_bn(head, head), nn.Conv2d(head, 2 * len(LIMBS), 1))
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (images - self.mean) / self.std
        c1 = self.enc1(self.stem(x))
        c2 = self.enc2(c1)
        c3 = self.enc3(c2)
        up = F.interpolate(c3, size=c2.shape[-2:], mode="nearest")
        d2 = self.dec2(up + self.lat2(c2))
        up = F.interpolate(d2, size=c1.shape[-2:], mode="nearest")
        d1 = self.dec1(up + self.lat1(c1))
        return self.heat(d1), self.paf(d1)


# ---------------------------------------------------------------- targets


def targets(keypoints: list[np.ndarray], hm_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Heat-map (17, s, s), PAF (2L, s, s) and PAF weight (L, s, s) targets of one image.

    keypoints: per person (17, 3) [x, y, v] already in heat-map cells. Heat-maps take the
    maximum over people; where limbs of several people overlap, the field is their
    average, as in OpenPose.
    """
    s = hm_size
    ys, xs = np.mgrid[0:s, 0:s].astype(np.float32)
    heat = np.zeros((NUM_KEYPOINTS, s, s), np.float32)
    paf = np.zeros((len(LIMBS), 2, s, s), np.float32)
    count = np.zeros((len(LIMBS), s, s), np.float32)
    for kps in keypoints:
        for j in np.nonzero(kps[:, 2] > 0)[0]:
            g = np.exp(-((xs - kps[j, 0]) ** 2 + (ys - kps[j, 1]) ** 2) / (2 * SIGMA**2))
            np.maximum(heat[j], g, out=heat[j])
        for li, (a, b) in enumerate(LIMBS):
            if kps[a, 2] <= 0 or kps[b, 2] <= 0:
                continue
            vec = kps[b, :2] - kps[a, :2]
            length = float(np.hypot(*vec))
            if length < 1e-3:
                continue
            unit = vec / length
            dx, dy = xs - kps[a, 0], ys - kps[a, 1]
            along = dx * unit[0] + dy * unit[1]
            across = np.abs(dx * unit[1] - dy * unit[0])
            on = (along >= -PAF_WIDTH) & (along <= length + PAF_WIDTH) & (across <= PAF_WIDTH)
            paf[li, 0][on] += unit[0]
            paf[li, 1][on] += unit[1]
            count[li][on] += 1
    paf /= np.maximum(count, 1)[:, None]
    return (torch.from_numpy(heat), torch.from_numpy(paf.reshape(2 * len(LIMBS), s, s)),  # (L, 2) -> 2L
            torch.from_numpy(count))


# ---------------------------------------------------------------- grouping


def find_peaks(heatmaps: torch.Tensor, threshold: float) -> list[np.ndarray]:
    """Local maxima (3x3) above `threshold` of each map (K, h, w): K arrays (n, 3) of u, v, score."""
    pooled = F.max_pool2d(heatmaps[None], 3, 1, 1)[0]
    is_peak = (heatmaps == pooled) & (heatmaps > threshold)
    peaks = []
    for k in range(heatmaps.shape[0]):
        v, u = torch.nonzero(is_peak[k], as_tuple=True)
        if v.numel() == 0:
            peaks.append(np.zeros((0, 3), np.float32))
            continue
        fu, fv = refine(heatmaps[k].expand(v.numel(), -1, -1), u, v)
        peaks.append(torch.stack([fu, fv, heatmaps[k, v, u]], 1).numpy())
    return peaks


def _connections(cand_a: np.ndarray, cand_b: np.ndarray, field: np.ndarray, max_dim: float,
                 samples: int, paf_threshold: float) -> list[tuple[int, int, float]]:
    """Accepted (i, j, score) pairs for one limb, strongest first, each keypoint used once."""
    if len(cand_a) == 0 or len(cand_b) == 0:
        return []
    h, w = field.shape[1:]
    vec = cand_b[None, :, :2] - cand_a[:, None, :2]  # (nA, nB, 2)
    norm = np.linalg.norm(vec, axis=-1) + 1e-6
    unit = vec / norm[..., None]
    t = np.linspace(0, 1, samples)[None, None, :, None]
    points = cand_a[:, None, None, :2] + t * vec[:, :, None, :]  # (nA, nB, samples, 2)
    px = np.clip(np.rint(points[..., 0]), 0, w - 1).astype(int)
    py = np.clip(np.rint(points[..., 1]), 0, h - 1).astype(int)
    along = field[0][py, px] * unit[..., None, 0] + field[1][py, px] * unit[..., None, 1]  # (nA, nB, S)
    # OpenPose's prior: limbs longer than half the image are penalised.
    score = along.mean(-1) + np.minimum(0.5 * max_dim / norm - 1, 0)
    ok = ((along > paf_threshold).mean(-1) > 0.8) & (score > 0)
    pairs = sorted(((i, j, float(score[i, j])) for i, j in zip(*np.nonzero(ok), strict=True)),
                   key=lambda c: -c[2])
    used_a, used_b, kept = set(), set(), []
    for i, j, s in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            kept.append((i, j, s))
    return kept


def group(peaks: list[np.ndarray], pafs: np.ndarray, limbs: tuple[tuple[int, int], ...],
          paf_channels: list[tuple[int, int]], min_parts: int = 3, samples: int = 10,
          paf_threshold: float = 0.05, seeding_limbs: int | None = None) -> list[tuple[np.ndarray, float]]:
    """Assemble people from keypoint peaks and PAFs (2L', h, w) in heat-map cells.

    peaks: per keypoint type, (n, 3) u, v, score. Returns (keypoints (K, 3), score)
    per person, with missing keypoints as zeros. The score is the sum of keypoint
    scores over K, so people with few parts rank low. Only the first `seeding_limbs`
    limbs may start a new person (OpenPose's last two limbs are redundant ones).
    """
    num_parts = len(peaks)
    max_dim = float(max(pafs.shape[1:]))
    people: list[dict] = []  # "parts": peak index per keypoint type (-1 none), "score"
    seeding = len(limbs) if seeding_limbs is None else seeding_limbs
    for k, ((a, b), (cx, cy)) in enumerate(zip(limbs, paf_channels, strict=True)):
        field = pafs[[cx, cy]]
        for i, j, s in _connections(peaks[a], peaks[b], field, max_dim, samples, paf_threshold):
            found = [p for p in people if p["parts"][a] == i or p["parts"][b] == j]
            if not found:
                if k < seeding:
                    parts = np.full(num_parts, -1)
                    parts[a], parts[b] = i, j
                    people.append({"parts": parts, "score": s})
            elif len(found) >= 2 and not ((found[0]["parts"] >= 0) & (found[1]["parts"] >= 0)).any():
                p, q = found[:2]  # two disjoint partial people joined by this limb: merge them
                p["parts"] = np.maximum(p["parts"], q["parts"])
                p["score"] += q["score"] + s
                people = [r for r in people if r is not q]
            else:
                p = found[0]
                if p["parts"][a] < 0:
                    p["parts"][a] = i
                if p["parts"][b] < 0:
                    p["parts"][b] = j
                p["score"] += s
    result = []
    for p in people:
        have = p["parts"] >= 0
        if have.sum() < min_parts:
            continue
        kps = np.zeros((num_parts, 3), np.float32)
        for k in np.nonzero(have)[0]:
            kps[k] = peaks[k][p["parts"][k]]
        result.append((kps, float(kps[:, 2].sum() / num_parts)))
    return sorted(result, key=lambda r: -r[1])


def letterbox(image: torch.Tensor, size: int = INPUT_SIZE) -> tuple[torch.Tensor, float]:
    """Resize (3, H, W) so the longer side is `size`, pad right/bottom; returns (image, scale)."""
    _, h, w = image.shape
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = F.interpolate(image[None], size=(nh, nw), mode="bilinear", align_corners=False,
                            antialias=True)[0]
    out = image.new_zeros(3, size, size)
    out[:, :nh, :nw] = resized
    return out, scale


class BottomUpPose(nn.Module):
    """The bottom-up net plus its grouping, for one image at a time."""

    def __init__(self, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.net = BottomUpNet()
        # The side the image is letterboxed to: the size the net was trained at (the
        # net itself is fully convolutional; its checkpoint's metadata records the size).
        self.input_size = input_size

    @torch.no_grad()
    def forward(self, image: torch.Tensor, peak_threshold: float = 0.1) -> dict:
        """One image (3, H, W) in [0, 1] -> people [(keypoints (17, 3) in image pixels, score)],
        plus the heat-maps (17, s, s) and PAFs (2L, s, s) for display, s = input_size / 4."""
        boxed, scale = letterbox(image, self.input_size)
        heat, paf = self.net(boxed[None])
        heat, paf = heat[0].float().cpu(), paf[0].float().cpu()
        peaks = find_peaks(heat, peak_threshold)
        channels = [(2 * i, 2 * i + 1) for i in range(len(LIMBS))]
        people = []
        for kps, score in group(peaks, paf.numpy(), LIMBS, channels):
            found = kps[:, 2] > 0
            kps[found, :2] = ((kps[found, :2] + 0.5) * STRIDE) / scale  # cells -> input pixels
            kps[:, 2] = np.clip(kps[:, 2], 0, 1)
            people.append((kps, score))
        return {"people": people, "heatmaps": heat, "pafs": paf, "scale": scale, "map_stride": STRIDE}

    estimate_people = forward  # the name the inference code looks for
