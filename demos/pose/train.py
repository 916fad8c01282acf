"""Train the pose models on generated scenes, resumably.

    python -m demos.pose.train --model detector|topdown|bottomup [--steps N] [--resume]

`detector` trains the person detector (the detection tab's RetinaNet, one class);
`topdown` trains the heat-map network on person crops cut from ground-truth boxes
with random jitter (detector errors, seen at training time), then bundles it with
the detector into one checkpoint; `bottomup` trains the heat-map + PAF network on
whole scenes. The data order is a pure function of the step and --data-seed, and the
learning rate a function of the step, so a resumed run continues exactly. State is
saved every --checkpoint-every steps as safetensors + JSON (nothing pickled); the
final weights go to <out>/pose_<model>.safetensors with a model card beside them.

`--data plain` (the default) trains on data.py's 128 px scenes in one drawing style;
`--data styled` on styles.py's 256 px scenes in random styles, with its own state
files (pose_<model>_styled_state.*) so the two never resume into each other. The
bottom-up net letterboxes scenes to `--input-size` (128 by default; its checkpoint
records the size, and inference runs at it). A styled run that finishes with an
evaluation also measures the goals (goals.py) and writes them, with the training
curve, to <results>/pose_<model>_styled.json.

`--init-from <checkpoint>` continues a finished run on a machine without its saved
state: the model's weights come from a bundled checkpoint (top-down's holds the
detector and the heat-map net), its step, time and curve from the run's results
file, and AdamW starts with fresh moments, so the rate warms up again over
--warmup steps before the cosine, re-planned over the new --steps, takes over.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from shared.device import code_version, machine_description
from shared.training_state import load_state, save_state, state_paths

from . import bottomup, topdown
from .data import FLIP_INDEX, make_scene, split_seed, to_tensor
from .styles import make_styled_scene

DATA = ("plain", "styled")
RESULTS = Path(__file__).resolve().parent / "results"

MODELS = ("detector", "topdown", "bottomup")
DEFAULTS = {  # steps, batch size, learning rate: sized for about 30 min on a third of a CPU core
    "detector": (3000, 8, 1e-3),
    "topdown": (3000, 32, 2e-3),
    "bottomup": (1500, 12, 2e-3),
}
MIN_AREA = 20  # people with fewer visible pixels are not training targets


def learning_rate(step: int, base: float, warmup: int, total: int, time_progress: float = 0.0) -> float:
    """Linear warm-up then cosine decay, over the steps or, when training has a time
    budget, over whichever of steps and time runs out first: on a shared CPU the step
    rate is unknown in advance, and a schedule cut off half-way leaves the rate high."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = max((step - warmup) / max(1, total - warmup), time_progress)
    return base * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


# The prefix of each model's weights inside a bundled checkpoint (`export` writes them).
BUNDLED_PREFIX = {"detector": "detector.", "topdown": "keypoints.", "bottomup": "net."}


def init_from(model: torch.nn.Module, name: str, checkpoint: Path, results: Path) -> tuple[int, float, list]:
    """Load `name`'s weights from a bundled checkpoint into `model`; return the finished run's
    (step, training seconds, curve) from its results file, so the new run continues its record."""
    from safetensors.torch import load_file

    prefix = BUNDLED_PREFIX[name]
    tensors = load_file(str(checkpoint))
    weights = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
    if not weights:
        raise SystemExit(f"{checkpoint} holds no {name} weights (keys starting {prefix!r})")
    model.load_state_dict(weights)
    if not results.is_file():
        raise SystemExit(f"{results} is missing: --init-from continues a run whose results file is here")
    record = json.loads(results.read_text())
    return int(record["steps"]), float(record["training_seconds"]), list(record.get("curve", []))


def rewarm(step: int, init_step: int, warmup: int) -> float:
    """The factor on the rate after --init-from: fresh Adam moments get a linear warm-up again."""
    return 1.0 if init_step < 0 else min(1.0, (step - init_step + 1) / max(1, warmup))


def train_scene(index: int, data: str = "plain") -> tuple:
    """Train scene `index` (image, annotations) of the plain or the styled data."""
    if data == "styled":
        return make_styled_scene("train", index)[:2]
    return make_scene(split_seed("train", index))


def _scenes(step: int, count: int, data_seed: int, data: str = "plain"):
    """The `count` train scenes of one step (scenes follow each other in order)."""
    first = data_seed + step * count
    for i in range(count):
        yield train_scene(first + i, data)


def detector_batch(step: int, batch_size: int, data_seed: int, data: str = "plain") -> tuple[list, list]:
    images, targets = [], []
    for image, people in _scenes(step, batch_size, data_seed, data):
        boxes = [[x, y, x + w, y + h] for p in people if p["area"] >= MIN_AREA and p["num_keypoints"] > 0
                 for x, y, w, h in [p["bbox"]]]
        images.append(to_tensor(image))
        box_tensor = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)  # (N, 4) xyxy
        targets.append({"boxes": box_tensor, "labels": torch.zeros(len(boxes), dtype=torch.int64)})
    return images, targets


def topdown_batch(step: int, batch_size: int, data_seed: int,
                  data: str = "plain") -> tuple[torch.Tensor, ...]:
    """Crops (B, 3, 64, 48), target heat-maps (B, 17, 32, 24) and per-keypoint weights (B, 17)."""
    rng = np.random.default_rng([data_seed, step])
    crops, heat, weight = [], [], []
    scene_step = step * max(1, batch_size // 3)  # about 3 usable people per scene
    while sum(c.shape[0] for c in crops) < batch_size:
        image, people = train_scene(data_seed + scene_step, data)
        scene_step += 1
        people = [p for p in people if p["area"] >= MIN_AREA and p["num_keypoints"] > 0]
        if not people:
            continue
        boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (p["bbox"] for p in people)],
                             dtype=torch.float32)  # (P, 4) xyxy
        regions = topdown.crop_regions(boxes)
        # Jitter like an imperfect detector: the box's centre and size move by ~10%.
        jitter = torch.from_numpy(rng.normal(0, 0.08, size=(len(people), 3))).float()
        regions[:, :2] += jitter[:, :2] * regions[:, 2:]
        regions[:, 2:] *= torch.exp(jitter[:, 2:3])
        kps = torch.from_numpy(np.stack([p["keypoints"] for p in people])).float()  # (P, 17, 3)
        tensor = to_tensor(image)
        if rng.random() < 0.5:  # mirror the scene: x -> W - x, left and right swap names
            tensor = tensor.flip(-1)
            kps[..., 0] = image.width - kps[..., 0]
            kps = kps[:, list(FLIP_INDEX)]
            regions[:, 0] = image.width - regions[:, 0]
        hm_hw = (topdown.CROP_H // topdown.HEATMAP_STRIDE, topdown.CROP_W // topdown.HEATMAP_STRIDE)
        uv = topdown.image_to_heatmap(kps[..., :2], regions, hm_hw)
        inside = (uv[..., 0] > -1) & (uv[..., 0] < hm_hw[1]) & (uv[..., 1] > -1) & (uv[..., 1] < hm_hw[0])
        valid = (kps[..., 2] > 0) & inside
        crops.append(topdown.crop(tensor, regions))
        heat.append(topdown.gaussian_targets(uv, valid, hm_hw))
        weight.append(valid.float())
    return (torch.cat(crops)[:batch_size], torch.cat(heat)[:batch_size], torch.cat(weight)[:batch_size])


def bottomup_batch(step: int, batch_size: int, data_seed: int, data: str = "plain",
                   input_size: int = bottomup.INPUT_SIZE) -> tuple[torch.Tensor, ...]:
    """Images (B, 3, S, S), heat-maps (B, 17, s, s), PAFs (B, 38, s, s), PAF masks (B, 19, s, s);
    S = input_size (128: s = 32), s = S / 4. Scenes are letterboxed to S as inference does."""
    rng = np.random.default_rng([data_seed, step, 1])
    s = input_size // bottomup.STRIDE
    images, heat, paf, mask = [], [], [], []
    for image, people in _scenes(step, batch_size, data_seed, data):
        tensor, scale = to_tensor(image), 1.0
        if max(image.size) != input_size:
            tensor, scale = bottomup.letterbox(tensor, input_size)
        kps = [p["keypoints"].copy() for p in people]
        for k in kps:
            k[:, :2] *= scale  # scene pixels -> input pixels
        if rng.random() < 0.5:
            tensor = tensor.flip(-1)
            for k in kps:
                k[:, 0] = input_size - k[:, 0]
            kps = [k[list(FLIP_INDEX)] for k in kps]
        for k in kps:
            k[:, :2] = k[:, :2] / bottomup.STRIDE - 0.5  # input pixels -> heat-map cells
        h, p, m = bottomup.targets(kps, s)
        images.append(tensor)
        heat.append(h)
        paf.append(p)
        mask.append(m)
    return torch.stack(images), torch.stack(heat), torch.stack(paf), torch.stack(mask)


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """MSE with the Gaussian peaks up-weighted: at these budgets plain MSE spends long
    predicting all-zero maps before peaks appear."""
    w = 1 + 9 * target
    if weight is not None:
        w = w * weight[..., None, None]
    return ((pred - target) ** 2 * w).mean() * 100


def build(name: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    if name == "detector":
        return topdown.build_person_detector(seed)
    return topdown.HeatmapNet() if name == "topdown" else bottomup.BottomUpNet()


def step_loss(name: str, model: torch.nn.Module, step: int, batch_size: int, data_seed: int,
              data: str = "plain", input_size: int = bottomup.INPUT_SIZE) -> dict:
    if name == "detector":
        losses = model(*detector_batch(step, batch_size, data_seed, data))
        return {"total": losses["classification"] + losses["bbox_regression"], **losses}
    if name == "topdown":
        crops, target, weight = topdown_batch(step, batch_size, data_seed, data)
        loss = heatmap_loss(model(crops), target, weight)
        return {"total": loss, "heat": loss}
    images, heat, paf, mask = bottomup_batch(step, batch_size, data_seed, data, input_size)
    pred_heat, pred_paf = model(images)
    l_heat = heatmap_loss(pred_heat, heat)
    on = (mask > 0).float().repeat_interleave(2, dim=1)  # (B, L, s, s) -> (B, 2L, s, s), one per axis
    l_paf = ((pred_paf - paf) ** 2 * (1 + 4 * on)).mean() * 100
    return {"total": l_heat + l_paf, "heat": l_heat, "paf": l_paf}


# ---------------------------------------------------------------- export


def export(name: str, model: torch.nn.Module, meta: dict, out: Path, detector: Path | None,
           eval_n: int) -> dict:
    """Evaluate, then write <out>/pose_<name>.safetensors and its model card.

    The detector is saved in the detection tab's format; the two pose methods as one
    state dict each (top-down: detector.* + keypoints.*, bottom-up: net.*).
    """
    from demos.detection.model import load_checkpoint, save_checkpoint

    from .evaluate import CI_SUBSET, box_ap, oks_ap, timing_ms, write_card
    from .goals import measure

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"pose_{name}.safetensors"
    meta["val_n"] = eval_n
    data = meta.get("data", "plain")  # val scenes like the training ones; the CI subset is always plain
    if name == "detector":
        if eval_n:
            meta["val"] = box_ap(model, n=eval_n, data=data)
            meta["ci"] = box_ap(model, n=CI_SUBSET["n"], start=CI_SUBSET["start"])
        ci_ap = meta.get("ci", {}).get("AP", -1)
        save_checkpoint(model, path, {"ci_ap": ci_ap, "training": json.dumps(meta)})
        if eval_n:
            write_card(out / f"pose_{name}.md", meta)
        print(f"wrote {path}: val box AP {meta.get('val', {}).get('AP')}")
        return meta
    if name == "topdown":
        detector = detector or out / "pose_detector.safetensors"
        if not detector.is_file():
            print(f"{detector} is missing: train the detector first, then run this command again "
                  "with --resume --export-now")
            return meta
        pose: torch.nn.Module = topdown.TopDownPose()
        pose.detector.load_state_dict(load_checkpoint(detector).state_dict())
        pose.keypoints.load_state_dict(model.state_dict())
        meta["detector"] = detector.name
    else:
        pose = bottomup.BottomUpPose(meta.get("input_size", bottomup.INPUT_SIZE))
        pose.net.load_state_dict(model.state_dict())
    pose.eval()
    meta["parameters"] = sum(p.numel() for p in pose.parameters())
    if eval_n:  # a smoke run (--eval-n 0) writes the weights only, without a card
        meta["val"] = oks_ap(pose, n=eval_n, data=data)
        if name == "topdown":  # the same crops from ground-truth boxes: the detector's share of errors
            meta["val_gt_boxes"] = oks_ap(pose, n=eval_n, gt_boxes=True, data=data)
        meta["ci"] = oks_ap(pose, n=CI_SUBSET["n"], start=CI_SUBSET["start"])
        meta["ms_256_4_people"] = round(timing_ms(pose, people=4), 1)
        meta["goals"] = measure(pose, plain_n=0)
    tensors = {k: v.detach().contiguous().clone() for k, v in pose.state_dict().items()}
    save_file(tensors, str(path), metadata={
        "format": f"vision-lab-pose-{name}-1", "ci_ap": str(meta.get("ci", {}).get("AP", -1)),
        "ci_subset": json.dumps(CI_SUBSET), "training": json.dumps(meta)})
    if eval_n:
        write_card(out / f"pose_{name}.md", meta)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): val {json.dumps(meta.get('val'))}")
    return meta


def main(argv: list[str] | None = None) -> dict:
    code = code_version()  # the code this run starts with, written into its results file
    parser = argparse.ArgumentParser(description="Train a pose model on generated scenes")
    parser.add_argument("--model", choices=MODELS, required=True)
    parser.add_argument("--steps", type=int, default=0, help="0: the model's default")
    parser.add_argument("--batch-size", type=int, default=0, help="0: the model's default")
    parser.add_argument("--lr", type=float, default=0.0, help="0: the model's default")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--clip", type=float, default=10.0, help="gradient-norm clip")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--data-seed", type=int, default=0, help="first train scene")
    parser.add_argument("--out", type=Path, default=Path("checkpoints"))
    parser.add_argument("--state-dir", type=Path, default=Path("runs/pose"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="continue a finished run from a bundled checkpoint and its results file")
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=0.0,
                        help="time budget: the schedule decays over it, then training stops and exports")
    parser.add_argument("--export-now", action="store_true",
                        help="with --resume: export the saved state without training further")
    parser.add_argument("--no-export", action="store_true",
                        help="train only (state saved); export later with --resume --export-now")
    parser.add_argument("--detector", type=Path, default=None,
                        help="topdown: the detector to bundle (default <out>/pose_detector.safetensors)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--eval-n", type=int, default=300, help="val scenes for the card (0 skips)")
    parser.add_argument("--data", choices=DATA, default="plain",
                        help="plain: data.py's 128 px scenes; styled: styles.py's 256 px ones, random styles")
    parser.add_argument("--input-size", type=int, default=bottomup.INPUT_SIZE,
                        help="bottomup: the side scenes are letterboxed to (a multiple of 16)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="folder for pose_<model>_<data>.json, written when a run with --eval-n > 0 ends")
    args = parser.parse_args(argv)
    stem = f"pose_{args.model}" + ("" if args.data == "plain" else f"_{args.data}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    steps, batch_size, lr = DEFAULTS[args.model]
    args.steps, args.batch_size, args.lr = args.steps or steps, args.batch_size or batch_size, args.lr or lr

    model = build(args.model, args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    start, elapsed, history, init_step = 0, 0.0, [], -1
    results_path = args.results / f"pose_{args.model}_{args.data}.json"
    if args.resume and state_paths(args.state_dir, stem)[1].exists():  # a saved state comes first
        info = load_state(args.state_dir, stem, model, optimizer)
        start, elapsed = info["step"], info["elapsed_seconds"]
        history, init_step = info.get("history", []), info.get("init_step", -1)
        args.init_from = args.init_from or info["args"].get("init_from")
        print(f"resumed {stem} at step {start}")
    elif args.init_from is not None:
        start, elapsed, history = init_from(model, args.model, args.init_from, results_path)
        init_step = start
        print(f"{stem}: weights from {args.init_from}, continuing at step {start} with fresh AdamW moments")
    stop = start if args.export_now else args.steps
    model.train()
    # Training time with pauses left out: on a shared machine a run may be stopped from
    # outside (SIGSTOP while something else is timed), and a pause must not spend the
    # budget. A step counts at most 3x the recent typical step time.
    active, typical, last = elapsed, 0.0, time.time()
    done, window = start, {}
    bar = tqdm(range(start, stop), initial=start, total=args.steps, desc=stem, mininterval=10)
    for step in bar:
        spent = active / (args.max_minutes * 60) if args.max_minutes > 0 else 0.0
        for group in optimizer.param_groups:
            group["lr"] = (learning_rate(step, args.lr, args.warmup, args.steps, spent)
                           * rewarm(step, init_step, args.warmup))
        losses = step_loss(args.model, model, step, args.batch_size, args.data_seed, args.data,
                           args.input_size)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        bar.set_postfix({k: f"{float(v.detach()):.4f}" for k, v in losses.items() if k != "total"})
        for key, value in losses.items():  # the training curve: mean losses per checkpoint interval
            window.setdefault(key, []).append(float(value.detach()))
        done = step + 1
        now = time.time()
        dt = min(now - last, 3 * typical) if typical else now - last
        typical, last = (0.9 * typical + 0.1 * dt) if typical else dt, now
        active += dt
        out_of_time = args.max_minutes > 0 and active >= args.max_minutes * 60
        if done % args.checkpoint_every == 0 or done == stop or out_of_time:
            history.append({"step": done, "seconds": round(active, 1), "lr": optimizer.param_groups[0]["lr"]}
                           | {k: round(sum(v) / len(v), 5) for k, v in window.items()})
            window = {}
            save_state(args.state_dir, stem, model, optimizer, {
                "step": done, "elapsed_seconds": active, "history": history, "init_step": init_step,
                "args": {k: str(v) for k, v in vars(args).items()}})
        if out_of_time:
            print(f"time budget spent at step {done} of {args.steps}; exporting")
            break
    training_seconds = active
    meta = {
        "model": args.model, "steps": done, "planned_steps": args.steps, "batch_size": args.batch_size,
        "lr": args.lr, "max_minutes": args.max_minutes, "warmup": args.warmup,
        "weight_decay": args.weight_decay, "clip": args.clip,
        "seed": args.seed, "data_seed": args.data_seed, "training_seconds": round(training_seconds, 1),
        "machine": machine_description(), "code": code,
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": args.data, "curve": history,
    }
    if init_step >= 0:  # the record says where the weights came back from, and that Adam restarted
        meta["init_from"] = {"checkpoint": str(args.init_from), "step": init_step, "optimizer": "fresh AdamW"}
    if args.model == "bottomup":
        meta["input_size"] = args.input_size
    if args.no_export:
        print(f"{args.model}: state saved at step {done} in {args.state_dir}")
        return meta
    meta = export(args.model, model.eval(), meta, args.out, args.detector, args.eval_n)
    if args.eval_n and "val" in meta:  # a finished, evaluated run: its results file
        write_results(results_path, meta, args.out)
    return meta


def write_results(path: Path, meta: dict, out: Path) -> None:
    """One finished run's record (training, val AP, goals, curve) as JSON, written atomically."""
    record = {"status": "trained", "checkpoint": str(out / f"pose_{meta['model']}.safetensors")} | meta
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(json.dumps(record, indent=1) + "\n")
    path.with_suffix(".tmp").replace(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
