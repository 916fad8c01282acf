"""The detection tab's models: three bundled detectors and torchvision's COCO detectors.

The bundled three are one architecture trained three times, changing only the
classification loss (see train.py). The pretrained ones are torchvision's published
COCO checkpoints; their size, box AP and GFLOPS come from torchvision's own metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torchvision.models.detection as tvd

from demos.detection.data import CLASSES
from demos.detection.experiment import ARMS, HALF_WIDTH
from demos.detection.model import build_detector, read_metadata
from shared.registry import BundledFile, ModelSpec, UrlFile, add_phrases, phrase, register

DEMO = "detection"
FOCAL_PAPER = "Lin et al. 2017, Focal Loss for Dense Object Detection, arXiv:1708.02002"

# registry suffix -> (loss the checkpoint was trained with, in words)
BUNDLED_LOSSES = {
    "focal": ("focal", "focal loss (γ=2, α=0.25)"),
    "ce": ("ce", "α-balanced cross-entropy (α=0.75)"),
    # Named "ohem" when it was trained; it is SSD-style mining, not the paper's OHEM.
    "ohem": ("hnm", "cross-entropy with SSD-style hard-negative mining (3 negatives per positive)"),
}


# The reference metrics' words, values at [name] (shared.registry.phrase: the Models tab says them
# in the page's language).
add_phrases(DEMO, {
    "bundled_ap": "AP [ap] on generated val scenes (measured here)",
    "sweep_ap": "AP [ap] (class-agnostic [agnostic]) on val scenes with [objects] object(s) (measured here)",
    "coco_ap": "COCO val2017 box AP [ap] (torchvision); [gflops] GFLOPS",
})


def bundled_name(loss: str) -> str:
    return f"tiny-retinanet-{loss}"


def _bundled_metric(filename: str) -> dict:
    """{"reference_metric": its phrase}, or {} when the file holds no AP."""
    try:
        meta = read_metadata(BundledFile(filename).path)
    except Exception:  # a missing file is reported by the loader, not here
        return {}
    ap = meta.get("val_ap")
    return {"reference_metric": phrase("detection.bundled_ap", ap=f"{float(ap) * 100:.1f}")} if ap else {}


for _suffix, (_loss, _what) in BUNDLED_LOSSES.items():
    _file = f"detection_{_suffix}.safetensors"
    register(ModelSpec(
        name=bundled_name(_suffix), demo=DEMO, task="object detection (5 shape classes)",
        tier="bundled", weights=BundledFile(_file), build=partial(build_detector, _loss),
        size_mb=1.5, licence="MIT", paper=FOCAL_PAPER, phrases=_bundled_metric(_file),
        description=f"Compact RetinaNet trained here on generated scenes with {_what}.",
        extra={"categories": list(CLASSES), "loss": _loss},
    ))


# The sweep's models the tab shows (python -m demos.detection.bundle ships them): seed 0 of each
# main arm at the most (1 object per scene) and least (8) imbalanced level. Each registers once
# its file is shipped, so the tab grows with the sweep.
SWEEP_SHOWN = [(arm, objects) for objects in (1, 8) for arm in ("ce", "focal", "ohem")]


def sweep_name(arm: str, objects: int) -> str:
    return f"sweep-{arm}-{objects}obj"


def sweep_file(arm: str, objects: int) -> str:
    return f"detection_sweep_{arm}_obj{objects}.safetensors"


def _sweep_metric(filename: str) -> dict:
    meta = read_metadata(BundledFile(filename).path)
    return {"reference_metric": phrase("detection.sweep_ap", ap=f"{float(meta['val_ap']) * 100:.1f}",
                                       agnostic=f"{float(meta['agnostic_ap']) * 100:.1f}",
                                       objects=meta["objects_per_scene"])}


for _arm, _objects in SWEEP_SHOWN:
    _file = sweep_file(_arm, _objects)
    if not BundledFile(_file).path.exists():
        continue
    _spec = ARMS[_arm]
    register(ModelSpec(
        name=sweep_name(_arm, _objects), demo=DEMO, task="object detection (5 shape classes)",
        tier="bundled", weights=BundledFile(_file),
        build=partial(build_detector, _spec.loss, config=HALF_WIDTH, loss_params=_spec.params),
        size_mb=0.6, licence="MIT", paper=FOCAL_PAPER, phrases=_sweep_metric(_file),
        description=f"The focal-loss sweep's half-width RetinaNet, trained with {_arm} at {_objects} "
                    f"object(s) per scene, SGD, seed 0.",
        extra={"categories": list(CLASSES), "loss": _spec.loss, "objects_per_scene": _objects},
    ))


# name -> (builder, weights enum member, how it copes with background)
PRETRAINED: dict[str, tuple[Callable, object, str]] = {
    "retinanet_resnet50_fpn": (tvd.retinanet_resnet50_fpn, tvd.RetinaNet_ResNet50_FPN_Weights.COCO_V1,
                               "one-stage, focal loss over all anchors"),
    "retinanet_resnet50_fpn_v2": (tvd.retinanet_resnet50_fpn_v2,
                                  tvd.RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1,
                                  "one-stage, focal loss over all anchors"),
    "fasterrcnn_resnet50_fpn_v2": (tvd.fasterrcnn_resnet50_fpn_v2,
                                   tvd.FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1,
                                   "two-stage: proposals, then sampled 1:3 minibatches"),
    "fasterrcnn_mobilenet_v3_large_320_fpn": (
        tvd.fasterrcnn_mobilenet_v3_large_320_fpn,
        tvd.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1,
        "two-stage: proposals, then sampled 1:3 minibatches"),
    "ssd300_vgg16": (tvd.ssd300_vgg16, tvd.SSD300_VGG16_Weights.COCO_V1,
                     "one-stage, hard negative mining 3:1"),
    "ssdlite320_mobilenet_v3_large": (tvd.ssdlite320_mobilenet_v3_large,
                                      tvd.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1,
                                      "one-stage, hard negative mining 3:1"),
}


def _build_pretrained(builder: Callable) -> object:
    # No weights and no backbone weights: the loader fills in the COCO checkpoint.
    return builder(weights=None, weights_backbone=None, num_classes=91)


for _name, (_builder, _weights, _how) in PRETRAINED.items():
    _meta = _weights.meta
    _ap = _meta["_metrics"]["COCO-val2017"]["box_map"]
    register(ModelSpec(
        name=_name, demo=DEMO, task="object detection (COCO, 80 classes)", tier="pretrained",
        weights=UrlFile(_weights.url), build=partial(_build_pretrained, _builder),
        size_mb=float(_meta["_file_size"]), licence="BSD-3-Clause (torchvision)",
        paper=_meta.get("recipe", ""),
        phrases={"reference_metric": phrase("detection.coco_ap", ap=_ap, gflops=f"{_meta['_ops']:.1f}")},
        description=_how,
        extra={"categories": list(_meta["categories"]), "box_ap": _ap, "gflops": _meta["_ops"],
               "how": _how},
    ))


def detection_names(tier: str | None = None) -> list[str]:
    from shared.registry import names

    return names(DEMO, tier)  # type: ignore[arg-type]
