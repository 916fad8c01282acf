"""COCO AP with bootstrap replicates over scenes, and intervals that combine seeds and scenes.

pycocotools does the matching (COCOeval.evaluate: per image and class, which detection
matches which object at each IoU threshold). Which detection matches which object in
one image does not depend on the other images, so a bootstrap over scenes only has to
redo COCOeval.accumulate with scene weights: `ap_replicates` does that, vectorised, and
with unit weights gives pycocotools' own AP (tests/test_detection_experiment.py).

Two kinds of noise enter a cell's mean AP: the training seed, and the finite set of
val scenes every seed is scored on. `interval` adds the between-seed variance of the
mean to the scene-bootstrap variance and uses a t quantile with Welch–Satterthwaite
degrees of freedom.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import torch
from torchvision.ops import batched_nms, box_iou

BOOTSTRAP = 1000
BOOTSTRAP_SEED = 12345  # the same resamples for every run, so runs stay paired
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETS = 100


def class_agnostic(detections: list[dict], truths: list[dict]) -> tuple[list[dict], list[dict]]:
    """One class for all (the foreground/background question): every object is class 0, and
    duplicates of one detection under several labels are merged by NMS at IoU 0.5."""
    merged = []
    for d in detections:
        keep = batched_nms(torch.from_numpy(d["boxes"]), torch.from_numpy(d["scores"]),
                           torch.zeros(len(d["scores"]), dtype=torch.int64), 0.5).numpy()
        merged.append({"boxes": d["boxes"][keep], "scores": d["scores"][keep],
                       "labels": np.zeros(len(keep), dtype=np.int64)})
    objects = [{"boxes": t["boxes"], "labels": np.zeros_like(t["labels"])} for t in truths]
    return merged, objects


def _coco_eval(detections: list[dict], truths: list[dict], num_classes: int):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = [{"id": i, "width": 256, "height": 256} for i in range(len(truths))]
    anns, dets = [], []
    for i, (d, t) in enumerate(zip(detections, truths, strict=True)):
        for box, label in zip(t["boxes"].tolist(), t["labels"].tolist(), strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(label) + 1,
                         "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0})
        for box, score, label in zip(d["boxes"].tolist(), d["scores"].tolist(), d["labels"].tolist(),
                                     strict=True):
            dets.append({"image_id": i, "category_id": int(label) + 1, "score": float(score),
                         "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": k + 1} for k in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt.createIndex()
        dt = gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(gt, dt, "bbox")
        ev.params.areaRng, ev.params.areaRngLbl = [ev.params.areaRng[0]], ["all"]
        ev.evaluate()
    return ev


def ap_replicates(
    detections: list[dict], truths: list[dict], num_classes: int, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """AP, AP50 and AP75 for each row of `weights` (R, N): how often each of the N scenes
    appears in that replicate. A row of ones is the plain COCO AP."""
    ev = _coco_eval(detections, truths, num_classes)
    n = len(truths)
    r = weights.shape[0]
    per_class = np.full((r, num_classes, len(IOU_THRESHOLDS)), np.nan)  # (R, K, T)
    for k in range(num_classes):
        scores, matches, ignore, image, npig = [], [], [], [], np.zeros(n)
        for i in range(n):
            e = ev.evalImgs[k * n + i]  # evalImgs is ordered category, area, image
            if e is None:
                continue
            npig[i] = int((~np.asarray(e["gtIgnore"], dtype=bool)).sum())
            scores.append(np.asarray(e["dtScores"][:MAX_DETS]))
            matches.append(e["dtMatches"][:, :MAX_DETS])  # (T, D_i): matched object id or 0
            ignore.append(e["dtIgnore"][:, :MAX_DETS])
            image.append(np.full(len(scores[-1]), i))
        total_gt = weights @ npig  # (R,)
        if not scores or sum(len(x) for x in scores) == 0:
            per_class[:, k] = np.where(total_gt[:, None] > 0, 0.0, np.nan)
            continue
        score = np.concatenate(scores)
        order = np.argsort(-score, kind="mergesort")  # pycocotools' tie order
        tp = (np.concatenate(matches, axis=1) != 0)[:, order]  # (T, D)
        ig = np.concatenate(ignore, axis=1)[:, order].astype(bool)
        fp = ~tp & ~ig
        tp &= ~ig
        scene_of = np.concatenate(image)[order]
        for first in range(0, r, 64):  # blocks of replicates keep the (R, T, D) sums small
            block = slice(first, min(first + 64, r))
            w = weights[block][:, scene_of]  # (R_b, D): each detection counts as often as its scene
            tp_cum = np.cumsum(w[:, None, :] * tp[None], axis=2)  # (R_b, T, D)
            fp_cum = np.cumsum(w[:, None, :] * fp[None], axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                recall = tp_cum / total_gt[block, None, None]
                precision = np.nan_to_num(tp_cum / (tp_cum + fp_cum))
            envelope = np.maximum.accumulate(precision[..., ::-1], axis=2)[..., ::-1]
            last = recall.shape[2] - 1
            for j, rep in enumerate(range(block.start, block.stop)):
                if total_gt[rep] == 0:
                    continue  # no objects of this class in the replicate: left out, as pycocotools does
                for t in range(len(IOU_THRESHOLDS)):
                    q = np.searchsorted(recall[j, t], RECALL_THRESHOLDS, side="left")
                    values = np.where(q <= last, envelope[j, t][np.minimum(q, last)], 0.0)
                    per_class[rep, k, t] = values.mean()
    return {"AP": np.nanmean(per_class, axis=(1, 2)), "AP50": np.nanmean(per_class[:, :, 0], axis=1),
            "AP75": np.nanmean(per_class[:, :, 5], axis=1)}


def bootstrap_weights(n: int, replicates: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(replicates, n) resampling counts; row 0 is the original sample (all ones)."""
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(replicates)])
    return np.vstack([np.ones((1, n)), counts]).astype(np.float64)


def interval(points: list[float], replicates: list[np.ndarray], level: float = 0.95) -> dict[str, float]:
    """Mean over seeds with a CI combining seed and scene noise.

    points: each seed's AP on the full val set; replicates: each seed's bootstrap APs,
    all seeds on the same resamples (so their mean is the mean's scene noise).
    """
    from scipy import stats as st  # a development requirement: the report runs where the sweep does

    s = len(points)
    mean = float(np.mean(points))
    var_scene = float(np.var(np.mean(np.stack(replicates), axis=0), ddof=1))
    var_seed = float(np.var(points, ddof=1)) / s if s > 1 else 0.0
    se = math.sqrt(var_scene + var_seed)
    if s > 1 and var_seed > 0:
        df = (var_seed + var_scene) ** 2 / (var_seed**2 / (s - 1))  # Welch–Satterthwaite, scene df ≈ ∞
        q = float(st.t.ppf(0.5 + level / 2, df))
    else:
        q = float(st.norm.ppf(0.5 + level / 2))
    return {"mean": mean, "low": mean - q * se, "high": mean + q * se, "se": se, "seeds": s,
            "se_seed": math.sqrt(var_seed), "se_scene": math.sqrt(var_scene)}


def error_counts(
    detections: list[dict], truths: list[dict], num_classes: int, threshold: float = 0.3
) -> dict:
    """What the confident detections (score >= threshold) are: right, a duplicate, the wrong class
    on a real object, badly placed, or on background; and a gt-class x predicted-class matrix."""
    counts = {"correct": 0, "duplicate": 0, "wrong_class": 0, "poorly_localised": 0, "background": 0,
              "missed": 0}
    confusion = np.zeros((num_classes, num_classes), dtype=int)  # rows: true class, columns: predicted
    for d, t in zip(detections, truths, strict=True):
        keep = d["scores"] >= threshold
        boxes, labels = torch.from_numpy(d["boxes"][keep]), d["labels"][keep]
        gt_boxes, gt_labels = torch.from_numpy(t["boxes"]), t["labels"]
        found = np.zeros(len(gt_labels), dtype=bool)
        if len(gt_labels) == 0:
            counts["background"] += len(labels)
            continue
        iou = box_iou(boxes, gt_boxes).numpy() if len(labels) else np.zeros((0, len(gt_labels)))
        for j in np.argsort(-d["scores"][keep], kind="stable"):
            same = np.where(gt_labels == labels[j], iou[j], 0.0)
            best = int(np.argmax(iou[j]))
            if iou[j, best] >= 0.5:
                confusion[gt_labels[best], labels[j]] += 1
            if same.max() >= 0.5:
                g = int(np.argmax(same))
                counts["duplicate" if found[g] else "correct"] += 1
                found[g] = True
            elif iou[j].max() >= 0.5:
                counts["wrong_class"] += 1
            elif iou[j].max() >= 0.1:
                counts["poorly_localised"] += 1
            else:
                counts["background"] += 1
        counts["missed"] += int((~found).sum())
    return counts | {"confusion": confusion.tolist(), "score_threshold": threshold}


def evaluate_run(model: torch.nn.Module, cfg) -> dict:
    """A trained run's metrics on its eval split: class-agnostic and class-aware AP with
    bootstrap replicates (rounded), and what its confident detections are."""
    from .experiment import SceneCache, predict

    detections, truths = predict(model, SceneCache(cfg.eval_split, cfg.objects), cfg.eval_n)
    num_classes = model.head.classification_head.num_classes
    weights = bootstrap_weights(len(truths))
    out = {}
    for name, (d, t, k) in {"aware": (detections, truths, num_classes),
                            "agnostic": (*class_agnostic(detections, truths), 1)}.items():
        reps = ap_replicates(d, t, k, weights)
        out[name] = {m: round(float(v[0]), 5) for m, v in reps.items()}
        out[name]["bootstrap_AP"] = [round(float(v), 5) for v in reps["AP"][1:]]
    out["errors"] = error_counts(detections, truths, num_classes)
    out["scenes"] = len(truths)
    return out
