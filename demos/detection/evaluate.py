"""COCO-style evaluation of detection checkpoints on the synthetic val split.

AP is computed by torchmetrics' MeanAveragePrecision with the pycocotools backend,
i.e. the official COCO evaluation code, not a re-implementation. Usage:

    python -m demos.detection.evaluate checkpoints/detection_*.safetensors
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torchmetrics.detection import MeanAveragePrecision

from .data import SceneDataset, anchor_statistics, collate
from .model import load_checkpoint

METRIC_KEYS = {  # our name -> torchmetrics' name
    "AP": "map",
    "AP50": "map_50",
    "AP75": "map_75",
    "AP_small": "map_small",
    "AP_medium": "map_medium",
    "AP_large": "map_large",
}
# The fixed subset the bundled-checkpoint test re-evaluates; its AP is stored in the card.
CI_SUBSET = {"split": "val", "start": 0, "n": 48}


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    split: str = "val",
    n: int = 500,
    start: int = 0,
    score_threshold: float = 0.05,
    batch_size: int = 16,
) -> dict[str, float]:
    """COCO AP, AP50, AP75 and AP by object size over scenes [start, start + n) of a split.

    AP_large is -1 when the subset has no large (> 96^2 px) objects, as in pycocotools.
    """
    was_training, old_threshold = model.training, model.score_thresh
    model.eval()
    model.score_thresh = score_threshold
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="pycocotools")
    dataset = SceneDataset(split, n, start)
    for first in range(0, n, batch_size):
        images, targets = collate([dataset[i] for i in range(first, min(first + batch_size, n))])
        detections = model(images)
        metric.update(
            [{k: d[k] for k in ("boxes", "scores", "labels")} for d in detections],
            [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets],
        )
    result = metric.compute()
    model.train(was_training)
    model.score_thresh = old_threshold
    return {ours: round(float(result[theirs]), 4) for ours, theirs in METRIC_KEYS.items()}


def imbalance(model: torch.nn.Module, split: str = "val", n: int = 100, start: int = 0) -> dict[str, float]:
    """Foreground:background anchor statistics over n scenes, under the model's matcher."""
    dataset = SceneDataset(split, n, start)
    stats = [anchor_statistics(model, *dataset[i]) for i in range(n)]
    positives = sum(s["positives"] for s in stats)
    negatives = sum(s["negatives"] for s in stats)
    return {
        "images": n,
        "anchors_per_image": stats[0]["anchors"],
        "mean_positives": positives / n,
        "mean_negatives": negatives / n,
        "bg_per_fg_pooled": negatives / max(positives, 1),
        "bg_per_fg_median_image": statistics.median(s["bg_per_fg"] for s in stats),
        "bg_per_fg_min_image": min(s["bg_per_fg"] for s in stats),
        "bg_per_fg_max_image": max(s["bg_per_fg"] for s in stats),
        "negative_terms_per_positive": statistics.median(s["negative_terms_per_positive"] for s in stats),
    }


@torch.no_grad()
def inference_ms(model: torch.nn.Module, repeats: int = 20) -> float:
    """Median wall time of one 256x256 image through the whole detector."""
    model.eval()
    image = SceneDataset("val", 1)[0][0]
    model([image])  # warm-up: first call allocates
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model([image])
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


@torch.no_grad()
@torch.no_grad()
def val_predictions(model: torch.nn.Module, n: int) -> tuple[list[dict], list[dict]]:
    """Detections (score threshold 0.05) and ground truth of val scenes 0..n-1, as numpy dicts,
    the form pycocotools' matching in stats.py takes."""
    model.eval()
    model.score_thresh = 0.05
    dataset = SceneDataset("val", n)
    detections, truths = [], []
    for i in range(n):
        image, target = dataset[i]
        d = model([image])[0]
        detections.append({k: d[k].numpy() for k in ("boxes", "scores", "labels")})
        truths.append({k: target[k].numpy() for k in ("boxes", "labels")})
    return detections, truths


def error_profile(model: torch.nn.Module, n: int = 500) -> dict:
    """Class-agnostic AP and AP50, and what the confident detections are, on val scenes 0..n-1."""
    from .stats import ap_replicates, class_agnostic, error_counts

    detections, truths = val_predictions(model, n)
    agnostic = ap_replicates(*class_agnostic(detections, truths), 1, np.ones((1, n)))
    counts = error_counts(detections, truths, model.head.classification_head.num_classes)
    return {"AP": float(agnostic["AP"][0]), "AP50": float(agnostic["AP50"][0])} | counts


def _format(value: float) -> str:
    return "  n/a" if value < 0 else f"{value:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="COCO-style AP of detection checkpoints on the synthetic val split"
    )
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--n", type=int, default=500, help="val scenes to evaluate")
    parser.add_argument("--score-threshold", type=float, default=0.05)
    parser.add_argument("--imbalance-n", type=int, default=100, help="val scenes for the anchor statistic")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    header = (
        f"{'checkpoint':34s} {'loss':6s} " + " ".join(f"{k:>9s}" for k in METRIC_KEYS) + f" {'ms/img':>7s}"
    )
    # Threads matter: more threads than free cores makes each inference far slower, not faster.
    threads = torch.get_num_threads()
    print(f"val scenes 0..{args.n - 1}, score threshold {args.score_threshold}, {threads} torch threads")
    print(header)
    print("-" * len(header))
    model = None
    for path in args.checkpoints:
        model = load_checkpoint(path)
        metrics = evaluate(model, n=args.n, score_threshold=args.score_threshold)
        ms = inference_ms(model)
        loss = model.loss_name  # a first-format "ohem" checkpoint reads as SSD-style "hnm"
        print(
            f"{path.name:34s} {loss:6s} "
            + " ".join(f"{_format(metrics[k]):>9s}" for k in METRIC_KEYS)
            + f" {ms:7.1f}"
        )
    print("\nwhat the errors are (val scenes, score >= 0.3): class-agnostic AP asks only object or "
          "background; wrong class = a box on a real object with another label")
    print(f"{'checkpoint':34s} {'agn AP':>7s} {'agn AP50':>8s} {'correct':>8s} {'wrong cls':>9s} "
          f"{'duplicate':>9s} {'backgr.':>8s} {'missed':>7s}")
    for path in args.checkpoints:
        row = error_profile(load_checkpoint(path), args.n)
        print(f"{path.name:34s} {100 * row['AP']:7.1f} {100 * row['AP50']:8.1f} {row['correct']:8d} "
              f"{row['wrong_class']:9d} {row['duplicate']:9d} {row['background']:8d} {row['missed']:7d}")
    if model is not None:
        # Anchors and matcher are the same for every checkpoint; one suffices.
        stats = imbalance(model, n=args.imbalance_n)
        print(
            f"\nanchors per image {stats['anchors_per_image']}, foreground {stats['mean_positives']:.1f}, "
            f"background {stats['mean_negatives']:.0f} per image on average: fg:bg = "
            f"1:{stats['bg_per_fg_pooled']:.0f} pooled, "
            f"1:{stats['bg_per_fg_median_image']:.0f} median image, "
            f"1:{stats['bg_per_fg_min_image']:.0f} to 1:{stats['bg_per_fg_max_image']:.0f} across images "
            f"({stats['images']} val scenes); per binary classification term (anchor x class) "
            f"1:{stats['negative_terms_per_positive']:.0f} for the median image"
        )


if __name__ == "__main__":
    main()
