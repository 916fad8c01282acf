"""The models the acceleration tab measures: how to get each, feed it, compare it and score it.

Model code only (no Gradio). Every registered model of the detection, pose and CycleGAN
tabs can be measured. Bundled ones are the shipped checkpoints; a pretrained one is
loaded with its real weights when they are in the cache, and otherwise built with
seeded random weights: the same architecture costs the same time whatever its weights,
and the largest output difference still shows whether a conversion is faithful, but
there is no accuracy to measure, and the results say so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

import demos.cyclegan.registry  # noqa: F401  (registers the models measured here)
import demos.detection.registry  # noqa: F401
import demos.pose.registry  # noqa: F401
from shared import acceleration as serving
from shared import errors
from shared.loading import availability, get_model
from shared.registry import get_spec, specs
from shared.templates import fill
from shared.validation import MESSAGES as CHOICE
from shared.validation import BadInput

from .techniques import Subject

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = sorted((ROOT / "examples" / "photos").glob("*.jpg"))
DEMOS = ("detection", "pose", "cyclegan")
SIZE_LIMITS = (64, 1600)  # longer side of the measured input, px; its height is 3/4 of it
DEFAULT_SIZE = {"bundled": 256, "pretrained": 640}
CALIBRATION_N = 8
SEED = 0  # random weights are the same in every run, so cached figures stay comparable


def names() -> list[str]:
    """Every model the tab can measure: bundled first, then pretrained, each in registry order."""
    chosen = [s for s in specs() if s.demo in DEMOS]
    return [s.name for tier in ("bundled", "pretrained") for s in chosen if s.tier == tier]


NO_MODEL = errors.template("error.acceleration.no_model", "Choose a model to measure.")


def check_name(name: object) -> str:
    known = names()
    if not name:
        raise BadInput(NO_MODEL)
    if name not in known:
        raise BadInput(fill(CHOICE["unknown"], what=CHOICE["what_model"], name=repr(name),
                            known=", ".join(known)))
    return str(name)


def weights_kind(name: str) -> str:
    """"bundled", "pretrained" (real weights, cached here) or "random" (speed only)."""
    spec = get_spec(name)
    if spec.tier == "bundled":
        return "bundled"
    return "pretrained" if availability(spec)[0] else "random"


RANDOM_DETECTIONS = 10  # boxes a detector with random weights returns, whatever the path


def fp32_model(name: str) -> nn.Module:
    """A private fp32 eager copy of the model: the cached one copied, or seeded random weights."""
    if weights_kind(name) != "random":
        return serving.fp32_copy(get_model(name)).eval()
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = get_spec(name).build().eval()
    # Random weights put every score near the threshold, where bf16 moved 35 of Keypoint R-CNN's
    # boxes across it (10 in fp32, 45 in bf16), so the two did different amounts of keypoint work.
    # Keeping exactly the best RANDOM_DETECTIONS boxes gives every path the same work after the network.
    for owner in (model, getattr(model, "roi_heads", None)):
        if owner is not None and hasattr(owner, "detections_per_img"):
            owner.score_thresh, owner.detections_per_img = 0.0, RANDOM_DETECTIONS
    return model


# ---------------------------------------------------------------- inputs


def _resized(image: Image.Image, size: int) -> Image.Image:
    return image.convert("RGB").resize((size, max(16, size * 3 // 4)), Image.BILINEAR)


def _images(name: str, count: int, size: int) -> list[Image.Image]:
    """`count` pictures of the model's own kind: generated scenes for bundled models, photos otherwise."""
    spec = get_spec(name)
    if spec.tier == "pretrained":
        return [_resized(Image.open(PHOTOS[i % len(PHOTOS)]), size) for i in range(count)]
    if spec.demo == "detection":
        from demos.detection.data import make_scene, split_seed

        return [_resized(make_scene(split_seed("train", i))[0], size) for i in range(count)]
    if spec.demo == "pose":
        from demos.pose.data import make_scene, split_seed

        return [_resized(make_scene(split_seed("train", i))[0], size) for i in range(count)]
    from demos.cyclegan.data import make_scene

    pair, side = spec.extra["pair"], "a" if spec.extra["direction"] == "AB" else "b"
    scenes = [make_scene(pair, f"train_{side}", i, 128) for i in range(count)]
    return [_resized(Image.fromarray((getattr(s, side) * 255).astype(np.uint8)), size) for s in scenes]


def to_input(name: str, image: Image.Image) -> torch.Tensor:
    """A picture as the model takes it: (3, H, W) in [0, 1], or (1, 3, H, W) in [-1, 1] for CycleGAN."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    if get_spec(name).demo == "cyclegan":
        from demos.cyclegan.data import to_tensor

        return to_tensor([array])
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def call_for(name: str):
    """One inference as the tab that serves the model runs it."""
    demo = get_spec(name).demo
    if demo == "detection":
        return lambda model, x: model([x])
    if demo == "pose":
        from demos.pose.inference import run

        return lambda model, x: run(model, x)
    return lambda model, x: model(x)


def subject(name: str, size: int, device: torch.device) -> tuple[Subject, torch.Tensor]:
    """The model as a `Subject` for the techniques, and the input every technique is timed on."""
    model = fp32_model(name).to(device)
    x = to_input(name, _images(name, 1, size)[0]).to(device)
    calibration = [to_input(name, im).to(device) for im in _images(name, CALIBRATION_N, size)]
    return Subject(model, device, call_for(name), calibration, name), x


# ---------------------------------------------------------------- raw outputs


@torch.inference_mode()
def raw_outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The network's outputs before any selection (shared.acceleration.raw_outputs), for any model here."""
    if hasattr(model, "detector") and hasattr(model, "keypoints"):  # top-down: detector, then fixed crops
        from demos.pose.topdown import CROP_H, CROP_W

        crops = nn.functional.interpolate(x[None], size=(CROP_H, CROP_W), mode="bilinear",
                                          align_corners=False)  # (1, 3, CROP_H, CROP_W): one fixed crop
        return serving.raw_outputs(model.detector, x) + [model.keypoints(crops).float()]
    if hasattr(model, "net"):  # bottom-up: the network on the letterboxed image
        from demos.pose.bottomup import letterbox

        return [t.float() for t in model.net(letterbox(x)[0][None])]
    if x.dim() == 4:  # a generator: already a batch
        return [model(x).float()]
    return serving.raw_outputs(model, x)


# ---------------------------------------------------------------- accuracy (bundled models)


@dataclass
class Quality:
    metric: str  # what is measured, in words
    value: float  # of the measured model
    samples: np.ndarray | None = None  # bootstrap replicates, paired across techniques (detectors)


# Where each tab's bundled models are scored, in words (the tab translates them by tab).
SUBSETS = {"detection": "COCO AP on val scenes 0-47 (the CI subset)",
           "pose": "COCO keypoint AP on val scenes 0-39 (the CI subset)",
           "cyclegan": "edge F-score (structure kept) on held-out scenes 0-7"}


def quality_subset(name: str) -> str:
    return SUBSETS[get_spec(name).demo]


def quality(name: str, model: nn.Module, context) -> Quality | None:
    """The bundled model's own metric on its fixed subset, run under the technique's context."""
    spec = get_spec(name)
    if spec.tier != "bundled":
        return None
    with context():
        if spec.demo == "detection":
            from demos.convolution import accuracy

            found = accuracy.scene_detections(model)
            samples = accuracy.ap_samples(found, len(spec.extra["categories"]))
            return Quality("AP", float(samples[0]), samples)
        if spec.demo == "pose":
            from demos.pose.evaluate import CI_SUBSET, oks_ap

            return Quality("keypoint AP", oks_ap(model, "val", CI_SUBSET["n"], CI_SUBSET["start"])["AP"])
        from demos.cyclegan.evaluate import evaluate_pair

        reverse = _reverse(name)
        first, second = (model, reverse) if spec.extra["direction"] == "AB" else (reverse, model)
        metrics = evaluate_pair(first, second, spec.extra["pair"], n=8, start=0)[spec.extra["direction"]]
        return Quality("edge F-score", float(metrics["structure_edge_f"]))


@functools.cache
def _reverse(name: str) -> nn.Module:
    """The other direction of a bundled CycleGAN pair, in fp32 (it only closes the cycle)."""
    from demos.cyclegan.registry import bundled_name

    extra = get_spec(name).extra
    return fp32_model(bundled_name(extra["pair"], "BA" if extra["direction"] == "AB" else "AB"))
