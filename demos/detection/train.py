"""Train the compact RetinaNet with one classification loss, resumably.

    python -m demos.detection.train --loss focal|ce|ohem|hnm [--steps 3000] [--resume]

This is the trainer of the bundled full-width models (AdamW, random 1-8 objects per
scene). The controlled experiment with seeds, SGD and imbalance levels is
`python -m demos.detection.sweep` (experiment.py).

Runs with different --loss but the same other flags are a controlled experiment:
the weights start identical (same --seed), every step sees the same scenes (the data
order is a pure function of the step and --data-seed), and the optimiser, schedule,
box loss and gradient clipping are shared. Training state (weights + AdamW moments)
is saved every --checkpoint-every steps as safetensors plus a JSON sidecar; nothing is
pickled. At the end the weights, evaluation results and a model card are written to
<out>/detection_<loss>.safetensors and <out>/detection_<loss>.md.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from shared.device import machine_description
from shared.training_state import load_state, save_state, state_paths

from .data import SPLIT_SIZES, SceneDataset, collate
from .evaluate import CI_SUBSET, evaluate, imbalance, inference_ms
from .losses import CE_ALPHA, FOCAL_ALPHA, FOCAL_GAMMA, HNM_NEG_PER_POS, LOSSES, OHEM_BATCH, OHEM_NMS
from .model import build_detector, count_parameters, save_checkpoint

PAPER = "Lin et al. 2017, Focal Loss for Dense Object Detection (arXiv:1708.02002), Table 1"


def learning_rate(step: int, base: float, warmup: int, total: int) -> float:
    """Linear warm-up then cosine decay to zero; a function of the step so resuming is exact."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def batch_for_step(step: int, batch_size: int, data_seed: int) -> tuple[list, list]:
    """The scenes of one step; identical for every loss, so only the loss differs between runs."""
    first = (data_seed + step * batch_size) % (SPLIT_SIZES["train"] - batch_size)
    dataset = SceneDataset("train", batch_size, start=first)
    return collate([dataset[i] for i in range(batch_size)])


def write_card(path: Path, meta: dict) -> None:
    """A model card in Markdown: what was trained, how, and what it measured."""
    val, ci, stats = meta["val_metrics"], meta["ci_metrics"], meta["imbalance"]
    loss_text = {
        "focal": f"focal loss, gamma={FOCAL_GAMMA}, alpha={FOCAL_ALPHA} (torchvision.ops.sigmoid_focal_loss)",
        "ce": f"alpha-balanced cross-entropy, alpha={CE_ALPHA} (the paper's best alpha for CE)",
        "ohem": f"cross-entropy with the paper's OHEM: NMS at {OHEM_NMS} on the per-anchor loss, "
        f"a fixed {OHEM_BATCH} anchors per image, at most a quarter positive",
        "hnm": f"cross-entropy with SSD-style hard-negative mining: all positives, "
        f"{HNM_NEG_PER_POS} highest-loss negatives per positive",
    }[meta["loss"]]
    rows = "\n".join(f"| {k} | {'n/a' if v < 0 else f'{v:.3f}'} |" for k, v in val.items())
    path.write_text(f"""# detection_{meta["loss"]}: compact RetinaNet trained with {meta["loss"]}

One of three detectors trained identically except for the classification loss, to
reproduce the comparison of {PAPER} on synthetic shape scenes.

- Classification loss: {loss_text}; summed over anchors and divided by the number of
  foreground anchors. Box loss: GIoU (same for all three).
- Architecture: torchvision RetinaNet, 3-stage conv backbone + 2-level FPN (strides 8, 16),
  {meta["anchors_per_image"]} anchors per 256x256 image, {meta["parameters"]:,} parameters, prior pi=0.01.
- Training: {meta["steps"]} steps x batch {meta["batch_size"]}, AdamW lr {meta["lr"]}
  (warm-up {meta["warmup"]}, cosine), weight decay {meta["weight_decay"]}, grad-norm clip {meta["clip"]},
  init seed {meta["seed"]}, data seed {meta["data_seed"]} (train scenes {meta["data_seed"]}.. in order).
- Training time: {meta["training_seconds"] / 60:.1f} min on {meta["machine"]}.
- Inference: {meta["inference_ms"]:.1f} ms per 256x256 image (median, same machine).

## Validation (val scenes 0..{meta["val_n"] - 1}, COCO AP via pycocotools)

| metric | value |
|---|---|
{rows}

CI subset (val scenes {CI_SUBSET["start"]}..{CI_SUBSET["start"] + CI_SUBSET["n"] - 1}): AP {ci["AP"]:.4f}
(re-checked by tests/test_detection_model.py).

Anchor imbalance on {stats["images"]} val scenes: 1:{stats["bg_per_fg_pooled"]:.0f}
foreground:background anchors pooled, 1:{stats["bg_per_fg_median_image"]:.0f} for the median image.
""")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Train the compact RetinaNet with one classification loss")
    parser.add_argument("--loss", choices=LOSSES, required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--clip", type=float, default=10.0, help="gradient-norm clip, same for every loss")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--data-seed", type=int, default=0, help="first train scene; scenes follow in order")
    parser.add_argument("--out", type=Path, default=Path("checkpoints"))
    parser.add_argument(
        "--state-dir", type=Path, default=Path("runs/detection"), help="resumable training state"
    )
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument(
        "--stop-at",
        type=int,
        default=0,
        help="pause after this step (state saved, schedule unchanged); resume later with --resume",
    )
    parser.add_argument(
        "--export-now",
        action="store_true",
        help="with --resume: evaluate and write the checkpoint from the saved state, without training",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--eval-n", type=int, default=500, help="val scenes for the card's AP (0 skips evaluation)"
    )
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    model = build_detector(args.loss, seed=args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    start, elapsed = 0, 0.0
    if args.resume and state_paths(args.state_dir, f"detection_{args.loss}")[1].exists():
        info = load_state(args.state_dir, f"detection_{args.loss}", model, optimizer)
        start, elapsed = info["step"], info["elapsed_seconds"]
        print(f"resumed {args.loss} at step {start}")

    model.train()
    t0 = time.time()
    stop = min(args.stop_at, args.steps) if args.stop_at > 0 else args.steps
    if args.export_now:
        # Cut short (e.g. out of time): export what the saved state has; the card says so.
        stop = start
    bar = tqdm(range(start, stop), initial=start, total=args.steps, desc=args.loss, mininterval=10)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup, args.steps)
        images, targets = batch_for_step(step, args.batch_size, args.data_seed)
        losses = model(images, targets)
        total = losses["classification"] + losses["bbox_regression"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        bar.set_postfix(
            cls=f"{losses['classification'].item():.3f}", box=f"{losses['bbox_regression'].item():.3f}"
        )
        done = step + 1
        if done % args.checkpoint_every == 0 or done == stop:
            save_state(
                args.state_dir,
                f"detection_{args.loss}",
                model,
                optimizer,
                {
                    "step": done,
                    "elapsed_seconds": elapsed + time.time() - t0,
                    "args": vars(args) | {"out": str(args.out), "state_dir": str(args.state_dir)},
                },
            )
    training_seconds = elapsed + time.time() - t0
    if stop < args.steps and not args.export_now:
        print(f"paused {args.loss} at step {stop} of {args.steps}; continue with --resume")
        return {"loss": args.loss, "step": stop}

    model.eval()
    meta = {
        "loss": args.loss,
        "steps": stop,
        "planned_steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "warmup": args.warmup,
        "weight_decay": args.weight_decay,
        "clip": args.clip,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "training_seconds": round(training_seconds, 1),
        "machine": machine_description(),
        "parameters": count_parameters(model),
    }
    if args.eval_n > 0:
        meta["val_n"] = args.eval_n
        meta["val_metrics"] = evaluate(model, n=args.eval_n)
        meta["ci_metrics"] = evaluate(model, CI_SUBSET["split"], CI_SUBSET["n"], CI_SUBSET["start"])
        meta["imbalance"] = imbalance(model, n=100)
        meta["anchors_per_image"] = meta["imbalance"]["anchors_per_image"]
        meta["inference_ms"] = round(inference_ms(model), 2)
        print(json.dumps(meta["val_metrics"]))
    weights = args.out / f"detection_{args.loss}.safetensors"
    save_checkpoint(
        model,
        weights,
        {
            "val_ap": meta.get("val_metrics", {}).get("AP", -1),
            "ci_ap": meta.get("ci_metrics", {}).get("AP", -1),
            "ci_subset": json.dumps(CI_SUBSET),
            "training": json.dumps(meta),
        },
    )
    if args.eval_n > 0:
        write_card(args.out / f"detection_{args.loss}.md", meta)
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) after {training_seconds / 60:.1f} min")
    return meta


if __name__ == "__main__":
    main()
