"""COCO keypoint AP and inference time versus crowd size, for the pose models.

AP is pycocotools' own COCOeval with iouType "keypoints" (OKS with COCO's per-keypoint
sigmas), on generated val scenes whose ground truth is written in COCO's format.

    python -m demos.pose.evaluate [--n 300] [--repeats 10] [--plot docs/pose_time_vs_people.png]

prints the AP table of the bundled top-down and bottom-up checkpoints, then the time
per 256x256 image with 1, 2, 4, 8 and 16 people, and draws that as a PNG.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .data import IMAGE_SIZE, coco_dataset, make_scene, split_seed, to_tensor
from .inference import run
from .styles import image_id, make_styled_scene

CI_SUBSET = {"split": "val", "start": 0, "n": 40}  # re-checked by tests/test_pose.py
PEOPLE_COUNTS = (1, 2, 4, 8, 16)
TIMING_SIZE = 256
METRICS = ("AP", "AP50", "AP75", "AP_M", "AP_L", "AR")


def _coco_eval(gt: dict, detections: list[dict], iou_type: str) -> dict[str, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        if not detections:
            return dict.fromkeys(METRICS, 0.0)
        result = coco.loadRes(detections)
        ev = COCOeval(coco, result, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = [float(v) for v in ev.stats]  # -1: no objects of that size (e.g. no person over 96^2 px)
    if iou_type == "keypoints":  # stats: AP, AP50, AP75, APm, APl, AR, ...
        return dict(zip(METRICS, [round(v, 4) for v in s[:6]], strict=True))
    return {"AP": round(s[0], 4), "AP50": round(s[1], 4), "AP75": round(s[2], 4), "AR": round(s[8], 4)}


def scenes(data: str, split: str, n: int, start: int = 0) -> list[tuple[int, Image.Image, list[dict]]]:
    """(COCO image id, image, annotations) of scenes [start, start + n) of a split.

    data "plain": data.py's 128 px scenes (splits train, val, timing); "styled": styles.py's
    256 px scenes in random drawing styles (splits train, val, heldout_style, empty).
    """
    if data == "plain":
        return [(split_seed(split, i), *make_scene(split_seed(split, i))) for i in range(start, start + n)]
    if data == "styled":
        return [(image_id(split, i), *make_styled_scene(split, i)[:2]) for i in range(start, start + n)]
    raise ValueError(f"data must be 'plain' or 'styled', not {data!r}")


def ground_truth(found: list[tuple[int, Image.Image, list[dict]]]) -> dict:
    """The COCO person_keypoints dataset of `scenes`' output."""
    return coco_dataset((i, f"{i}.png", image.width, people) for i, image, people in found)


@torch.no_grad()
def oks_ap(model: torch.nn.Module, split: str = "val", n: int = 300, start: int = 0,
           gt_boxes: bool = False, data: str = "plain") -> dict[str, float]:
    """COCO keypoint AP over scenes [start, start + n); `gt_boxes` crops true boxes (top-down)."""
    val = scenes(data, split, n, start)
    gt = ground_truth(val)
    detections = []
    for seed, image, people in val:
        boxes = None
        if gt_boxes:
            boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (p["bbox"] for p in people)],
                                 dtype=torch.float32).reshape(-1, 4)  # (N, 4) xyxy
        found, _ = run(model, to_tensor(image), box_threshold=0.05, boxes=boxes)
        for kps, score in found:
            detections.append({"image_id": seed, "category_id": 1, "score": float(score),
                               "keypoints": [round(float(v), 2) for v in kps.reshape(-1)]})  # (17*3,)
    return _coco_eval(gt, detections, "keypoints")


@torch.no_grad()
def box_ap(detector: torch.nn.Module, split: str = "val", n: int = 300, start: int = 0,
           data: str = "plain") -> dict[str, float]:
    """COCO box AP of the person detector on the same scenes."""
    val = scenes(data, split, n, start)
    gt = ground_truth(val)
    detector.eval()
    detections = []
    for seed, image, _ in val:
        out = detector([to_tensor(image)])[0]
        for (x0, y0, x1, y1), s in zip(out["boxes"].tolist(), out["scores"].tolist(), strict=True):
            detections.append({"image_id": seed, "category_id": 1, "score": s,
                               "bbox": [x0, y0, x1 - x0, y1 - y0]})
    return _coco_eval(gt, detections, "bbox")


@torch.no_grad()
def timing_ms(model: torch.nn.Module, people: int, repeats: int = 10, scenes: int = 3,
              size: int = TIMING_SIZE) -> float:
    """Median milliseconds of `run` on size x size scenes with exactly `people` people."""
    images = [to_tensor(make_scene(split_seed("timing", people * 100 + i), size, people)[0])
              for i in range(scenes)]
    run(model, images[0])  # warm-up: first calls allocate
    times = []
    for r in range(repeats):
        image = images[r % scenes]
        t0 = time.perf_counter()
        run(model, image)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def time_vs_people(models: dict[str, torch.nn.Module], counts: tuple[int, ...] = PEOPLE_COUNTS,
                   repeats: int = 10) -> dict[str, list[float]]:
    """{name: [median ms for each count]}, plus how many people each method found."""
    return {name: [round(timing_ms(m, c, repeats), 1) for c in counts] for name, m in models.items()}


def draw_plot(table: dict[str, list[float]], counts: tuple[int, ...], path: Path, caption: str) -> None:
    """A small line chart (PIL only: no plotting dependency is needed for one PNG)."""
    width, height, left, bottom, top, right = 640, 400, 70, 60, 40, 150
    image = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(image)
    d.font = ImageFont.load_default(size=13)
    ymax = max(max(v) for v in table.values()) * 1.1
    x_of = {c: left + i * (width - left - right) / (len(counts) - 1) for i, c in enumerate(counts)}

    def y_of(ms: float) -> float:
        return height - bottom - ms / ymax * (height - bottom - top)

    d.line([left, top, left, height - bottom, width - right, height - bottom], fill="black")
    for tick in np.linspace(0, ymax, 6)[1:]:
        d.line([left - 4, y_of(tick), width - right, y_of(tick)], fill=(225, 225, 225))
        d.text((8, y_of(tick) - 6), f"{tick:.0f} ms", fill="black")
    for c, x in x_of.items():
        d.text((x - 4, height - bottom + 8), str(c), fill="black")
    d.text((left + 120, height - bottom + 28), "people in the 256x256 image", fill="black")
    d.text((left, 12), caption, fill="black")
    palette = [(214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189)]
    for i, (name, values) in enumerate(table.items()):
        points = [(x_of[c], y_of(v)) for c, v in zip(counts, values, strict=True)]
        d.line(points, fill=palette[i % 4], width=3)
        for x, y in points:
            d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=palette[i % 4])
        d.text((width - right + 10, top + 20 * i), name, fill=palette[i % 4])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def schedule_restarts(curve: list[dict], warmup: int) -> list[tuple[int, int]]:
    """Where a run was lengthened: (step it resumed at, the curve's next step) for each place the
    learning rate rose between two curve points after the warm-up. A run resumed with more
    `--steps` re-plans its cosine over the new total, so the rate jumps back up there."""
    return [(a["step"], b["step"]) for a, b in zip(curve, curve[1:], strict=False)
            if a["step"] > warmup and b["lr"] > a["lr"] * 1.01]


def write_card(path: Path, meta: dict) -> None:
    """A model card in Markdown: what was trained, how, and what it measured."""
    name = meta["model"]
    what = {
        "detector": "Person detector: the detection tab's compact RetinaNet (focal loss), one class, "
                    "128 px input, anchors for tall boxes. Stage one of the top-down method.",
        "topdown": "Top-down pose: the person detector, then a SimpleBaselines-style heat-map network "
                   "(residual backbone to stride 16, three deconvolutions, 17 heat-maps at 32x24) on a "
                   "64x48 crop of every detected person.",
        "bottomup": "Bottom-up pose: one U-shaped network on the whole image (letterboxed to its input size) "
                    "predicting 17 keypoint heat-maps and 19 part affinity fields at stride 4, then "
                    "OpenPose-style greedy grouping.",
    }[name]
    box = name == "detector"
    rows = "\n".join(f"| {k} | {'n/a' if v < 0 else f'{v:.3f}'} |" for k, v in meta.get("val", {}).items())
    extra = ""
    if "val_gt_boxes" in meta:
        extra = (f"\nWith ground-truth boxes instead of the detector's: AP {meta['val_gt_boxes']['AP']:.3f} "
                 "(the gap is the detector's share of the error).\n")
    timing = (f"- Inference: {meta['ms_256_4_people']} ms for a 256x256 image with 4 people "
              "(median, same machine).\n" if "ms_256_4_people" in meta else "")
    cut = (f" (a {meta['max_minutes']:g}-minute time budget ended it at step {meta['steps']} of "
           f"{meta['planned_steps']}; the cosine schedule decays over the budget)"
           if meta["steps"] < meta["planned_steps"] else "")
    lengthened = ""
    for resumed, seen in schedule_restarts(meta.get("curve", []), meta["warmup"]):
        lr_then = next(c["lr"] for c in meta["curve"] if c["step"] == seen)
        fresh = meta.get("init_from", {}).get("step") == resumed
        lengthened += (f"- Lengthened at step {resumed}: training resumed there with the cosine re-planned\n"
                       f"  over {meta['planned_steps']} steps, so the rate rose again (to {lr_then:.2g} by "
                       f"step {seen}): a warm restart"
                       + ("; the weights came from the bundled checkpoint and AdamW started with fresh\n"
                          "  moments, so the rate warmed up again first.\n" if fresh else ".\n"))
    kind = "box" if box else "keypoint"
    data_line = {
        "plain": "generated multi-person scenes (demos/pose/data.py), 128x128, 1-6 articulated figures in\n"
                 "  the COCO-17 keypoint layout with occlusion and clutter, one drawing style",
        "styled": "generated multi-person scenes in random drawing styles (demos/pose/styles.py),\n"
                  "  256x256, 1-6 figures 40-220 px tall in the COCO-17 layout: limb width, head size,\n"
                  "  colours, flat, hollow, striped or noisy fills, five kinds of background, clutter,\n"
                  "  occluders, noise, blur",
    }[meta.get("data", "plain")]
    val_scenes = f"{meta.get('data', 'plain')} val scenes 0..{meta.get('val_n', 0) - 1}"
    goals = ""
    if "goals" in meta:  # measured by goals.measure at export (goals.py imports this module)
        from .goals import format_report

        goals = "\n## Goals\n\n" + format_report(f"pose_{name}", meta["goals"]).split("\n", 2)[2] + "\n"
    if "input_size" in meta:
        data_line += f"; letterboxed to {meta['input_size']} px for the network"
    ci_range = f"{CI_SUBSET['start']}..{CI_SUBSET['start'] + CI_SUBSET['n'] - 1}"
    path.write_text(f"""# pose_{name}

{what}

- Data: {data_line}; train scenes {meta['data_seed']}.. in order.
- Parameters: {meta['parameters']:,}.
- Training: {meta['steps']} steps x batch {meta['batch_size']}{cut}, AdamW lr {meta['lr']} (warm-up
  {meta['warmup']}, cosine), weight decay {meta['weight_decay']}, grad-norm clip {meta['clip']},
  init seed {meta['seed']}; {meta['training_seconds'] / 60:.1f} min on {meta['machine']}.
{lengthened}{timing}
## Validation ({kind} AP by pycocotools COCOeval, {val_scenes})

| metric | value |
|---|---|
{rows}
{extra}
CI subset (val scenes {ci_range}): AP {meta['ci']['AP']:.4f}
(re-checked by tests/test_pose.py).
{goals}""")


def main(argv: list[str] | None = None) -> None:
    from demos.pose import registry
    from shared.loading import get_model

    parser = argparse.ArgumentParser(description="COCO keypoint AP and time versus people of the pose models")
    parser.add_argument("--n", type=int, default=300, help="val scenes for AP (0 skips AP)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--plot", type=Path, default=Path("docs/pose_time_vs_people.png"))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    models = {name: get_model(name) for name in registry.bundled_names()}
    if args.n:
        print(f"COCO keypoint AP (OKS), val scenes 0..{args.n - 1}, {IMAGE_SIZE}x{IMAGE_SIZE}")
        print(f"| model | {' | '.join(METRICS)} |\n|---|{'---|' * len(METRICS)}")
        for name, model in models.items():
            m = oks_ap(model, n=args.n)
            print(f"| {name} | " + " | ".join("n/a" if m[k] < 0 else f"{m[k]:.3f}" for k in METRICS) + " |")
    table = time_vs_people(models, repeats=args.repeats)
    print(f"\nmilliseconds per {TIMING_SIZE}x{TIMING_SIZE} image (median of {args.repeats}), "
          f"{torch.get_num_threads()} threads")
    print("| people | " + " | ".join(table) + " |\n|---|" + "---|" * len(table))
    for i, c in enumerate(PEOPLE_COUNTS):
        print(f"| {c} | " + " | ".join(f"{v[i]:.1f}" for v in table.values()) + " |")
    caption = f"Pose inference time vs people ({torch.get_num_threads()} CPU threads, median)"
    draw_plot(table, PEOPLE_COUNTS, args.plot, caption)
    print(f"\nwrote {args.plot}; {json.dumps(table)}")


if __name__ == "__main__":
    main()
