"""A compact RetinaNet for the focal-loss experiment, built on torchvision's RetinaNet.

torchvision supplies the detector (transform, anchors, matcher, box coding, NMS); this
module supplies what a 2-core CPU can train in under an hour: a small three-stage
conv backbone with a two-level FPN (strides 8 and 16), shallow GroupNorm head towers,
and a classification head whose loss is chosen by name. Everything that decides the
architecture lives in CONFIG, which is stored in every checkpoint's metadata so the
loader can rebuild the exact model.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torchvision.models.detection import RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.retinanet import (
    RetinaNetClassificationHead,
    RetinaNetHead,
    RetinaNetRegressionHead,
)
from torchvision.ops import box_iou

from shared.loading import read_metadata

from .losses import LOSSES, classification_loss, one_hot_targets

CONFIG: dict = {
    "num_classes": 5,
    "image_size": 256,
    "stage_channels": [16, 32, 64, 128],  # stem, then stages at strides 4, 8, 16
    "fpn_channels": 64,
    "tower_depth": 2,
    # Three scales per level, an octave apart across levels, to cover 12-72 px objects.
    "anchor_sizes": [[12, 17, 24], [32, 45, 64]],
    "aspect_ratios": [0.5, 1.0, 2.0],
    "prior_probability": 0.01,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.25, 0.25, 0.25],
    "score_thresh": 0.05,
    "nms_thresh": 0.5,
    "detections_per_img": 100,
    "box_loss": "giou",
}


# Version 2: "ohem" is the paper's OHEM; version 1 used the name for SSD-style mining (now "hnm").
FORMAT = "vision-lab-detection-2"


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class TinyFPNBackbone(nn.Module):
    """Three conv stages and a two-level FPN; returns P3 (stride 8) and P4 (stride 16)."""

    def __init__(self, stage_channels: list[int], out_channels: int) -> None:
        super().__init__()
        c0, c1, c2, c3 = stage_channels
        self.stem = _conv_bn(3, c0, stride=2)
        self.stage1 = nn.Sequential(_conv_bn(c0, c1, 2), _conv_bn(c1, c1))
        self.stage2 = nn.Sequential(_conv_bn(c1, c2, 2), _conv_bn(c2, c2))
        self.stage3 = nn.Sequential(_conv_bn(c2, c3, 2), _conv_bn(c3, c3))
        self.lateral3 = nn.Conv2d(c2, out_channels, 1)
        self.lateral4 = nn.Conv2d(c3, out_channels, 1)
        self.smooth3 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.out_channels = out_channels  # RetinaNet reads this to size its heads

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        c3 = self.stage2(self.stage1(self.stem(x)))  # (N, c2, H/8, W/8)
        c4 = self.stage3(c3)  # (N, c3, H/16, W/16)
        p4 = self.lateral4(c4)
        # Top-down path: small objects on P3 also see the coarser context of P4.
        p3 = self.smooth3(
            self.lateral3(c3) + nn.functional.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        )
        return OrderedDict([("p3", p3), ("p4", p4)])


def _tower(channels: int, depth: int) -> nn.Sequential:
    """Head tower; GroupNorm because from-scratch training without norm is slow and BN
    statistics over a few small images are noisy.

    One sub-Sequential per block gives torchvision's v2 key layout (conv.<i>.0.weight),
    so its loader does not rename our keys as if they were an old checkpoint.
    """
    blocks: list[nn.Module] = []
    for _ in range(depth):
        conv = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.normal_(conv.weight, std=0.01)
        nn.init.zeros_(conv.bias)
        blocks.append(nn.Sequential(conv, nn.GroupNorm(16, channels), nn.ReLU(inplace=True)))
    return nn.Sequential(*blocks)


class SwitchableClassificationHead(RetinaNetClassificationHead):
    """RetinaNet's classification head with a shallow tower and a loss chosen by name.

    The prior bias -log((1 - pi) / pi) is set by the parent; it does not depend on the
    loss, so runs with different losses start from identical weights.
    """

    def __init__(
        self, channels: int, num_anchors: int, num_classes: int, loss: str, depth: int, prior: float,
        loss_params: dict[str, float] | None = None,
    ):
        super().__init__(channels, num_anchors, num_classes, prior_probability=prior)
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        self.conv = _tower(channels, depth)
        self.loss = loss
        self.loss_params = dict(loss_params or {})
        assert math.isclose(
            float(self.cls_logits.bias.detach()[0]), -math.log((1 - prior) / prior),
            rel_tol=1e-5, abs_tol=1e-6,
        )

    def compute_loss(self, targets, head_outputs, matched_idxs, anchors=None):  # torchvision's signature
        losses = []
        anchors = anchors if anchors is not None else [None] * len(targets)
        for target, logits, matched, boxes in zip(targets, head_outputs["cls_logits"], matched_idxs, anchors,
                                                  strict=True):
            gt = one_hot_targets(logits, matched, target["labels"])
            valid = matched != self.BETWEEN_THRESHOLDS  # anchors with IoU in [0.4, 0.5) are ignored
            num_foreground = int((matched >= 0).sum())
            losses.append(classification_loss(
                self.loss, logits[valid], gt[valid], num_foreground,
                anchors=None if boxes is None else boxes[valid], params=self.loss_params,
            ))
        return sum(losses) / len(targets)


class DetectorHead(RetinaNetHead):
    """RetinaNet's head, except that the classification loss also sees each anchor's
    predicted box (OHEM runs NMS over them). Same submodules, so the same state-dict keys.

    Predicted boxes, not the anchors themselves: with this anchor layout no two anchors
    overlap at IoU >= 0.7 (the largest overlap is 0.698), so NMS at the paper's 0.7 over
    the anchors would remove nothing; the boxes the anchors predict do crowd together.
    """

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        with torch.no_grad():
            coder = self.regression_head.box_coder
            predicted = [coder.decode_single(deltas.detach(), a)  # (A, 4) xyxy per image
                         for deltas, a in zip(head_outputs["bbox_regression"], anchors, strict=True)]
        return {
            "classification": self.classification_head.compute_loss(targets, head_outputs, matched_idxs,
                                                                     predicted),
            "bbox_regression": self.regression_head.compute_loss(targets, head_outputs, anchors,
                                                                 matched_idxs),
        }


def build_detector(
    loss: str = "focal", num_classes: int | None = None, seed: int = 0, config: dict | None = None,
    loss_params: dict[str, float] | None = None,
) -> RetinaNet:
    """A RetinaNet whose weights depend only on `seed` and `config`, never on `loss`.

    `loss_params` override the loss's defaults (losses.DEFAULT_PARAMS), e.g. gamma and alpha.
    """
    cfg = dict(CONFIG if config is None else config)
    if num_classes is not None:
        cfg["num_classes"] = num_classes
    torch.manual_seed(seed)
    backbone = TinyFPNBackbone(cfg["stage_channels"], cfg["fpn_channels"])
    sizes = tuple(tuple(level) for level in cfg["anchor_sizes"])
    anchors = AnchorGenerator(sizes, (tuple(cfg["aspect_ratios"]),) * len(sizes))
    num_anchors = anchors.num_anchors_per_location()[0]
    head = DetectorHead(cfg["fpn_channels"], num_anchors, cfg["num_classes"])
    # Replace both heads (classification first, a fixed order keeps init identical).
    head.classification_head = SwitchableClassificationHead(
        cfg["fpn_channels"],
        num_anchors,
        cfg["num_classes"],
        loss,
        cfg["tower_depth"],
        cfg["prior_probability"],
        loss_params,
    )
    head.regression_head = RetinaNetRegressionHead(cfg["fpn_channels"], num_anchors)
    head.regression_head.conv = _tower(cfg["fpn_channels"], cfg["tower_depth"])
    head.regression_head._loss_type = cfg["box_loss"]
    model = RetinaNet(
        backbone,
        cfg["num_classes"],
        # A fixed 256 px working size: any input is resized to it by the transform.
        min_size=cfg["image_size"],
        max_size=cfg["image_size"],
        image_mean=cfg["image_mean"],
        image_std=cfg["image_std"],
        anchor_generator=anchors,
        head=head,
        score_thresh=cfg["score_thresh"],
        nms_thresh=cfg["nms_thresh"],
        detections_per_img=cfg["detections_per_img"],
    )
    model.config = cfg
    model.loss_name = loss
    model.loss_params = dict(loss_params or {})
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def forward_matched(model: RetinaNet, image: torch.Tensor, target: dict[str, torch.Tensor]):
    """Logits (A, K), anchors (A, 4) and matcher output (A,) for one image, as in training."""
    was_training = model.training
    model.eval()
    images, targets = model.transform([image], [{k: v.clone() for k, v in target.items()}])
    features = list(model.backbone(images.tensors).values())
    logits = model.head.classification_head(features)[0]  # (A, K), A = sum over levels of H*W*anchors
    anchors = model.anchor_generator(images, features)[0]  # (A, 4) xyxy in the resized image
    boxes = targets[0]["boxes"]
    if boxes.numel() == 0:
        matched = torch.full((anchors.shape[0],), -1, dtype=torch.int64, device=anchors.device)
    else:
        matched = model.proposal_matcher(box_iou(boxes, anchors))
    model.train(was_training)
    return logits, anchors, matched


def match_anchors(model: RetinaNet, image: torch.Tensor, target: dict[str, torch.Tensor]):
    """(anchors (A, 4), matched_idxs (A,)) with the model's own anchor generator and matcher."""
    _, anchors, matched = forward_matched(model, image, target)
    return anchors, matched


def save_checkpoint(model: RetinaNet, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Weights as fp32 safetensors; CONFIG and the loss name go into the metadata."""
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(model.config), "loss": model.loss_name, "format": FORMAT,
            "loss_params": json.dumps(getattr(model, "loss_params", {}))}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)


def load_checkpoint(path: str | Path) -> RetinaNet:
    """Rebuild the detector from the metadata's CONFIG and load its weights (eval mode)."""
    meta = read_metadata(path)
    if "config" not in meta:
        raise ValueError(f"{path} is not a detection checkpoint (no config in its metadata)")
    loss = meta.get("loss", "focal")
    if meta.get("format") == "vision-lab-detection-1" and loss == "ohem":
        loss = "hnm"  # the first format's "ohem" was SSD-style hard-negative mining
    model = build_detector(loss, config=json.loads(meta["config"]),
                           loss_params=json.loads(meta.get("loss_params", "{}")))
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    model.load_state_dict(state)
    model.metadata = meta
    return model.eval()
