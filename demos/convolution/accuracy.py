"""Detector AP before and after compression, with a paired bootstrap over val scenes.

Model code only (no Gradio). The AP and its bootstrap replicates come from the detection
experiment's `demos.detection.stats` (pycocotools matches every scene once; a replicate only
re-weights scenes). Here both models are scored on the *same* resamples, so the interval of
their difference is much narrower than either model's own interval would suggest.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from demos.detection.data import SceneDataset, collate
from demos.detection.evaluate import CI_SUBSET
from demos.detection.stats import ap_replicates, bootstrap_weights, class_agnostic

SCORE_THRESHOLD = 0.05  # as demos.detection.evaluate, i.e. as the bundled cards report AP
RESAMPLES = 200


@functools.cache
def _val_scenes(n: int, start: int) -> tuple[torch.Tensor, tuple[dict, ...]]:
    """(n, 3, 256, 256) uint8 scenes and their objects, drawn once per process (drawing costs
    more than detecting)."""
    dataset = SceneDataset("val", n, start)
    images, targets = collate([dataset[i] for i in range(n)])
    truths = tuple({"boxes": t["boxes"].numpy(), "labels": t["labels"].numpy()} for t in targets)
    return (torch.stack(images) * 255).round().to(torch.uint8), truths  # exact: 8-bit pictures


def truths(n: int = CI_SUBSET["n"], start: int = CI_SUBSET["start"]) -> list[dict]:
    return list(_val_scenes(n, start)[1])


@torch.inference_mode()
def scene_detections(model: torch.nn.Module, n: int = CI_SUBSET["n"], start: int = CI_SUBSET["start"],
                     batch_size: int = 16) -> list[dict]:
    """Boxes, scores and labels (numpy) of `model` on val scenes [start, start + n)."""
    scenes = _val_scenes(n, start)[0]
    old, model.score_thresh = model.score_thresh, SCORE_THRESHOLD
    model.eval()
    dev = next(model.parameters()).device
    found = []
    try:
        for first in range(0, n, batch_size):
            batch = scenes[first:first + batch_size].float() / 255.0  # exactly what to_tensor makes
            for d in model(list(batch.to(dev))):
                found.append({k: d[k].float().cpu().numpy() if k != "labels" else d[k].cpu().numpy()
                              for k in ("boxes", "scores", "labels")})
    finally:
        model.score_thresh = old
    return found


def ap_samples(detections: list[dict], num_classes: int, agnostic: bool = False,
               resamples: int = RESAMPLES) -> np.ndarray:
    """(1 + resamples,) AP: over the scenes as they are, then over each bootstrap resample.

    The resamples are fixed (`bootstrap_weights`' seed), so two models' samples are paired.
    Class-agnostic: every object is one class and duplicates under several labels are merged
    (`demos.detection.stats.class_agnostic`), i.e. "is there an object here at all".
    """
    objects = truths(len(detections))
    if agnostic:
        detections, objects = class_agnostic(detections, objects)
        num_classes = 1
    weights = bootstrap_weights(len(objects), resamples)  # row 0: every scene once
    return ap_replicates(detections, objects, num_classes, weights)["AP"]


def paired_bootstrap(before: np.ndarray, after: np.ndarray) -> dict:
    """AP of both and 95 % intervals of each and of their difference, from `ap_samples` of each."""

    def interval(x: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(x[1:], [2.5, 97.5])]

    return {"before": round(float(before[0]), 4), "after": round(float(after[0]), 4),
            "change": round(float(after[0] - before[0]), 4), "before_ci": interval(before),
            "after_ci": interval(after), "change_ci": interval(after - before),
            "resamples": len(before) - 1, "scenes": len(truths())}
