"""How much of the miscounting is a setting: the person threshold and the detector's NMS.

    python -m demos.pose.calibrate [--n 200] [--empty 100] [--json demos/pose/results/calibration.json]

The goals table (goals.py) counts people at the tab's defaults: person and keypoint score
0.2 and, for top-down, the person detector's NMS IoU threshold 0.6. Both are settings
chosen before the styled scenes existed. This ablation measures, on *tune* scenes that no
other measurement uses (styled val indices from 1,000 on and empty indices from 1,000 on;
the goals use val 0-199 and empty 0-99, training's own val 0-299), how the count and the
empty scenes move with them:

- both models: the share of scenes counted right, the mean count error and the share of
  empty scenes with nobody found, for person thresholds 0.1-0.6;
- top-down only: the same for NMS IoU thresholds 0.3-0.6.

It changes no default; the README reports what it found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from .data import to_tensor
from .evaluate import scenes
from .goals import MUST_FIND_VISIBLE, each_bundled_model
from .inference import run, to_people
from .topdown import TopDownPose

TUNE_START = 1000  # first scene index of the tune scenes, in the val and empty splits
PERSON_THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
NMS_THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
KEYPOINT_THRESHOLD = 0.2  # the tab's default, as in the goals


def topdown_people(model: TopDownPose, image: torch.Tensor, nms_thresholds: tuple[float, ...]) -> dict:
    """Raw people [(keypoints (17, 3), person score)] of one image at each NMS threshold, each
    from a full run of the served path with the detector's NMS set to it."""
    saved = model.detector.nms_thresh
    try:
        out = {}
        for t in nms_thresholds:
            model.detector.nms_thresh = t
            out[t] = run(model, image, box_threshold=0.05)[0]
        return out
    finally:
        model.detector.nms_thresh = saved


@torch.inference_mode()
def people_at(model: torch.nn.Module, image: torch.Tensor) -> dict:
    """{NMS threshold or None: raw people} for one image: top-down at each NMS threshold,
    bottom-up once (None)."""
    if isinstance(model, TopDownPose):
        return topdown_people(model, image, NMS_THRESHOLDS)
    return {None: run(model, image, box_threshold=0.05)[0]}


def _shown(raw: list, person_threshold: float) -> int:
    """How many people the tab would show of `raw` at this person threshold."""
    return len(to_people(raw, KEYPOINT_THRESHOLD, person_threshold))


def count_table(val_raw: list[tuple[dict, int, int]], empty_raw: list[dict]) -> list[dict]:
    """One row per (NMS threshold, person threshold): counted right, mean count error, empty
    scenes with nobody. `val_raw`: (people by NMS, must find, annotated) per scene."""
    rows = []
    for nms_t in val_raw[0][0]:
        for person_t in PERSON_THRESHOLDS:
            found = [(_shown(raw[nms_t], person_t), must, n) for raw, must, n in val_raw]
            rows.append({"nms": nms_t, "person_threshold": person_t,
                         "count_right": round(float(np.mean([m <= f <= n for f, m, n in found])), 3),
                         "mean_count_error": round(float(np.mean([f - n for f, _, n in found])), 3),
                         "empty_nobody": round(float(np.mean([_shown(raw[nms_t], person_t) == 0
                                                                  for raw in empty_raw])), 3)})
    return rows


def measure(model: torch.nn.Module, n: int = 200, empty: int = 100) -> list[dict]:
    val_raw = []
    for _, image, people in scenes("styled", "val", n, start=TUNE_START):
        must = sum(int((p["keypoints"][:, 2] == 2).sum()) >= MUST_FIND_VISIBLE for p in people)
        val_raw.append((people_at(model, to_tensor(image)), must, len(people)))
    empty_raw = [people_at(model, to_tensor(image)) for _, image, _ in scenes("styled", "empty", empty,
                                                                              start=TUNE_START)]
    return count_table(val_raw, empty_raw)


def format_rows(name: str, rows: list[dict]) -> str:
    lines = [f"### {name}", "", "| NMS IoU | person threshold | counted right | mean count error | "
             "empty: nobody |", "|---:|---:|---:|---:|---:|"]
    for r in rows:
        nms_t = "–" if r["nms"] is None else f"{r['nms']:g}"
        lines.append(f"| {nms_t} | {r['person_threshold']:g} | {r['count_right']:.3f} | "
                     f"{r['mean_count_error']:+.2f} | {r['empty_nobody']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Counting people against the person threshold and NMS")
    parser.add_argument("--n", type=int, default=200, help="styled tune scenes with 1-6 people")
    parser.add_argument("--empty", type=int, default=100, help="empty cluttered tune scenes")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    command = "python -m demos.pose.calibrate " + " ".join(sys.argv[1:] if argv is None else argv)
    sizes = {"styled_val": args.n, "empty": args.empty}
    return each_bundled_model(lambda m: measure(m, args.n, args.empty), format_rows, args.threads, args.json,
                              command, tune_start=TUNE_START, sizes=sizes)


if __name__ == "__main__":
    main()
