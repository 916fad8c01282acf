"""Running the registered pose models on one image, with the evidence behind the answer.

Model code only: no Gradio. `estimate` is what the tab calls; `run` is the shared path
that evaluation and timing use too, so the numbers in the cards and the README come
from exactly the code that serves requests. All coordinates are input-image pixels
and keypoints are in COCO order.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image

from shared import acceleration
from shared import device as devices
from shared.loading import get_model
from shared.registry import get_spec

from . import registry  # noqa: F401  (registers the pose models that `estimate` serves)
from .data import NUM_KEYPOINTS, to_tensor
from .topdown import TopDownPose

DEMO = "pose"
BOX_THRESHOLD = 0.2  # top-down: detector boxes below this are not cropped at all


def _rescore(box_score: float, keypoint_scores: np.ndarray) -> float:
    """SimpleBaselines' person score: box confidence x mean of the confident keypoints."""
    confident = keypoint_scores[keypoint_scores > 0.2]
    return float(box_score * (confident.mean() if confident.size else 0.0))


@torch.inference_mode()
def run(model: torch.nn.Module, image: torch.Tensor, box_threshold: float = BOX_THRESHOLD,
        boxes: torch.Tensor | None = None) -> tuple[list[tuple[np.ndarray, float]], dict]:
    """People [(keypoints (17, 3) x, y, score, person score)] and evidence for one image (3, H, W).

    `boxes` (top-down only) replaces the detector with given xyxy boxes, to measure how
    much of the error is the detector's.
    """
    if isinstance(model, TopDownPose):
        if boxes is None:
            out = model(image, box_threshold=box_threshold)
        else:
            out = dict(boxes=boxes, box_scores=torch.ones(len(boxes)),
                       **model.keypoints_in_boxes(image, boxes.to(image.device)))
        kps = out["keypoints"].float().cpu().numpy()
        box_scores = out["box_scores"].float().cpu().numpy()
        people = [(kps[i], _rescore(box_scores[i], kps[i, :, 2])) for i in range(len(kps))]
        best = int(np.argmax([p[1] for p in people])) if people else None
        evidence = {
            "boxes": out["boxes"].float().cpu().numpy().round(1).tolist(),
            "box_scores": box_scores.round(4).tolist(),
            # One crop's heat-maps (17, 32, 24): the highest-scoring person's.
            "crop_index": best,
            "crop_region": None if best is None else out["regions"][best].float().cpu().numpy().tolist(),
            "crop_heatmaps": None if best is None else out["heatmaps"][best].float().cpu().numpy(),
        }
        return people, evidence
    if hasattr(model, "estimate_people"):  # bottom-up: ours and OpenPose
        out = model.estimate_people(image)
        heat = out["heatmaps"].float().cpu().numpy()
        paf = out["pafs"].float().cpu().numpy()
        h, w = paf.shape[-2:]
        evidence = {
            "heatmaps": heat,  # (17, h, w), COCO order
            "paf_magnitudes": np.linalg.norm(paf.reshape(-1, 2, h, w), axis=1),  # (2L, h, w) -> (L, h, w)
            # The maps cover this many input pixels (width, height) from the top-left corner.
            "map_extent": [w * out["map_stride"] / out["scale"], h * out["map_stride"] / out["scale"]],
        }
        return out["people"], evidence
    # torchvision's Keypoint R-CNN: keypoint scores are heat-map logits, squashed to (0, 1).
    out = model([image])[0]
    keep = out["labels"] == 1
    kps = out["keypoints"][keep].float().cpu().numpy()
    kps[..., 2] = torch.sigmoid(out["keypoints_scores"][keep].float()).cpu().numpy()
    scores = out["scores"][keep].float().cpu().numpy()
    people = [(kps[i], float(scores[i])) for i in range(len(kps))]
    return people, {"boxes": out["boxes"][keep].float().cpu().numpy().round(1).tolist(),
                    "box_scores": scores.round(4).tolist()}


def to_people(raw: list[tuple[np.ndarray, float]], keypoint_threshold: float,
              person_threshold: float) -> list[dict]:
    """JSON-ready people above `person_threshold`, best first; keypoints under
    `keypoint_threshold` become [0, 0, 0] (not found), as COCO's v=0."""
    people = []
    for kps, score in sorted(raw, key=lambda p: -p[1]):
        if score < person_threshold:
            continue
        found = kps[:, 2] >= max(keypoint_threshold, 1e-6)
        if not found.any():
            continue
        points = [[round(float(x), 1), round(float(y), 1), round(float(s), 3)] if ok else [0.0, 0.0, 0.0]
                  for (x, y, s), ok in zip(kps, found, strict=True)]
        assert len(points) == NUM_KEYPOINTS
        people.append({"keypoints": points, "score": round(float(score), 4)})
    return people


def estimate(method_name: str, pil_image: Image.Image, keypoint_threshold: float = 0.2,
             person_threshold: float = 0.2) -> dict:
    """Run pose model `method_name` on an RGB image.

    Returns {"method", "people": [{"keypoints": [[x, y, score] x 17], "score"}], "seconds",
    "device", "evidence"}; an image with nobody in it gives an empty list. `seconds` is the
    model's own time (network and grouping), not the transfer or the drawing.

    "evidence" is for plotting and holds numpy arrays (see `as_json` for a client's view):
    top-down: "boxes" (xyxy, input pixels), "box_scores", and the best person's
    "crop_heatmaps" (17, 32, 24) with its "crop_region" (cx, cy, w, h); bottom-up:
    "heatmaps" (17, h, w) and "paf_magnitudes" (19, h, w), covering "map_extent"
    (width, height) input pixels from the top-left corner.
    """
    spec = get_spec(method_name)
    if spec.demo != DEMO:
        raise KeyError(f"{method_name!r} is not a pose model.")
    model = get_model(method_name)
    served = acceleration.serve(method_name, model, spec.tier)  # the fastest path checked faithful here
    dev = next(model.parameters()).device
    image = to_tensor(pil_image).to(dev)
    with served.context():
        devices.synchronise(dev)
        t0 = time.perf_counter()
        raw, evidence = run(model, image, box_threshold=min(BOX_THRESHOLD, person_threshold))
        devices.synchronise(dev)
        seconds = time.perf_counter() - t0
    return {
        "method": method_name,
        "people": to_people(raw, keypoint_threshold, person_threshold),
        "seconds": round(seconds, 4),
        "device": devices.describe(),
        "acceleration": served.path,
        "evidence": evidence,
    }


def as_json(result: dict) -> dict:
    """`estimate`'s result without the arrays: what an API client receives."""
    evidence = result["evidence"]
    keep = {k: v for k, v in evidence.items() if k in ("boxes", "box_scores", "crop_region", "map_extent")}
    return {k: v for k, v in result.items() if k != "evidence"} | {"evidence": keep}
