"""Running the registered detectors on one image, and scoring them against a scene's annotations.

Model code only: no Gradio. Boxes come back in the caller's image coordinates, and
each result records the seconds the model itself took (synchronised on CUDA).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import torch
from PIL import Image
from torchvision.ops import box_iou

from demos.detection.data import make_scene, to_tensor
from shared import acceleration
from shared import device as devices
from shared.loading import get_model
from shared.registry import get_spec

# Generated examples carry their seed, and the sweep's level when it has one: scene_<seed>[_<n>obj].png
EXAMPLE_NAME = re.compile(r"scene_(\d+)(?:_(\d)obj)?\.png$")


@dataclass
class Detections:
    model: str
    boxes: list[list[float]]  # xyxy, input-image pixels
    labels: list[str]
    label_ids: list[int]
    scores: list[float]
    seconds: float
    acceleration: str = ""  # the serving path (shared.acceleration)

    def as_json(self) -> dict:
        return {
            "model": self.model,
            "seconds": round(self.seconds, 4),
            "acceleration": self.acceleration,
            "detections": [
                {"box": [round(v, 1) for v in b], "label": lab, "score": round(s, 4)}
                for b, lab, s in zip(self.boxes, self.labels, self.scores, strict=True)
            ],
        }


def detect(name: str, image: Image.Image, score_threshold: float = 0.3, scale: float = 1.0) -> Detections:
    """Detections of model `name` on `image`; boxes multiplied by `scale` (to input pixels)."""
    spec = get_spec(name)
    model = get_model(name)
    served = acceleration.serve(name, model, spec.tier)  # the fastest path checked faithful here
    dev = next(model.parameters()).device
    categories = spec.extra["categories"]
    x = to_tensor(image).to(dev)
    with torch.inference_mode(), served.context():
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
    return Detections(name, boxes, labels, ids, scores, seconds, served.path)


def match_truth(found: Detections, boxes: torch.Tensor, labels: torch.Tensor) -> dict:
    """Each detection right or wrong against the scene's annotations (IoU >= 0.5, same class,
    each object matched once, highest score first), and the objects nobody found."""
    truth_boxes = boxes.reshape(-1, 4)  # (N, 4) xyxy, scene pixels
    correct = [False] * len(found.boxes)
    used = torch.zeros(len(labels), dtype=torch.bool)
    if len(found.boxes) and len(labels):
        iou = box_iou(torch.tensor(found.boxes, dtype=torch.float32).reshape(-1, 4), truth_boxes)  # (D, N)
        for d in sorted(range(len(found.boxes)), key=lambda i: -found.scores[i]):
            same = (labels == found.label_ids[d]) & ~used
            candidates = torch.where(same, iou[d], torch.zeros_like(iou[d]))
            best = int(candidates.argmax())
            if float(candidates[best]) >= 0.5:
                correct[d], used[best] = True, True
    return {"correct": correct, "missed": (~used).nonzero().squeeze(1).tolist(),
            "tp": sum(correct), "fp": len(correct) - sum(correct), "fn": int((~used).sum())}


def example_truth(
    path: str | None, image: Image.Image | None = None
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Ground truth of a generated example scene, recognised by its file name (scene_<seed>.png)
    and, when `image` is given, only if its pixels are that scene's (a renamed photo has none)."""
    match = EXAMPLE_NAME.search(str(path or ""))
    if match is None:
        return None
    objects = int(match.group(2)) if match.group(2) else None
    scene, boxes, labels = make_scene(int(match.group(1)), objects)
    if image is not None and (image.size != scene.size or image.convert("RGB").tobytes() != scene.tobytes()):
        return None
    return boxes, labels
