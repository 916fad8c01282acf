"""Running the registered detectors on one image, and the anatomy of the loss.

Model code only: no Gradio. Boxes come back in the caller's image coordinates, and
each result records the seconds the model itself took (synchronised on CUDA).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import torch
from PIL import Image
from torchvision.ops import sigmoid_focal_loss

from demos.detection.data import make_scene, to_tensor
from demos.detection.losses import one_hot_targets
from demos.detection.model import forward_matched
from shared import device as devices
from shared.loading import get_model
from shared.registry import get_spec

EXAMPLE_NAME = re.compile(r"scene_(\d+)\.png$")  # generated examples carry their seed
ANATOMY_GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)  # the curves of the paper's Figure 1


@dataclass
class Detections:
    model: str
    boxes: list[list[float]]  # xyxy, input-image pixels
    labels: list[str]
    label_ids: list[int]
    scores: list[float]
    seconds: float

    def as_json(self) -> dict:
        return {
            "model": self.model,
            "seconds": round(self.seconds, 4),
            "detections": [
                {"box": [round(v, 1) for v in b], "label": lab, "score": round(s, 4)}
                for b, lab, s in zip(self.boxes, self.labels, self.scores, strict=True)
            ],
        }


def detect(name: str, image: Image.Image, score_threshold: float = 0.3, scale: float = 1.0) -> Detections:
    """Detections of model `name` on `image`; boxes multiplied by `scale` (to input pixels)."""
    spec = get_spec(name)
    model = get_model(name)
    dev = next(model.parameters()).device
    categories = spec.extra["categories"]
    x = to_tensor(image).to(dev)
    with torch.inference_mode(), devices.autocast(dev):
        devices.synchronise(dev)
        t0 = time.perf_counter()
        out = model([x])[0]
        devices.synchronise(dev)
        seconds = time.perf_counter() - t0
    keep = out["scores"] >= score_threshold
    boxes = (out["boxes"][keep].float() * scale).cpu().tolist()
    ids = out["labels"][keep].cpu().tolist()
    scores = out["scores"][keep].float().cpu().tolist()
    # torchvision's COCO models count labels from 1 with "__background__" at 0; ours from 0.
    labels = [categories[i] if 0 <= i < len(categories) else str(i) for i in ids]
    return Detections(name, boxes, labels, ids, scores, seconds)


@dataclass
class Anatomy:
    """Per-anchor classification losses of one image under CE and focal loss."""

    model: str
    truth: str  # where the labels came from
    num_anchors: int
    num_positive: int
    num_negative: int
    num_ignored: int
    p_t: torch.Tensor  # (A,) per valid anchor: geometric mean over classes of p_t
    ce: torch.Tensor  # (A,) per valid anchor: CE summed over classes
    negative: torch.Tensor  # (A,) bool per valid anchor: matched to background
    focal: dict[float, torch.Tensor] = field(default_factory=dict)  # gamma -> (A,)

    def share_from_easy(self, losses: torch.Tensor, threshold: float = 0.9) -> float:
        """Fraction of the total loss contributed by anchors with p_t above `threshold`."""
        return float(losses[self.p_t > threshold].sum() / losses.sum().clamp_min(1e-12))

    def share_from_easy_negatives(self, losses: torch.Tensor, threshold: float = 0.9) -> float:
        """Like `share_from_easy`, counting only background anchors."""
        easy = self.negative & (self.p_t > threshold)
        return float(losses[easy].sum() / losses.sum().clamp_min(1e-12))

    def as_json(self) -> dict:
        easy = int((self.p_t > 0.9).sum())
        return {
            "model": self.model,
            "labels_from": self.truth,
            "anchors": self.num_anchors,
            "positives": self.num_positive,
            "negatives": self.num_negative,
            "ignored": self.num_ignored,
            "foreground_to_background": f"1:{self.num_negative / max(1, self.num_positive):.0f}",
            "easy_anchors_p_t_over_0.9": easy,
            "ce_share_from_easy": round(self.share_from_easy(self.ce), 4),
            "focal_share_from_easy": {
                str(g): round(self.share_from_easy(v), 4) for g, v in self.focal.items()
            },
        }


def example_truth(path: str | None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Ground truth of a generated example scene, recognised by its file name."""
    match = EXAMPLE_NAME.search(str(path or ""))
    if match is None:
        return None
    _, boxes, labels = make_scene(int(match.group(1)))
    return boxes, labels


def anatomy(name: str, image: Image.Image, truth: tuple[torch.Tensor, torch.Tensor] | None,
            gammas: tuple[float, ...] = ANATOMY_GAMMAS) -> Anatomy:
    """How CE and focal loss spread over the anchors of `image` for bundled model `name`.

    Without ground truth (an uploaded image), the model's own confident detections
    (score >= 0.5) stand in for the labels; the result says so.
    """
    source = "the scene's annotations"
    if truth is None:
        found = detect(name, image, score_threshold=0.5)
        boxes = torch.tensor(found.boxes, dtype=torch.float32).reshape(-1, 4)  # (N, 4) xyxy
        labels = torch.tensor(found.label_ids, dtype=torch.int64)
        truth = (boxes, labels)
        source = "the model's own detections with score >= 0.5 (no annotations for this image)"
    return anatomy_of(get_model(name), image, truth, gammas, name=name, source=source)


def anatomy_of(model: torch.nn.Module, image: Image.Image, truth: tuple[torch.Tensor, torch.Tensor],
               gammas: tuple[float, ...] = ANATOMY_GAMMAS, name: str = "",
               source: str = "the scene's annotations") -> Anatomy:
    """Per-anchor CE and focal loss of `image` under `model`, labelled by `truth` (boxes, labels)."""
    dev = next(model.parameters()).device
    target = {"boxes": truth[0].to(dev), "labels": truth[1].to(dev)}
    logits, _, matched = forward_matched(model, to_tensor(image).to(dev), target)
    logits, matched = logits.float().cpu(), matched.cpu()
    targets = one_hot_targets(logits, matched, truth[1])  # (A, K) one-hot, zeros for background
    valid = matched != -2  # between the IoU thresholds: ignored by RetinaNet's loss
    logits, targets = logits[valid], targets[valid]
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (A, K)
    focal = {g: sigmoid_focal_loss(logits, targets, alpha=-1, gamma=g, reduction="none").sum(1)
             for g in gammas}
    return Anatomy(
        model=name, truth=source, num_anchors=int(matched.numel()),
        num_positive=int((matched >= 0).sum()), num_negative=int((matched == -1).sum()),
        num_ignored=int((matched == -2).sum()), p_t=torch.exp(-ce.mean(1)), ce=ce.sum(1),
        negative=matched[valid] == -1, focal=focal,
    )
