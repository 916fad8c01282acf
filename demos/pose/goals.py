"""The pose models against their goals: AP, counting people, empty scenes, unseen drawing styles.

    python -m demos.pose.goals [--n 200] [--empty 100] [--heldout 100] [--plain-n 300] [--json PATH]

For each bundled model it prints, beside each goal:

- keypoint AP (pycocotools' COCOeval, OKS) on the styled val scenes (256 px, styles.py)
  and, for comparison with the cards so far, on the plain 128 px val scenes (data.py);
- the share of styled val scenes (1-6 people) where the number of people found is
  right. Found people are those the tab shows at its default thresholds (person and
  keypoint score 0.2). A person counts as *must find* with at least 4 visible
  keypoints and as *may find* with any visible pixel, so a count is right when it lies
  between the must-find and the annotated number;
- the share of empty cluttered scenes where nobody is found;
- PCK@0.2 on the held-out style set: a visible keypoint is correct within 0.2 torso
  diameters (the longer shoulder-to-opposite-hip distance; 0.3 of the box height when
  those joints are not labelled) of the truth; each true person is matched to at most
  one found person, maximising correct keypoints (Hungarian assignment); unmatched
  people's keypoints count as wrong;
- AP and count error by crowd size on the styled val scenes (the accuracy half of
  "when does each method win"; the time half is evaluate.py's time-against-people).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .data import to_tensor
from .evaluate import _coco_eval, ground_truth, scenes
from .inference import run, to_people

GOALS = {"ap_styled": 0.6, "count_right": 0.9, "empty_nobody": 1.0, "pck_heldout": 0.8}
THRESHOLD = 0.2  # the tab's default person and keypoint score thresholds
MUST_FIND_VISIBLE = 4  # visible keypoints that make a person one a model must find
PCK_ALPHA = 0.2


def torso_diameter(keypoints: np.ndarray, bbox: list[float]) -> float:
    """PCK's unit for one true person, keypoints (17, 3) [x, y, v]."""
    pairs = [(5, 12), (6, 11)]  # left shoulder - right hip, right shoulder - left hip
    lengths = [float(np.hypot(*(keypoints[a, :2] - keypoints[b, :2]))) for a, b in pairs
               if keypoints[a, 2] > 0 and keypoints[b, 2] > 0]
    return max(lengths) if lengths else 0.3 * bbox[3]


def pck_counts(found: list[np.ndarray], truth: list[dict], alpha: float = PCK_ALPHA) -> tuple[int, int]:
    """(correct, total) visible keypoints of one scene; `found` are (17, 3) keypoints with
    score 0 where a keypoint was not found."""
    total = sum(int((p["keypoints"][:, 2] == 2).sum()) for p in truth)
    if not found or not truth:
        return 0, total
    correct = np.zeros((len(truth), len(found)), int)  # (true people, found people)
    for i, person in enumerate(truth):
        k, limit = person["keypoints"], alpha * torso_diameter(person["keypoints"], person["bbox"])
        visible = k[:, 2] == 2
        for j, guess in enumerate(found):
            near = np.hypot(*(guess[:, :2] - k[:, :2]).T) <= limit  # (17,)
            correct[i, j] = int((near & visible & (guess[:, 2] > 0)).sum())
    rows, cols = linear_sum_assignment(-correct)  # the matching with the most correct keypoints
    return int(correct[rows, cols].sum()), total


def _found(model: torch.nn.Module, image) -> tuple[list, list[np.ndarray]]:
    """All raw people (for AP) and the ones the tab shows (for counting and PCK).

    One run with the detector's box threshold at 0.05 serves both: a top-down person's
    score is its box score times its keypoints' mean, so any person shown at the 0.2
    threshold also had a box above the tab's 0.2 box threshold.
    """
    raw, _ = run(model, to_tensor(image), box_threshold=0.05)
    shown = to_people(raw, THRESHOLD, THRESHOLD)
    return raw, [np.asarray(p["keypoints"], np.float64) for p in shown]


@torch.no_grad()
def measure(model: torch.nn.Module, n: int = 200, empty: int = 100, heldout: int = 100,
            plain_n: int = 300) -> dict:
    """Every number the goals name, for one model."""
    result: dict = {}
    if plain_n:
        from .evaluate import oks_ap

        result["ap_plain"] = oks_ap(model, n=plain_n)["AP"]
    val = scenes("styled", "val", n)
    detections, rows = [], []
    for seed, image, people in val:
        raw, shown = _found(model, image)
        for kps, score in raw:
            detections.append({"image_id": seed, "category_id": 1, "score": float(score),
                               "keypoints": [round(float(v), 2) for v in kps.reshape(-1)]})  # (17*3,)
        must = sum(int((p["keypoints"][:, 2] == 2).sum()) >= MUST_FIND_VISIBLE for p in people)
        rows.append({"id": seed, "people": len(people), "must": must, "found": len(shown)})
    gt = ground_truth(val)
    result["ap_styled"] = _coco_eval(gt, detections, "keypoints")["AP"]
    for r in rows:
        r["right"] = r["must"] <= r["found"] <= r["people"]
    result["count_right"] = float(np.mean([r["right"] for r in rows]))
    by_crowd = {}
    for count in sorted({r["people"] for r in rows}):
        crowd = [r for r in rows if r["people"] == count]
        ids = {r["id"] for r in crowd}
        subset = {**gt, "images": [i for i in gt["images"] if i["id"] in ids],
                  "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}
        picked = [d for d in detections if d["image_id"] in ids]
        by_crowd[count] = {"scenes": len(crowd), "AP": _coco_eval(subset, picked, "keypoints")["AP"],
                           "count_right": round(float(np.mean([r["right"] for r in crowd])), 3),
                           "mean_count_error": round(float(np.mean([r["found"] - count for r in crowd])), 3)}
    result["by_crowd"] = by_crowd
    nobody = [len(_found(model, image)[1]) for _, image, _ in scenes("styled", "empty", empty)]
    result["empty_nobody"] = float(np.mean([k == 0 for k in nobody])) if nobody else float("nan")
    result["empty_mean_people"] = float(np.mean(nobody)) if nobody else float("nan")
    correct = total = 0
    for _, image, people in scenes("styled", "heldout_style", heldout):
        c, t = pck_counts(_found(model, image)[1], people)
        correct, total = correct + c, total + t
    result["pck_heldout"] = correct / max(total, 1)
    result["sizes"] = {"styled_val": n, "empty": empty, "heldout_style": heldout, "plain_val": plain_n}
    return result


def format_report(name: str, m: dict) -> str:
    """A Markdown table: measured value, goal, met or not; then the crowd-size table."""
    lines = [f"### {name}", "", "| measure | measured | goal | met |", "|---|---|---|---|"]
    labels = {"ap_styled": f"keypoint AP, styled val ({m['sizes']['styled_val']} scenes, 256 px)",
              "count_right": "people counted right (styled val, 1-6 people)",
              "empty_nobody": f"nobody found on empty cluttered scenes ({m['sizes']['empty']})",
              "pck_heldout": f"PCK@0.2, held-out styles ({m['sizes']['heldout_style']} scenes)"}
    if "ap_plain" in m:
        lines.append(f"| keypoint AP, plain val ({m['sizes']['plain_val']} scenes, 128 px) | "
                     f"{m['ap_plain']:.3f} | | |")
    for key, label in labels.items():
        lines.append(f"| {label} | {m[key]:.3f} | {'≥' if key != 'empty_nobody' else '='} "
                     f"{GOALS[key]:g} | {'yes' if m[key] >= GOALS[key] else 'no'} |")
    lines.append(f"| people found on an empty scene, mean | {m['empty_mean_people']:.2f} | 0 | |")
    lines += ["", "| people in the scene | scenes | AP | counted right | mean count error |",
              "|---|---|---|---|---|"]
    for count, row in m["by_crowd"].items():
        ap = "n/a" if row["AP"] < 0 else f"{row['AP']:.3f}"
        lines.append(f"| {count} | {row['scenes']} | {ap} | {row['count_right']:.2f} | "
                     f"{row['mean_count_error']:+.2f} |")
    return "\n".join(lines)


def each_bundled_model(measure_one: Callable[[torch.nn.Module], Any], report: Callable[[str, Any], str],
                       threads: int, json_path: Path | None, command: str, **record: Any) -> dict:
    """`measure_one` on every bundled pose model, each `report` printed as it finishes; with
    `json_path`, the results written there with the machine, the command and `record`."""
    from shared.device import machine_description
    from shared.loading import get_model

    from . import registry

    if threads > 0:
        torch.set_num_threads(threads)
    results = {}
    for name in registry.bundled_names():
        results[name] = measure_one(get_model(name))
        print(report(name, results[name]) + "\n", flush=True)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        full = {**record, "machine": machine_description(), "torch_threads": torch.get_num_threads(),
                "command": command, "models": results}
        json_path.write_text(json.dumps(full, indent=1) + "\n")
        print(f"wrote {json_path}")
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="The bundled pose models against their goals")
    parser.add_argument("--n", type=int, default=200, help="styled val scenes")
    parser.add_argument("--empty", type=int, default=100, help="empty cluttered scenes")
    parser.add_argument("--heldout", type=int, default=100, help="held-out style scenes")
    parser.add_argument("--plain-n", type=int, default=300, help="plain val scenes (0 skips)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    command = "python -m demos.pose.goals " + " ".join(sys.argv[1:] if argv is None else argv)
    return each_bundled_model(lambda m: measure(m, args.n, args.empty, args.heldout, args.plain_n),
                              format_report, args.threads, args.json, command, goals=GOALS)


if __name__ == "__main__":
    main()
