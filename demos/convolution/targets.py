"""The bundled models the compression tab works on: how to score, fine-tune and show each.

Model code only (no Gradio). Three of the suite's own networks, each with its own
measure of quality, computed on the same fixed held-out subset the models' tests use:

- the focal-loss detector: COCO AP on 48 val scenes, class-aware and class-agnostic, with a
  paired bootstrap interval (`accuracy`); fine-tuned on its training loss and scenes;
- the bottom-up pose network: COCO keypoint AP on 40 val scenes; fine-tuned on its training loss;
- the plain→striped CycleGAN generator: edge F-score (structure kept) and Gram distance
  (texture changed) on 8 held-out scenes; fine-tuned to reproduce the original generator's
  outputs on training images (its discriminators are not bundled).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save as safetensors_bytes

import demos.cyclegan.registry  # noqa: F401  (registers the models compressed here)
import demos.detection.registry  # noqa: F401
import demos.pose.registry  # noqa: F401
from shared.drawing import draw_boxes, draw_skeletons
from shared.loading import get_model
from shared.registry import get_spec
from shared.templates import fill
from shared.validation import BadInput

from . import accuracy
from .errors import MESSAGES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DETECTOR, POSE, CYCLEGAN = "tiny-retinanet-focal", "tiny-bottomup-pose", "cyclegan-plain2striped"
TARGETS = {DETECTOR: "detection", POSE: "pose", CYCLEGAN: "cyclegan"}
EXAMPLE_IMAGES = {DETECTOR: EXAMPLES / "detection" / "scene_1000011.png",
                  POSE: EXAMPLES / "pose" / "scene_1090008_4people.png",
                  CYCLEGAN: EXAMPLES / "cyclegan" / "texture_a_90.png"}
FINE_TUNE_BATCH = {DETECTOR: 8, POSE: 8, CYCLEGAN: 4}
POSE_SUBSET = {"n": 40, "start": 0}  # demos.pose.evaluate.CI_SUBSET
CYCLEGAN_SUBSET = {"n": 8, "start": 0}  # demos.cyclegan.evaluate.CI_SUBSET


def check_model(name: str) -> str:
    if not name:
        raise BadInput(fill(MESSAGES["no_target"], known=", ".join(TARGETS)))
    if name not in TARGETS:
        raise BadInput(fill(MESSAGES["unknown_target"], name=repr(name), known=", ".join(TARGETS)))
    return name


def original(name: str) -> torch.nn.Module:
    """The shared, cached original (never modified: compression works on a copy)."""
    return get_model(check_model(name))


@functools.cache
def baseline_bytes(name: str) -> int:
    """Size of the model's own state dict written as an fp32 safetensors file (the ratio's base)."""
    state = {k: v.detach().float().contiguous().cpu() for k, v in original(name).state_dict().items()}
    return len(safetensors_bytes(state))


# ---------------------------------------------------------------- quality


def evaluate(name: str, model: torch.nn.Module) -> dict:
    """The model's quality on its fixed held-out subset (see the module docstring)."""
    kind = TARGETS[check_model(name)]
    if kind == "detection":
        found, classes = accuracy.scene_detections(model), len(get_spec(name).extra["categories"])
        return {"aware": accuracy.ap_samples(found, classes),
                "agnostic": accuracy.ap_samples(found, classes, agnostic=True)}
    if kind == "pose":
        from demos.pose.evaluate import oks_ap

        return {"AP": oks_ap(model, "val", POSE_SUBSET["n"], POSE_SUBSET["start"])["AP"]}
    from demos.cyclegan.evaluate import evaluate_pair

    reverse = get_model("cyclegan-striped2plain")
    m = evaluate_pair(model, reverse, "texture", CYCLEGAN_SUBSET["n"], CYCLEGAN_SUBSET["start"])["AB"]
    return {k: m[k] for k in ("structure_edge_f", "texture_gram", "cycle_l1")}


@functools.cache
def evaluate_original(name: str) -> dict:
    """`evaluate` of the original, computed once per process."""
    return evaluate(name, original(name))


def quality_change(name: str, before: dict, after: dict) -> dict:
    """Metric -> {before, after, change[, intervals]} for the tab's table and JSON."""
    if TARGETS[name] == "detection":
        return {"AP": accuracy.paired_bootstrap(before["aware"], after["aware"]),
                "AP class-agnostic": accuracy.paired_bootstrap(before["agnostic"], after["agnostic"])}
    return {k: {"before": round(float(before[k]), 4), "after": round(float(after[k]), 4),
                "change": round(float(after[k]) - float(before[k]), 4)} for k in before}


# Where each kind of model's quality is measured, in words (the tab translates them by kind).
SUBSETS = {"detection": "COCO AP on val scenes 0-47 (the CI subset), 95 % intervals from 200 paired "
                        "bootstrap resamples of the scenes",
           "pose": "COCO keypoint AP on val scenes 0-39",
           "cyclegan": "held-out scenes 0-7: edge F-score (structure kept), Gram distance (texture changed)"}


def subset(name: str) -> str:
    """Where the quality is measured, in words."""
    return SUBSETS[TARGETS[name]]


# ---------------------------------------------------------------- fine-tuning


def training_loss(name: str) -> Callable[[torch.nn.Module, int], torch.Tensor]:
    """loss(model, step) on training batch `step` of the model's own training data."""
    kind, batch = TARGETS[check_model(name)], FINE_TUNE_BATCH[name]
    if kind == "detection":
        from demos.detection.train import batch_for_step

        def detection_loss(model: torch.nn.Module, step: int) -> torch.Tensor:
            images, targets = batch_for_step(step, batch, data_seed=0)
            return sum(model(images, targets).values())

        return detection_loss
    if kind == "pose":
        from demos.pose.train import step_loss

        return lambda model, step: step_loss("bottomup", model.net, step, batch, data_seed=0)["total"]
    from demos.cyclegan.data import unpaired_batch

    teacher = original(name)

    def distillation_loss(model: torch.nn.Module, step: int) -> torch.Tensor:
        x, _ = unpaired_batch("texture", step, batch, size=64)  # (B, 3, 64, 64) plain-domain images
        with torch.no_grad():
            target = teacher(x)
        return (model(x) - target).abs().mean()

    return distillation_loss


# ---------------------------------------------------------------- one picture before and after


def example_image(name: str) -> Image.Image:
    with Image.open(EXAMPLE_IMAGES[check_model(name)]) as img:
        return img.convert("RGB")


@torch.inference_mode()
def raw_outputs(name: str, model: torch.nn.Module, image: Image.Image) -> list[torch.Tensor]:
    """The model's outputs on `image` as tensors, before any threshold or drawing."""
    kind = TARGETS[name]
    model = model.eval()
    if kind == "detection":
        from demos.detection.data import to_tensor

        out = model([to_tensor(image)])[0]
        return [out["boxes"], out["scores"], out["labels"]]
    if kind == "pose":
        from demos.pose.bottomup import letterbox
        from demos.pose.data import to_tensor as pose_tensor

        heat, paf = model.net(letterbox(pose_tensor(image))[0][None])  # (1, 3, S, S) -> maps
        return [heat, paf]
    from demos.cyclegan.data import to_tensor

    return [model(to_tensor([np.asarray(image, dtype=np.float32) / 255]))]


@torch.inference_mode()
def show(name: str, model: torch.nn.Module, image: Image.Image, caption: str) -> Image.Image:
    """The model's output on `image`: boxes, skeletons or the translated picture."""
    kind = TARGETS[name]
    model = model.eval()
    if kind == "detection":
        from demos.detection.data import to_tensor

        out = model([to_tensor(image)])[0]
        keep = out["scores"] >= 0.3
        categories = get_spec(name).extra["categories"]
        ids = out["labels"][keep].tolist()
        return draw_boxes(image, out["boxes"][keep].tolist(), [categories[i] for i in ids],
                          out["scores"][keep].tolist(), ids, title=caption)
    if kind == "pose":
        from demos.pose.data import SKELETON
        from demos.pose.data import to_tensor as pose_tensor
        from demos.pose.inference import run, to_people

        raw, _ = run(model, pose_tensor(image))
        return draw_skeletons(image, to_people(raw, 0.2, 0.2), SKELETON, title=caption)
    from demos.cyclegan.data import to_images, to_tensor

    out = model(to_tensor([np.asarray(image, dtype=np.float32) / 255]))  # (1, 3, H, W) in [-1, 1]
    picture = Image.fromarray((to_images(out)[0] * 255).round().astype(np.uint8))
    return draw_boxes(picture, [], [], title=caption)
