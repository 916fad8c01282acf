"""The pose tab's models: two bundled ones trained here, two published ones fetched on use.

Bundled: the top-down pair (person detector + heat-map network) and the bottom-up
heat-map + PAF network, trained on the same generated scenes (see train.py); their
AP is read from the checkpoint's own metadata, i.e. measured here. Pretrained:
torchvision's Keypoint R-CNN (size and AP from torchvision's weights metadata) and
the OpenPose body model from the Hugging Face Hub, pinned to a commit.
"""

from __future__ import annotations

import json
from functools import partial

import torchvision.models.detection as tvd

from shared.loading import read_metadata
from shared.registry import BundledFile, HubFile, ModelSpec, UrlFile, add_phrases, names, phrase, register

from .bottomup import BottomUpPose
from .openpose import OpenPoseBody, convert
from .topdown import TopDownPose

DEMO = "pose"
TASK = "multi-person pose estimation (COCO-17 keypoints)"
SIMPLE_BASELINES = "Xiao et al. 2018, Simple Baselines for Human Pose Estimation, arXiv:1804.06208"
OPENPOSE_PAPER = "Cao et al. 2017, Realtime Multi-Person 2D Pose Estimation using PAFs, arXiv:1611.08050"
# lllyasviel/Annotators at this commit serves body_pose_model.pth of 209,267,595 bytes.
OPENPOSE_REVISION = "982e7edaec38759d914a963c48c4726685de7d96"

BUNDLED = {
    "tiny-topdown-pose": ("pose_topdown.safetensors", TopDownPose, "top-down", SIMPLE_BASELINES,
                          "Person detector (the detection tab's RetinaNet, one class) + "
                          "SimpleBaselines-style heat-map network on 64x48 crops; trained here on "
                          "generated scenes."),
    "tiny-bottomup-pose": ("pose_bottomup.safetensors", BottomUpPose, "bottom-up", OPENPOSE_PAPER,
                           "One network for 17 heat-maps + 19 part affinity fields at stride 4, then "
                           "greedy PAF grouping; trained here on the same generated scenes."),
}


# The reference metrics' and a licence's words, values at [name] (shared.registry.phrase: the Models
# tab says them in the page's language).
add_phrases(DEMO, {
    "bundled_styled": "keypoint AP [ap] on [n] generated styled (256 px) val scenes (measured here; not "
                      "comparable with COCO figures)",
    "bundled_plain": "keypoint AP [ap] on [n] generated plain (128 px) val scenes (measured here; not "
                     "comparable with COCO figures)",
    "coco_ap": "COCO val2017 keypoint AP [ap] (torchvision); [gflops] GFLOPS",
    "openpose_ap": "COCO 2016 test-dev keypoint AP [ap] (Cao et al. 2017)",
    "openpose_licence": "CMU OpenPose licence (non-commercial research); Caffe weights converted to PyTorch",
})


def checkpoint_metadata(filename: str) -> dict:
    """The training record stored in a bundled checkpoint ({} when the file is missing)."""
    try:
        return json.loads(read_metadata(BundledFile(filename).path).get("training", "{}"))
    except Exception:  # a missing or damaged file is reported by the loader, not here
        return {}


def _bundled_metric(filename: str) -> dict:
    """{"reference_metric": its phrase}, or {} when the file holds no AP."""
    meta = checkpoint_metadata(filename)
    val = meta.get("val", {})
    if "AP" not in val:
        return {}
    scenes = "styled" if meta.get("data") == "styled" else "plain"
    return {"reference_metric": phrase(f"pose.bundled_{scenes}", ap=f"{val['AP'] * 100:.1f}",
                                       n=meta.get("val_n"))}


for _name, (_file, _build, _method, _paper, _what) in BUNDLED.items():
    _meta = checkpoint_metadata(_file)
    if "input_size" in _meta:  # a bottom-up net trained at another size runs at that size
        _build = partial(_build, input_size=int(_meta["input_size"]))
    register(ModelSpec(
        name=_name, demo=DEMO, task=TASK, tier="bundled", weights=BundledFile(_file), build=_build,
        size_mb=round(BundledFile(_file).path.stat().st_size / 1e6, 1) if BundledFile(_file).path.is_file()
        else 4.5,
        licence="MIT", paper=_paper, phrases=_bundled_metric(_file), description=_what,
        extra={"method": _method, "measured_ap": _meta.get("val", {}).get("AP"),
               "card": f"checkpoints/{_file.replace('.safetensors', '.md')}"},
    ))

_KPRCNN = tvd.KeypointRCNN_ResNet50_FPN_Weights.COCO_V1
_KP_METRICS = _KPRCNN.meta["_metrics"]["COCO-val2017"]
register(ModelSpec(
    name="keypointrcnn_resnet50_fpn", demo=DEMO, task=TASK, tier="pretrained", weights=UrlFile(_KPRCNN.url),
    # No weights and no backbone weights: the loader fills in the COCO checkpoint.
    build=partial(tvd.keypointrcnn_resnet50_fpn, weights=None, weights_backbone=None, num_classes=2,
                  num_keypoints=17),
    size_mb=float(_KPRCNN.meta["_file_size"]), licence="BSD-3-Clause (torchvision)",
    paper=_KPRCNN.meta.get("recipe", ""),
    phrases={"reference_metric": phrase("pose.coco_ap", ap=_KP_METRICS["kp_map"],
                                        gflops=f"{_KPRCNN.meta['_ops']:.0f}")},
    description="Top-down in one network: Mask R-CNN's recipe with a keypoint head on each person box.",
    extra={"method": "top-down", "published_ap": _KP_METRICS["kp_map"], "box_ap": _KP_METRICS["box_map"]},
))

register(ModelSpec(
    name="openpose_body_coco", demo=DEMO, task=TASK, tier="pretrained",
    weights=HubFile("lllyasviel/Annotators", "body_pose_model.pth", OPENPOSE_REVISION),
    build=OpenPoseBody, convert=convert, size_mb=209.3,
    licence="", paper=OPENPOSE_PAPER,
    phrases={"licence": phrase("pose.openpose_licence"),
             "reference_metric": phrase("pose.openpose_ap", ap=61.8)},
    description="Bottom-up: CMU's six-stage VGG network (18 keypoint heat-maps + 19 PAFs), grouped here "
                "and mapped to COCO-17.",
    extra={"method": "bottom-up", "published_ap": 61.8},
))


def bundled_names() -> list[str]:
    return names(DEMO, "bundled")


def pose_names(tier: str | None = None) -> list[str]:
    return names(DEMO, tier)  # type: ignore[arg-type]
