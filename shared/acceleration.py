"""The pretrained tier served through the fastest path verified faithful on this machine.

Model code only (no Gradio). A *path* is a way of running an unchanged fp32 model faster:
today a memory format (channels-last, which lets oneDNN and cuDNN skip layout reorders)
and an autocast precision (bf16 on a CPU with bf16 instructions, fp16 or bf16 on CUDA)
for the networks inside a model (`dense_parts`), while box decoding and selection stay in
fp32. Neither changes the weights, so a path is applied in place and undone in place; the
model cache keeps one copy.

A path is used only after it has been *checked* on this machine: the model's raw outputs
on a fixed input (`raw_outputs`, before any threshold or NMS) must lie within
`SERVE_TOLERANCE` of fp32 eager's, and the path must be faster than fp32 eager on that
input. The check runs lazily, the first time a model is served, never at start-up, and
its verdict is kept per machine in a JSON file (`settings.acceleration_dir()`), so a
restarted server applies the verdict without checking again. A path that fails, or is
not faithful, is undone and the model is served eagerly in fp32.

The bundled tier is served as it was trained and measured (its cards' AP are fp32
eager figures), under the app's usual `shared.device.autocast`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared import device as devices
from shared import settings
from shared.templates import fill, unfill

log = logging.getLogger("visionlab")

# A path is faithful when, for every raw output tensor, max |path - fp32| <= SERVE_TOLERANCE *
# max |fp32|. bf16 keeps 8 significant bits (a rounding error of 0.4 % per value); through
# the ~50 layers of a ResNet-50-FPN detector with random weights the largest difference
# measured here was about 2 % of the largest output, so 5 % admits bf16 and refuses
# anything coarser, e.g. a weight quantisation gone wrong.
SERVE_TOLERANCE = 0.05
MIN_SPEEDUP = 1.1  # a path that saves less than this on the check input is not worth its risk
SERVED_TIERS = ("pretrained",)
EAGER = "fp32 eager"
# A verdict's words, one template per phrase ([name] marks a value, see shared.templates): kept
# verdicts hold them in English, and `describe(..., said=...)` says them again in another language.
SAID = {
    "bundled": "[eager]: bundled models are served as trained and measured",
    "first_use": "checked at first use on this machine",
    "chosen_path": "[path] (checked [date]: outputs within [rel] of fp32's largest value, limit [limit]; "
                   "[speedup]× faster)",
    "refused": "[eager] ([tried])",
    "tried": "[name]: [outcome]",
    "tried_join": "; ",
    "no_path": "no faster path here",
    "unavailable": "unavailable: [reason]",
    "failed": "failed ([error])",
    "not_faithful": "not faithful (outputs off by [rel] of their largest value, limit [limit])",
    "not_faster": "not faster ([speedup]×)",
    "chosen": "chosen",
    "runs_on": "runs on [want], and this model is on [have]",
    "no_bf16_cpu": "this CPU has no bf16 instructions (AVX512-BF16 or AMX)",
    "no_bf16_gpu": "this GPU has no bf16 support",
}
OUTCOMES = ("unavailable", "failed", "not_faithful", "not_faster", "chosen")
REASONS = ("runs_on", "no_bf16_cpu", "no_bf16_gpu")


def say_again(text: str, keys: tuple[str, ...], said: dict[str, str]) -> str:
    """`text`, made from one of SAID's `keys` in English, made again from `said`'s (the same phrase in
    another language); a reason inside "unavailable: ..." too. Any other text is returned as it is."""
    for key in keys:
        values = unfill(SAID[key], text)
        if values is not None:
            if key == "unavailable":
                values["reason"] = say_again(values["reason"], REASONS, said)
            return fill(said.get(key, SAID[key]), **values)
    return text
CHECK_SIZE = (480, 640)  # (height, width) of the fixed check image: the size visitors' photos have


class Autocast(nn.Module):
    """A dense part run under autocast, its outputs handed back in fp32.

    Autocast over a whole detector would also decode the boxes in bf16 (torchvision's box
    coder computes in the dtype of the regression), which rounds a coordinate near 600 px to
    a multiple of 4. So only the networks run in reduced precision; box decoding, RoIAlign,
    NMS and keypoint decoding stay in fp32.
    """

    def __init__(self, inner: nn.Module, device_type: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.inner, self.device_type, self.dtype = inner, device_type, dtype

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.inner(*args, **kwargs)
        return _as_fp32(out)


def _as_fp32(value: Any) -> Any:
    """`value` with every floating tensor in it as fp32, its structure (dicts, lists, tuples) kept."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, dict):
        return type(value)((k, _as_fp32(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_as_fp32(v) for v in value)
    return value


def dense_parts(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(parent, attribute) of the parts that are networks, not selection: the backbones and heads of
    torchvision's detectors (the R-CNNs' second-stage heads too), the pose tab's networks, OpenPose's
    stages. [] for a model that is one network from input to output (a CycleGAN generator)."""
    if hasattr(model, "transform") and hasattr(model, "backbone"):  # torchvision's detectors, ours too
        parts = [(model, "backbone")]
        if hasattr(model, "rpn"):
            heads = model.roi_heads
            parts += [(model.rpn, "head"), (heads, "box_head"), (heads, "box_predictor")]
            if getattr(heads, "keypoint_head", None) is not None:
                parts += [(heads, "keypoint_head"), (heads, "keypoint_predictor")]
        elif hasattr(model, "head"):
            parts.append((model, "head"))
        return parts
    if hasattr(model, "detector") and hasattr(model, "keypoints"):  # the bundled top-down pair
        return dense_parts(model.detector) + [(model, "keypoints")]
    if hasattr(model, "net"):  # the bundled bottom-up network inside its grouping
        return [(model, "net")]
    if hasattr(model, "backbone") and hasattr(model, "stages"):  # OpenPose: each stage's two branches
        return [(model, "backbone")] + [(stage, branch) for stage in model.stages for branch in stage]
    return []


@dataclass(frozen=True)
class ServingPath:
    """A memory format and an autocast precision, applied to an fp32 model in place."""

    name: str
    device_type: str  # "cpu" or "cuda"
    channels_last: bool
    dtype: torch.dtype | None  # autocast precision; None: fp32

    def unavailable(self, device: torch.device) -> str | None:
        """Why this path cannot run on `device` (None when it can)."""
        if device.type != self.device_type:
            return fill(SAID["runs_on"], want=self.device_type, have=device.type)
        if self.dtype is torch.bfloat16 and device.type == "cpu" and not cpu_has_bf16():
            return SAID["no_bf16_cpu"]
        if self.dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return SAID["no_bf16_gpu"]
        return None

    def apply(self, model: nn.Module) -> None:
        """Convert `model` in place: 4-D weights to channels-last, each dense part under autocast."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if self.dtype is not None:
            for parent, attribute in dense_parts(model):
                part = getattr(parent, attribute)
                if not isinstance(part, Autocast):
                    setattr(parent, attribute, Autocast(part, self.device_type, self.dtype))

    def undo(self, model: nn.Module) -> None:
        for module in list(model.modules()):
            for attribute, child in list(module.named_children()):
                if isinstance(child, Autocast):
                    setattr(module, attribute, child.inner)
        if self.channels_last:
            model.to(memory_format=torch.contiguous_format)

    def context(self, model: nn.Module) -> contextlib.AbstractContextManager:
        """What each call runs in: autocast around the whole call only for a model without dense parts."""
        if self.dtype is None or dense_parts(model):
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


PATHS = [
    ServingPath("bf16 autocast + channels-last", "cpu", True, torch.bfloat16),
    ServingPath("channels-last (fp32)", "cpu", True, None),
    ServingPath("fp16 autocast + channels-last", "cuda", True, torch.float16),
    ServingPath("bf16 autocast + channels-last (CUDA)", "cuda", True, torch.bfloat16),
]
PATH_NAMES = [p.name for p in PATHS]


@functools.cache
def cpu_has_bf16() -> bool:
    """True where oneDNN runs bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
    native = any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))
    return native and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


# ---------------------------------------------------------------- the machine


@functools.cache
def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_label(device: torch.device | None = None) -> str:
    """The machine in words, as every cached figure is labelled."""
    dev = device or devices.pick_device()
    gpu = f", {torch.cuda.get_device_name(0)}" if dev.type == "cuda" and torch.cuda.is_available() else ""
    return (f"{cpu_name()}, {devices.usable_cores()} cores{gpu}, {platform.machine()}, "
            f"torch {torch.__version__}")


def machine_key(device: torch.device | None = None) -> str:
    """A short name for this machine's figures: a verdict or a timing holds only where it was made."""
    return hashlib.sha1(machine_label(device).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- what "the same outputs" means


def check_image(size: tuple[int, int] = CHECK_SIZE) -> torch.Tensor:
    """A fixed (3, H, W) image in [0, 1]: smooth seeded noise, with edges at every scale like a photo."""
    gen = torch.Generator().manual_seed(20240601)
    h, w = size
    out = torch.zeros(1, 3, h, w)
    for cells in (4, 16, 64):  # coarse blobs, then finer detail
        noise = torch.rand(1, 3, cells, cells * w // h or 1, generator=gen)
        out += nn.functional.interpolate(noise, size=(h, w), mode="bilinear", align_corners=False)
    return (out / 3)[0].clamp(0, 1)


def _fixed_boxes(height: int, width: int) -> torch.Tensor:
    """(48, 4) xyxy boxes on a 4x4 grid in three sizes: the same proposals for both runs."""
    side = min(height, width)
    boxes = []
    for fraction in (0.15, 0.3, 0.6):
        half = fraction * side / 2
        for cy in torch.linspace(0.2, 0.8, 4) * height:
            for cx in torch.linspace(0.2, 0.8, 4) * width:
                boxes.append([max(0.0, cx - half), max(0.0, cy - half), min(width, cx + half),
                              min(height, cy + half)])
    return torch.tensor(boxes)


def _tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor in a nested output (dicts in key order, lists, tuples), as fp32."""
    if isinstance(value, torch.Tensor):
        return [value.float()]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def raw_outputs(model: nn.Module, image: torch.Tensor) -> list[torch.Tensor]:
    """The network's own outputs on one (3, H, W) image, before any threshold, top-k or NMS.

    torchvision's detectors end in data-dependent selection, where a tiny difference can
    swap which box survives, so they are compared before it: the FPN features and the
    dense head's outputs (RetinaNet, FCOS, SSD); for the two-stage R-CNNs, the RPN's
    outputs and the second stage run on the *same* fixed proposals, so every value has a
    counterpart. Any other model is called on the image as a batch of one.
    """
    image = image.to(next(model.parameters()).device)
    transform, backbone = getattr(model, "transform", None), getattr(model, "backbone", None)
    if transform is None or backbone is None:
        return _tensors(model(image[None]))
    images, _ = transform([image])
    features = backbone(images.tensors)
    out = _tensors(features)
    levels = list(features.values())
    if hasattr(model, "rpn") and hasattr(model, "roi_heads"):  # Faster / Keypoint R-CNN
        out += _tensors(model.rpn.head(levels))
        heads, sizes = model.roi_heads, images.image_sizes
        boxes = [_fixed_boxes(*sizes[0]).to(image.device)]
        box_features = heads.box_head(heads.box_roi_pool(features, boxes, sizes))
        out += _tensors(heads.box_predictor(box_features))
        if getattr(heads, "keypoint_head", None) is not None:
            kp = heads.keypoint_head(heads.keypoint_roi_pool(features, boxes, sizes))
            out += _tensors(heads.keypoint_predictor(kp))
        return out
    return out + _tensors(model.head(levels))


def differences(reference: list[torch.Tensor], other: list[torch.Tensor]) -> dict[str, float]:
    """The largest absolute difference, and the largest relative to each tensor's own scale."""
    if len(reference) != len(other) or any(a.shape != b.shape for a, b in zip(reference, other, strict=True)):
        return {"max_abs": float("inf"), "max_rel": float("inf")}
    abs_diff, rel_diff = 0.0, 0.0
    for a, b in zip(reference, other, strict=True):
        if a.numel() == 0:
            continue
        d = float((a - b.to(a.device)).abs().max())
        if d != d:  # NaN: the path broke the numbers
            return {"max_abs": float("inf"), "max_rel": float("inf")}
        abs_diff = max(abs_diff, d)
        rel_diff = max(rel_diff, d / max(float(a.abs().max()), 1e-12))
    return {"max_abs": abs_diff, "max_rel": rel_diff}


# ---------------------------------------------------------------- the check


@dataclass
class Verdict:
    """What the check found for one model on this machine, and the path it chose."""

    path: str  # the path served: a ServingPath's name, or EAGER
    tolerance: float = SERVE_TOLERANCE
    eager_s: float | None = None  # one fp32 eager call on the check image
    tried: list[dict] = field(default_factory=list)  # per candidate: name, max_rel, seconds, speedup, outcome
    date: str = ""
    machine: str = ""

    def describe(self, said: dict[str, str] | None = None) -> str:
        """The path in words, with the evidence, as `/models` and the results show it; in English,
        or in the language of `said` (SAID's phrases in another language)."""
        s = SAID | (said or {})
        chosen = next((t for t in self.tried if t["name"] == self.path), None)
        if chosen is None:
            refused = s["tried_join"].join(
                fill(s["tried"], name=t["name"], outcome=say_again(t["outcome"], OUTCOMES, s))
                for t in self.tried)
            return fill(s["refused"], eager=EAGER, tried=refused or s["no_path"])
        return fill(s["chosen_path"], path=self.path, date=self.date, rel=f"{chosen['max_rel']:.2g}",
                    limit=f"{self.tolerance:g}", speedup=f"{chosen['speedup']:.1f}")


def _timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float]:
    devices.synchronise(device)
    t0 = time.perf_counter()
    out = fn()
    devices.synchronise(device)
    return out, time.perf_counter() - t0


def choose(model: nn.Module, paths: list[ServingPath] | None = None, image: torch.Tensor | None = None,
           tolerance: float = SERVE_TOLERANCE, min_speedup: float = MIN_SPEEDUP) -> Verdict:
    """Try each path on `model` (in the order given) against fp32 eager; keep the first faithful,
    faster one applied to the model, and undo every other. One warm-up call each, then one timed."""
    device = next(model.parameters()).device
    image = (check_image() if image is None else image).to(device)
    paths = [p for p in (PATHS if paths is None else paths) if p.device_type == device.type]
    verdict = Verdict(EAGER, tolerance, date=dt.date.today().isoformat(), machine=machine_label(device))
    with torch.inference_mode():
        reference = raw_outputs(model, image)  # also the warm-up of the eager path
        _, verdict.eager_s = _timed(lambda: raw_outputs(model, image), device)
        for path in paths:
            reason = path.unavailable(device)
            if reason:
                verdict.tried.append({"name": path.name, "outcome": fill(SAID["unavailable"], reason=reason)})
                continue
            trial: dict[str, Any] = {"name": path.name}
            try:
                path.apply(model)
                with path.context(model):
                    out = raw_outputs(model, image)
                    _, seconds = _timed(lambda: raw_outputs(model, image), device)
            except Exception as exc:  # a path that cannot run this model: say so and serve eagerly
                path.undo(model)
                log.warning("serving path %s failed: %s", path.name, exc)
                verdict.tried.append(trial | {"outcome": fill(SAID["failed"], error=type(exc).__name__)})
                continue
            diff = differences(reference, out)
            trial |= {"max_rel": diff["max_rel"], "max_abs": diff["max_abs"], "seconds": seconds,
                      "speedup": verdict.eager_s / seconds}
            if diff["max_rel"] > tolerance:
                trial["outcome"] = fill(SAID["not_faithful"], rel=f"{diff['max_rel']:.2g}",
                                        limit=f"{tolerance:g}")
            elif trial["speedup"] < min_speedup:
                trial["outcome"] = fill(SAID["not_faster"], speedup=f"{trial['speedup']:.2f}")
            else:
                trial["outcome"] = SAID["chosen"]
                verdict.path = path.name
                verdict.tried.append(trial)
                return verdict
            path.undo(model)
            verdict.tried.append(trial)
    return verdict


# ---------------------------------------------------------------- verdicts kept per machine


def _verdict_file() -> Path:
    return settings.acceleration_dir() / f"serving-{machine_key()}.json"


_LOCK = threading.Lock()
_NAME_LOCKS: dict[str, threading.Lock] = {}


def _read_verdicts(path: Path) -> dict[str, dict]:
    """The kept verdicts, or {} (with a logged message) when the file is missing or damaged."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["verdicts"]
        if not isinstance(entries, dict):
            raise TypeError("verdicts is not an object")
        return entries
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the damaged serving-path file %s (%s); paths are checked again", path, exc)
        return {}


def _write_verdict(key: str, verdict: Verdict) -> None:
    path = _verdict_file()
    with _LOCK:
        entries = _read_verdicts(path) | {key: asdict(verdict)}
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(json.dumps({"machine": machine_label(), "verdicts": entries}, indent=1),
                           encoding="utf-8")
        os.replace(staging, path)  # readers see the old file or the new one, never half of one


def _kept(key: str) -> Verdict | None:
    entry = _read_verdicts(_verdict_file()).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        verdict = Verdict(**entry)
    except TypeError:
        return None
    return verdict if verdict.path in (EAGER, *PATH_NAMES) else None


def weights_key(name: str, model: nn.Module) -> str:
    """The model and the weights it holds: a verdict for random weights is not one for real ones."""
    digest = hashlib.sha1()
    for tensor in list(model.state_dict().values())[:8]:  # the first layers identify the file
        digest.update(tensor.detach().float().cpu().numpy().tobytes()[:4096])
    return f"{name}|{digest.hexdigest()[:12]}"


@dataclass
class Served:
    """How a model is being served: the path's name, its context and the evidence for it."""

    path: str
    context: Callable[[], contextlib.AbstractContextManager]
    verdict: Verdict | None = None

    def describe(self) -> str:
        return self.verdict.describe() if self.verdict is not None else self.path


def _served_path(model: nn.Module) -> Served | None:
    return model.__dict__.get("_visionlab_served")


def serve(name: str, model: nn.Module, tier: str, paths: list[ServingPath] | None = None,
          tiers: tuple[str, ...] = SERVED_TIERS, tolerance: float = SERVE_TOLERANCE) -> Served:
    """The way to run `model` (registered as `name`, of `tier`) here; checks and applies a path the
    first time, then remembers it on the model object (a reloaded model gets the kept verdict)."""
    device = next(model.parameters()).device
    if tier not in tiers:
        return Served(f"{EAGER}{' (fp16 autocast)' if device.type == 'cuda' else ''}",
                      lambda: devices.autocast(device))
    served = _served_path(model)
    if served is not None:
        return served
    with _LOCK:
        lock = _NAME_LOCKS.setdefault(name, threading.Lock())
    with lock:  # a second request for the same model waits for the check instead of repeating it
        served = _served_path(model)
        if served is not None:
            return served
        key = weights_key(name, model)
        verdict = _kept(key)
        if verdict is None:
            verdict = choose(model, paths, tolerance=tolerance)
            _write_verdict(key, verdict)
        else:
            chosen = next((p for p in PATHS if p.name == verdict.path), None)
            if chosen is not None:
                chosen.apply(model)
        served = served_from(verdict, model)
        model.__dict__["_visionlab_served"] = served
        return served


def served_from(verdict: Verdict, model: nn.Module) -> Served:
    chosen = next((p for p in PATHS if p.name == verdict.path), None)
    if chosen is None:
        return Served(verdict.path, contextlib.nullcontext, verdict)
    return Served(verdict.path, lambda: chosen.context(model), verdict)


def describe(name: str, tier: str, said: dict[str, str] | None = None) -> str:
    """The serving path of a registered model in words, for `/models` (never runs a check); in
    English, or in the language of `said` (see Verdict.describe)."""
    s = SAID | (said or {})
    if tier not in SERVED_TIERS:
        return fill(s["bundled"], eager=EAGER)
    fields = Verdict.__dataclass_fields__.keys()
    kept = [Verdict(**v) for k, v in _read_verdicts(_verdict_file()).items()
            if k.split("|")[0] == name and isinstance(v, dict) and v.keys() <= fields]
    if not kept:
        return s["first_use"]
    return max(kept, key=lambda v: v.date).describe(said)


def fp32_copy(model: nn.Module) -> nn.Module:
    """A deep copy of `model` as plain fp32 eager: its serving path undone, its verdict not carried."""
    copy_ = copy.deepcopy(model)
    copy_.__dict__.pop("_visionlab_served", None)
    PATHS[0].undo(copy_)  # unwraps any dense part run under autocast, and restores the memory format
    return copy_.to(memory_format=torch.contiguous_format)
