"""The official OpenPose body model (COCO, 18 keypoints) and its part-affinity grouping.

The network is CMU's six-stage model (Cao et al. 2017, arXiv:1611.08050): the first
ten layers of VGG-19 plus two CPM layers give 128 features at stride 8; stage 1 and
five refinement stages each predict 38 PAF channels (branch L1, 19 limbs x 2) and 19
heat-maps (branch L2, 18 keypoints + background), every refinement stage reading the
previous stage's outputs next to the features. The weights are the Caffe model
converted to PyTorch, as published in lllyasviel/Annotators (body_pose_model.pth):
a flat dict keyed by Caffe layer names ("conv1_1.weight", "Mconv7_stage6_L2.bias"),
which `convert` files under this module's names. Grouping reuses bottomup.group.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from .bottomup import find_peaks, group

# VGG-19's first ten convolutions (3x3) and the two CPM layers; "pool" halves the size.
BACKBONE = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64), "pool1",
    ("conv2_1", 64, 128), ("conv2_2", 128, 128), "pool2",
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256), "pool3",
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3_CPM", 512, 256), ("conv4_4_CPM", 256, 128),
)
STAGES = 6
OUTPUTS = {1: 38, 2: 19}  # Caffe branch L1: PAFs, L2: heat-maps (the last one is background)
STRIDE = 8
# The model's 18 keypoints: nose, neck, then right/left shoulder-elbow-wrist, right/left
# hip-knee-ankle, right/left eye, right/left ear. COCO-17 keypoint j is OpenPose's TO_COCO[j].
TO_COCO = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)
# The 19 limbs (keypoint pairs) in the order OpenPose assembles them, and the PAF
# channels (x, y) of each: the model's fixed output layout. The last two (ear to
# shoulder) are redundant and may not start a new person.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
    (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17),
)
PAF_CHANNELS = (
    (12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7), (8, 9),
    (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27),
)
PEAK_THRESHOLD, PAF_THRESHOLD = 0.1, 0.05  # the reference implementation's thre1, thre2


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, 1, k // 2)


def _branch(stage: int, branch: int) -> nn.Sequential:
    """One branch of one stage, its layers named as in the Caffe model."""
    out = OUTPUTS[branch]
    if stage == 1:
        spec = [(f"conv5_{i}_CPM_L{branch}", 128, 128, 3) for i in (1, 2, 3)]
        spec += [(f"conv5_4_CPM_L{branch}", 128, 512, 1), (f"conv5_5_CPM_L{branch}", 512, out, 1)]
    else:
        cin = 128 + OUTPUTS[1] + OUTPUTS[2]  # features + both previous outputs = 185
        spec = [(f"Mconv1_stage{stage}_L{branch}", cin, 128, 7)]
        spec += [(f"Mconv{i}_stage{stage}_L{branch}", 128, 128, 7) for i in (2, 3, 4, 5)]
        spec += [(f"Mconv6_stage{stage}_L{branch}", 128, 128, 1),
                 (f"Mconv7_stage{stage}_L{branch}", 128, out, 1)]
    layers: list[tuple[str, nn.Module]] = []
    for i, (name, cin, cout, k) in enumerate(spec):
        layers.append((name, _conv(cin, cout, k)))
        if i < len(spec) - 1:  # the last layer of a branch is linear
            layers.append((f"{name}_relu", nn.ReLU(inplace=True)))
    return nn.Sequential(OrderedDict(layers))


class OpenPoseBody(nn.Module):
    """Image (N, 3, H, W), BGR scaled to [-0.5, 0.5) -> (PAFs (N, 38, H/8, W/8), heat-maps (N, 19, ...))."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[tuple[str, nn.Module]] = []
        for item in BACKBONE:
            if isinstance(item, str):
                layers.append((item, nn.MaxPool2d(2, 2)))
            else:
                name, cin, cout = item
                layers += [(name, _conv(cin, cout, 3)), (f"{name}_relu", nn.ReLU(inplace=True))]
        self.backbone = nn.Sequential(OrderedDict(layers))
        self.stages = nn.ModuleList(
            nn.ModuleDict({"paf": _branch(s, 1), "heat": _branch(s, 2)}) for s in range(1, STAGES + 1)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        inputs = features
        for stage in self.stages:
            paf, heat = stage["paf"](inputs), stage["heat"](inputs)
            inputs = torch.cat([paf, heat, features], dim=1)  # (N, 38 + 19 + 128, h, w)
        return paf, heat

    @torch.no_grad()
    def estimate_people(self, image: torch.Tensor, input_height: int | None = None) -> dict:
        """People in one RGB image (3, H, W) in [0, 1], keypoints in COCO-17 order and image pixels.

        The image is scaled to `input_height` (OpenPose's 368 on a GPU, half that on a
        CPU as the reference PyTorch port does), padded to a multiple of 8, and the
        outputs are upsampled x8 and smoothed (Gaussian, sigma 3) before peak finding.
        """
        _, h, w = image.shape
        if input_height is None:
            input_height = 368 if image.device.type == "cuda" else 184
        scale = input_height / h
        nh, nw = input_height, max(STRIDE, round(w * scale))
        x = F.interpolate(image[None], size=(nh, nw), mode="bicubic", align_corners=False)
        ph, pw = -nh % STRIDE, -nw % STRIDE
        x = F.pad(x, (0, pw, 0, ph), value=0.5)  # grey padding, 128 in the original code
        x = x[:, [2, 1, 0]] * (255 / 256) - 0.5  # RGB -> BGR, the model's input scaling
        paf, heat = self(x)
        size = (x.shape[-2], x.shape[-1])
        heat = F.interpolate(heat, size=size, mode="bicubic", align_corners=False)[0, :18, :nh, :nw]
        paf = F.interpolate(paf, size=size, mode="bicubic", align_corners=False)[0, :, :nh, :nw]
        heat, paf = heat.float().cpu(), paf.float().cpu()
        smooth = gaussian_blur(heat, kernel_size=[19, 19], sigma=[3.0, 3.0])
        peaks = find_peaks(smooth, PEAK_THRESHOLD)
        for k, p in enumerate(peaks):  # score with the unsmoothed map, as the original does
            if len(p):
                p[:, 2] = heat[k, np.rint(p[:, 1]).astype(int), np.rint(p[:, 0]).astype(int)].numpy()
        people = []
        for kps18, _ in group(peaks, paf.numpy(), LIMBS, list(PAF_CHANNELS), min_parts=4,
                              paf_threshold=PAF_THRESHOLD, seeding_limbs=17):
            kps = kps18[list(TO_COCO)]  # (18, 3) -> (17, 3): the neck has no COCO keypoint
            found = kps[:, 2] > 0
            kps[found, :2] = (kps[found, :2] + 0.5) / scale - 0.5  # pixel centres, network -> input
            kps[:, 2] = np.clip(kps[:, 2], 0, 1)
            people.append((kps, float(kps[:, 2].sum() / len(kps))))
        coco_heat = heat[list(TO_COCO)]
        coco_paf = paf[[c for pair in PAF_CHANNELS for c in pair]]  # limb order, x then y
        return {"people": people, "heatmaps": coco_heat, "pafs": coco_paf, "scale": scale, "map_stride": 1}


_LAYER = re.compile(r"^(?:Mconv\d+_stage(?P<stage>\d)|conv5_\d_CPM)_L(?P<branch>[12])$")


def convert(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """body_pose_model.pth's Caffe layer names -> this module's state-dict keys."""
    out = {}
    for key, value in state.items():
        layer = key.rsplit(".", 1)[0]
        match = _LAYER.match(layer)
        if match is None:
            out[f"backbone.{key}"] = value
            continue
        stage = int(match["stage"] or 1) - 1
        out[f"stages.{stage}.{'paf' if match['branch'] == '1' else 'heat'}.{key}"] = value
    return out


def caffe_names(model: OpenPoseBody) -> dict[str, torch.Tensor]:
    """The inverse of `convert`: this module's weights under the published file's key names."""
    return {k.split(".", 1)[1] if k.startswith("backbone.") else k.split(".", 3)[3]: v
            for k, v in model.state_dict().items()}
