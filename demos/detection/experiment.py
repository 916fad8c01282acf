"""One run of the focal-loss experiment: an arm (a loss and its settings) trained at one
imbalance level with one seed, then evaluated with bootstrap replicates.

The imbalance knob is the number of objects per scene (data.make_scene's `objects`):
the anchors and the image size stay fixed, so fewer objects mean fewer foreground
anchors against the same ~11.5 k background ones, at no extra compute. Everything but
the arm is shared by the runs of a level: the scenes, the architecture, SGD with
momentum 0.9 (the paper's optimizer), the schedule and the box loss; a seed fixes both
the initial weights and the order of the scenes, and is shared across arms, so runs
with the same seed are paired.

Generated scenes are cached under runs/detection_cache/ in chunks of 1,000 (a uint8
.npy of images, memory-mapped, and their boxes as .npz): a level's first run draws
them, later runs read them.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou
from tqdm import tqdm

from shared.settings import scene_cache

from .data import SPLIT_SIZES, make_scene, split_seed, to_tensor
from .losses import classification_loss, focal_terms, one_hot_targets
from .model import CONFIG, build_detector, forward_matched

CACHE, CHUNK = scene_cache()  # runs/detection_cache, 1,000 scenes a chunk (tests: a tmp dir, small chunks)
# A half-width backbone and head: the effect survives and a run takes minutes, not an hour.
HALF_WIDTH = CONFIG | {"stage_channels": [8, 16, 32, 64], "fpn_channels": 32}


@dataclass(frozen=True)
class Arm:
    """A classification loss and its settings; `prior=False` starts the classifier at p=0.5."""

    name: str
    loss: str
    params: dict[str, float] = field(default_factory=dict)
    prior: bool = True


ARMS: dict[str, Arm] = {a.name: a for a in (
    Arm("ce", "ce", {"gamma": 0.0, "alpha": 0.75}),
    Arm("focal", "focal", {"gamma": 2.0, "alpha": 0.25}),
    Arm("ohem", "ohem", {"batch": 128, "nms": 0.7, "positive_fraction": 0.25}),
    Arm("hnm", "hnm", {"neg_per_pos": 3}),
    # The gamma sweep with the alpha the paper pairs with each gamma (Table 1b).
    Arm("focal-g0.5", "focal", {"gamma": 0.5, "alpha": 0.5}),
    Arm("focal-g1", "focal", {"gamma": 1.0, "alpha": 0.25}),
    Arm("focal-g5", "focal", {"gamma": 5.0, "alpha": 0.25}),
    Arm("ce-noprior", "ce", {"gamma": 0.0, "alpha": 0.75}, prior=False),
    # Ablation: OHEM's loss averaged over its minibatch, to test whether its collapse at higher
    # rates is the loss scale (128 terms over a handful of foreground anchors).
    Arm("ohem-mean", "ohem", {"batch": 128, "nms": 0.7, "positive_fraction": 0.25, "mean_over_batch": 1.0}),
)}


@dataclass(frozen=True)
class RunConfig:
    arm: str
    objects: int  # objects per scene: the imbalance level
    seed: int
    lr: float
    steps: int = 2000
    batch_size: int = 8
    warmup: int = 200
    momentum: float = 0.9
    weight_decay: float = 1e-4
    clip: float = 10.0
    eval_split: str = "val"  # "tune" while choosing learning rates
    eval_n: int = 500

    @property
    def run_id(self) -> str:
        tag = "" if self.eval_split == "val" else f"-{self.eval_split}"
        return f"{self.arm}-obj{self.objects}-s{self.seed}-lr{self.lr:g}-st{self.steps}{tag}"

    def as_dict(self) -> dict:
        return asdict(self)


def _chunk_paths(split: str, objects: int, chunk: int) -> tuple[Path, Path]:
    stem = CACHE / f"{split}-obj{objects}-c{CHUNK}-{chunk:04d}"
    return stem.with_suffix(".images.npy"), stem.with_suffix(".targets.npz")


def _load_chunk(split: str, objects: int, chunk: int) -> dict[str, np.ndarray]:
    """A chunk of scenes; drawn and saved the first time it is needed.

    Images are memory-mapped, so a random batch reads eight images, not eight chunks.
    The images file is renamed into place last: if it exists, the chunk is complete.
    """
    images_path, targets_path = _chunk_paths(split, objects, chunk)
    if images_path.exists():
        try:
            with np.load(targets_path) as f:
                return {"images": np.load(images_path, mmap_mode="r")} | {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError):
            images_path.unlink(missing_ok=True)  # damaged: draw it again
    images, boxes, labels, counts = [], [], [], []
    first = chunk * CHUNK
    for index in range(first, min(first + CHUNK, SPLIT_SIZES[split])):
        image, b, lab = make_scene(split_seed(split, index), objects)
        images.append(np.asarray(image))
        boxes.append(b.numpy())
        labels.append(lab.numpy())
        counts.append(len(lab))
    targets = {"boxes": np.concatenate(boxes).reshape(-1, 4).astype(np.float32),  # all objects, xyxy
               "labels": np.concatenate(labels).astype(np.int64), "counts": np.array(counts)}
    images_path.parent.mkdir(parents=True, exist_ok=True)
    tag = f".{os.getpid()}.tmp"
    np.savez(targets_path.with_suffix(tag + ".npz"), **targets)
    targets_path.with_suffix(tag + ".npz").replace(targets_path)
    np.save(images_path.with_suffix(tag + ".npy"), np.stack(images))  # (n, 256, 256, 3) uint8
    images_path.with_suffix(tag + ".npy").replace(images_path)
    return {"images": np.load(images_path, mmap_mode="r")} | targets


class SceneCache:
    """Scenes of one split and level by index, read from (or drawn into) the chunk cache."""

    def __init__(self, split: str, objects: int) -> None:
        self.split, self.objects = split, objects
        self._chunks: dict[int, tuple[dict[str, np.ndarray], np.ndarray]] = {}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        chunk, offset = divmod(index, CHUNK)
        if chunk not in self._chunks:
            data = _load_chunk(self.split, self.objects, chunk)
            self._chunks[chunk] = (data, np.concatenate([[0], np.cumsum(data["counts"])]))
        data, starts = self._chunks[chunk]
        a, b = starts[offset], starts[offset + 1]
        pixels = torch.from_numpy(np.array(data["images"][offset]))  # (H, W, 3) uint8, copied off the map
        return pixels.permute(2, 0, 1).float() / 255, {  # (3, H, W) in [0, 1]
            "boxes": torch.from_numpy(data["boxes"][a:b]).clone(),
            "labels": torch.from_numpy(data["labels"][a:b]).clone()}

    def batch(self, indices: list[int]) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
        items = [self[i] for i in indices]
        return [i for i, _ in items], [t for _, t in items]


def learning_rate(step: int, base: float, warmup: int, total: int) -> float:
    """Linear warm-up then cosine decay to zero; a function of the step so resuming is exact."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def build_for(cfg: RunConfig) -> torch.nn.Module:
    arm = ARMS[cfg.arm]
    config = HALF_WIDTH | ({} if arm.prior else {"prior_probability": 0.5})
    return build_detector(arm.loss, seed=cfg.seed, config=config, loss_params=arm.params)


def easy_negative_share(model: torch.nn.Module, scenes: SceneCache, n: int = 16) -> dict[str, float]:
    """Share of the classification loss and of its gradient (|dL/dlogit|) that comes from easy
    negative terms (background binary terms with p_t > 0.9), over n fixed val scenes, with the
    loss exactly as this model is trained (its own alpha, gamma, mining). The loss share is
    given for the weighted losses (focal, CE) only."""
    head = model.head.classification_head
    loss_total = loss_easy = grad_total = grad_easy = 0.0
    for i in range(n):
        image, target = scenes[i]
        logits, anchors, matched = forward_matched(model, image, target)
        logits = logits.detach().requires_grad_(True)
        valid = matched != head.BETWEEN_THRESHOLDS
        gt = one_hot_targets(logits, matched, target["labels"])[valid]
        with torch.enable_grad():
            num_fg = int((matched >= 0).sum())
            loss = classification_loss(head.loss, logits[valid], gt, num_fg, anchors[valid], head.loss_params)
            (grad,) = torch.autograd.grad(loss, logits)
        p = torch.sigmoid(logits.detach()[valid])
        easy = (gt == 0) & (p < 0.1)  # background term with p_t = 1 - p > 0.9
        g = grad[valid].abs()
        grad_total += float(g.sum())
        grad_easy += float(g[easy].sum())
        if head.loss in ("focal", "ce"):  # the mining losses' terms are a selection, not a weighting
            params = head.loss_params
            terms = focal_terms(logits.detach()[valid], gt, params["gamma"], params["alpha"])
            loss_total += float(terms.sum())
            loss_easy += float(terms[easy].sum())
    shares = {"grad_share_easy_negatives": grad_easy / max(grad_total, 1e-12)}
    if loss_total > 0:
        shares["loss_share_easy_negatives"] = loss_easy / loss_total
    return shares


def train(cfg: RunConfig, threads: int = 1, progress: bool = True) -> tuple[torch.nn.Module, dict]:
    """Train one run; returns the model and its training record (curve, timing)."""
    torch.set_num_threads(threads)
    model = build_for(cfg)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=cfg.lr, momentum=cfg.momentum)
    train_scenes = SceneCache("train", cfg.objects)
    probe = SceneCache("val", cfg.objects)
    pool = cfg.steps * cfg.batch_size
    order = np.random.default_rng(cfg.seed).permutation(pool)  # the seed also fixes the data order
    curve: list[dict] = []
    t0 = time.time()
    model.train()
    bar = tqdm(range(cfg.steps), desc=cfg.run_id, mininterval=30, disable=not progress)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg.lr, cfg.warmup, cfg.steps)
        first = step * cfg.batch_size
        images, targets = train_scenes.batch(order[first:first + cfg.batch_size].tolist())
        losses = model(images, targets)
        total = losses["classification"] + losses["bbox_regression"]
        if not torch.isfinite(total):
            curve.append({"step": step, "diverged": True})
            break
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        if step < 100 and step % 10 == 0 or step % 50 == 0 or step == cfg.steps - 1:
            point = {"step": step, "cls": round(float(losses["classification"].detach()), 5),
                     "box": round(float(losses["bbox_regression"].detach()), 5)}
            if step % 500 == 0 or step == cfg.steps - 1:
                point |= easy_negative_share(model, probe, n=min(16, cfg.eval_n))
                model.train()
            curve.append(point)
    seconds = time.time() - t0
    return model.eval(), {"curve": curve, "training_seconds": round(seconds, 1),
                          "seconds_per_step": round(seconds / (step + 1), 4),
                          "diverged": bool(curve and curve[-1].get("diverged"))}


@torch.no_grad()
def predict(model: torch.nn.Module, scenes: SceneCache, n: int, batch: int = 16) -> tuple[list, list]:
    """Detections (score threshold 0.05) and ground truth of scenes 0..n-1, as numpy dicts."""
    model.score_thresh = 0.05
    detections, truths = [], []
    for first in range(0, n, batch):
        images, targets = scenes.batch(list(range(first, min(first + batch, n))))
        for d, t in zip(model(images), targets, strict=True):
            detections.append({k: d[k].numpy() for k in ("boxes", "scores", "labels")})
            truths.append({k: t[k].numpy() for k in ("boxes", "labels")})
    return detections, truths


def imbalance_of_level(objects: int, n: int = 300) -> dict[str, float]:
    """Foreground:background anchors per anchor and per binary term, over n val scenes.

    Every scene is 256 x 256, so the anchors are the same for all; only the matcher runs
    per scene (IoU >= 0.5 foreground, < 0.4 background, as in training)."""
    model = build_detector("focal", config=HALF_WIDTH)
    image, boxes, labels = make_scene(split_seed("val", 0), objects)
    _, anchors, _ = forward_matched(model, to_tensor(image), {"boxes": boxes, "labels": labels})
    positives = negatives = 0
    for i in range(n):
        _, boxes, _ = make_scene(split_seed("val", i), objects)
        matched = model.proposal_matcher(box_iou(boxes, anchors))  # (A,): object index or below zero
        # (Matcher.BELOW_LOW_THRESHOLD is background; BETWEEN_THRESHOLDS is ignored by the loss)
        positives += int((matched >= 0).sum())
        negatives += int((matched == model.proposal_matcher.BELOW_LOW_THRESHOLD).sum())
    k = HALF_WIDTH["num_classes"]
    # The sigmoid classifier makes K binary decisions per anchor: a foreground anchor has one
    # positive term and K - 1 negative ones, a background anchor K negative ones.
    return {"objects": objects, "scenes": n, "anchors_per_image": int(anchors.shape[0]),
            "positives_per_image": positives / n, "negatives_per_image": negatives / n,
            "bg_per_fg_anchor": negatives / max(positives, 1),
            "bg_per_fg_term": (negatives * k + positives * (k - 1)) / max(positives, 1)}
