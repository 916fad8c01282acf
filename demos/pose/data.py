"""Generated multi-person scenes with COCO-17 keypoints, a pure function of their seed.

Each person is an articulated figure drawn in the COCO keypoint layout: a head with
eyes, nose and ears, a torso, and arms and legs with their own widths. A figure has
a height, a lean, a yaw (front, side or back view; the face is only drawn when it is
turned towards the camera, which is what tells left from right), and random joint
angles. People are drawn back to front, so later ones occlude earlier ones, and some
scenes add an occluding object. A per-pixel owner map decides the COCO visibility
flag of every keypoint: 2 visible, 1 labelled but occluded, 0 not labelled (outside
the image, or a face part turned away from the camera).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 128
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
# COCO's skeleton (person_keypoints annotations, made 0-based): 19 limbs.
SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
# Horizontal flips swap these keypoints (left <-> right).
FLIP_INDEX = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
# Disjoint seed ranges: a val scene can never be a train scene.
SPLIT_OFFSETS = {"train": 0, "val": 1_000_000, "timing": 2_000_000}
MAX_PEOPLE = 6  # per training/val scene; timing scenes ask for a count explicitly

# Body proportions in units of the figure's height (top of head to ankles).
HEAD_R, NECK, TORSO, HIP_W, SHOULDER_W = 0.075, 0.13, 0.30, 0.075, 0.11
UPPER_ARM, FOREARM, THIGH, SHIN = 0.17, 0.15, 0.24, 0.23
WIDTH = {"upper_arm": 0.065, "forearm": 0.055, "thigh": 0.085, "shin": 0.07}


def split_seed(split: str, index: int) -> int:
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_OFFSETS)}")
    return SPLIT_OFFSETS[split] + index


def _colour(rng: np.random.Generator, far_from: np.ndarray | None = None) -> tuple[int, int, int]:
    """A random colour, at a distance from `far_from` so a figure never melts into the ground."""
    for _ in range(10):
        c = rng.integers(0, 256, size=3)
        if far_from is None or np.linalg.norm(c - far_from) > 80:
            break
    return tuple(int(v) for v in c)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float: a gradient, low-frequency blotches or stripes between two colours."""
    a, b = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    kind = rng.integers(0, 3)
    if kind == 0:
        angle = rng.uniform(0, 2 * math.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
        t = (t - t.min()) / (np.ptp(t) + 1e-6)
    elif kind == 1:
        cells = int(rng.integers(3, 8))
        grid = rng.uniform(0, 255, size=(cells, cells)).astype(np.uint8)
        t = np.asarray(Image.fromarray(grid).resize((size, size), Image.BICUBIC)) / 255.0
    else:
        freq, angle = rng.uniform(3, 14), rng.uniform(0, math.pi)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy))
    return a * (1 - t[..., None]) + b * t[..., None]  # (size, size, 1) broadcasts over colour


def _clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, mean: np.ndarray) -> None:
    """Distractors; thick segments and blobs look like loose limbs and heads on purpose."""
    s = size / IMAGE_SIZE
    for _ in range(int(rng.integers(2, 9))):
        colour = _colour(rng, mean)
        x, y = rng.uniform(0, size, size=2)
        kind = rng.integers(0, 4)
        if kind == 0:
            x2, y2 = x + rng.normal(0, 18 * s), y + rng.normal(0, 18 * s)
            draw.line([x, y, x2, y2], fill=colour, width=int(rng.integers(2, 7) * s))
        elif kind == 1:
            r = rng.uniform(2, 9) * s
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        elif kind == 2:
            w, h = rng.uniform(4, 30, size=2) * s
            draw.rectangle([x, y, x + w, y + h], outline=colour, width=max(1, int(2 * s)))
        else:
            pts = [(x + rng.normal(0, 10 * s), y + rng.normal(0, 10 * s)) for _ in range(4)]
            draw.line(pts, fill=colour, width=max(1, int(2 * s)))


def _figure(rng: np.random.Generator, cx: float, feet_y: float, height: float) -> dict:
    """One random figure: keypoints "k" (17, 2), which face parts are turned away, and the
    geometry `_draw_figure` needs (head, torso ends, facing, far-to-near side order)."""
    yaw = rng.uniform(-math.pi, math.pi)
    cos_y, sin_y = math.cos(yaw), math.sin(yaw)
    lean = rng.normal(0, 0.12)
    up = np.array([math.sin(lean), -math.cos(lean)])  # unit vector towards the head
    right = np.array([-up[1], up[0]])  # image-right when the figure faces the camera
    h = height
    hip = np.array([cx, feet_y - (THIGH + SHIN) * h * rng.uniform(0.93, 1.0)])
    shoulder_mid = hip + up * TORSO * h
    tilt = rng.normal(0, 0.15)
    head_up = np.array([math.sin(lean + tilt), -math.cos(lean + tilt)])
    head = shoulder_mid + head_up * NECK * h
    head_right = np.array([-head_up[1], head_up[0]])

    k = np.zeros((NUM_KEYPOINTS, 2))
    hidden = np.zeros(NUM_KEYPOINTS, bool)  # face parts turned away: not labelled
    # Head-local 3D points (x towards the figure's left, y down, z towards the face),
    # turned by the yaw; the camera looks along -z, so z' > 0 faces it.
    face = {0: (0.0, 0.15, 1.0), 1: (0.4, -0.15, 0.85), 2: (-0.4, -0.15, 0.85), 3: (0.95, 0.0, -0.1),
            4: (-0.95, 0.0, -0.1)}
    for i, (x, y, z) in face.items():
        xr, zr = x * cos_y + z * sin_y, -x * sin_y + z * cos_y
        k[i] = head + HEAD_R * h * (xr * head_right + y * -head_up)
        hidden[i] = zr < -0.35 if i < 3 else zr < -0.6
    for side, sign in ((0, 1.0), (1, -1.0)):  # 0: left, 1: right (the figure's own)
        k[5 + side] = shoulder_mid + right * sign * SHOULDER_W * h * cos_y
        k[11 + side] = hip + right * sign * HIP_W * h * cos_y
        outward = sign * (1.0 if cos_y >= 0 else -1.0)  # which image side this limb swings to
        a_upper = rng.uniform(-0.5, 2.4)
        a_fore = a_upper + rng.uniform(-2.0, 0.6)
        for joint, start, length, angle in ((7, 5, UPPER_ARM, a_upper), (9, 7, FOREARM, a_fore)):
            d = -up * math.cos(angle) + right * outward * math.sin(angle)
            k[joint + side] = k[start + side] + d * length * h
        a_thigh = rng.uniform(-0.35, 0.7)
        a_shin = a_thigh + rng.uniform(-0.8, 0.3)
        for joint, start, length, angle in ((13, 11, THIGH, a_thigh), (15, 13, SHIN, a_shin)):
            d = -up * math.cos(angle) + right * outward * math.sin(angle)
            k[joint + side] = k[start + side] + d * length * h
        k[15 + side, 1] = min(k[15 + side, 1], feet_y)  # the ground is the ground
    # The figure's left side is nearer the camera when -sin(yaw) > 0; the far side is drawn first.
    far_then_near = (1, 0) if -sin_y > 0 else (0, 1)
    return {"k": k, "hidden": hidden, "head": head, "head_up": head_up, "h": h, "shoulder_mid": shoulder_mid,
            "hip": hip, "right": right, "cos_y": cos_y, "order": far_then_near}


def _draw_figure(draws: list[ImageDraw.ImageDraw], fills: list, fig: dict, limb_scale: float = 1.0,
                 head_scale: float = 1.0) -> None:
    """Draw one figure on every (draw, colours) pair: the image and the owner map.

    `limb_scale` multiplies the widths of limbs, neck and torso, `head_scale` the head's
    radius (styles.py varies both; the keypoints of a scaled head are its caller's task).
    """
    k, h = fig["k"], fig["h"]

    def limb(a: np.ndarray, b: np.ndarray, width: float, part: str) -> None:
        w = max(1.0, width * limb_scale * h)
        for d, f in zip(draws, fills, strict=True):
            d.line([tuple(a), tuple(b)], fill=f[part], width=int(round(w)))
            r = w / 2
            for p in (a, b):  # round caps so joints look like joints
                d.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=f[part])

    def limbs(side: int) -> None:
        limb(k[11 + side], k[13 + side], WIDTH["thigh"], "legs")
        limb(k[13 + side], k[15 + side], WIDTH["shin"], "legs")
        limb(k[5 + side], k[7 + side], WIDTH["upper_arm"], "shirt")
        limb(k[7 + side], k[9 + side], WIDTH["forearm"], "skin")

    limbs(fig["order"][0])
    # Torsos widen with the limbs, but by half as much: a torso is not a limb.
    half_s = max(abs(fig["cos_y"]) * SHOULDER_W + 0.035, 0.07) * h * (1 + (limb_scale - 1) / 2)
    half_h = max(abs(fig["cos_y"]) * HIP_W + 0.035, 0.065) * h * (1 + (limb_scale - 1) / 2)
    sm, hp, right = fig["shoulder_mid"], fig["hip"], fig["right"]
    torso = [tuple(sm + right * half_s), tuple(hp + right * half_h), tuple(hp - right * half_h),
             tuple(sm - right * half_s)]
    for d, f in zip(draws, fills, strict=True):
        d.polygon(torso, fill=f["shirt"])
        neck_w = max(1, int(0.05 * h * limb_scale))
        d.line([tuple(sm), tuple(fig["head"])], fill=f["skin"], width=neck_w)
    limbs(fig["order"][1])
    r, c = HEAD_R * h * 1.05 * head_scale, fig["head"]
    for d, f in zip(draws, fills, strict=True):
        turned_away = fig["hidden"][0]
        d.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=f["hair" if turned_away else "skin"])
        if not turned_away:  # hair on top; eyes and nose only on a visible face
            top = c + fig["head_up"] * r * 0.55
            cap = [top[0] - r * 0.8, top[1] - r * 0.5, top[0] + r * 0.8, top[1] + r * 0.5]
            d.ellipse(cap, fill=f["hair"])
            dot = max(0.6, 0.012 * h * head_scale)
            for i in (0, 1, 2):
                if not fig["hidden"][i]:
                    p = k[i]
                    d.ellipse([p[0] - dot, p[1] - dot, p[0] + dot, p[1] + dot], fill=f["eye"])


def make_scene(seed: int, size: int = IMAGE_SIZE, num_people: int | None = None) -> tuple[Image.Image, list]:
    """Scene `seed`: an RGB image and one annotation per person.

    Each annotation has `keypoints` (17, 3) float [x, y, v], `bbox` [x, y, w, h] of the
    person's visible pixels, `area` (visible pixels, as COCO's segment area) and
    `num_keypoints` (labelled ones). People with no visible pixel are dropped.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, MAX_PEOPLE + 1)) if num_people is None else num_people
    bg = _background(rng, size)
    mean = bg.mean(axis=(0, 1))
    image = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    _clutter(draw, rng, size, mean)
    owner = Image.new("L", (size, size), 0)  # 0 background, i + 1 person i, 255 occluder
    owner_draw = ImageDraw.Draw(owner)

    # Crowds get smaller people so that they still fit.
    top = min(0.85, 1.9 / math.sqrt(max(n, 1))) * size
    heights = np.exp(rng.uniform(math.log(0.3 * top), math.log(top), size=n))
    feet = np.array([rng.uniform(0.85 * h, size + 0.1 * h) for h in heights])  # heads mostly in frame
    order = np.argsort(feet)  # people lower in the frame are nearer: drawn last
    figures = []
    for rank, i in enumerate(order):
        cx = rng.uniform(-0.05 * size, 1.05 * size)
        fig = _figure(rng, cx, feet[i], heights[i])
        skin = _colour(rng)
        colours = {"skin": skin, "shirt": _colour(rng, mean), "legs": _colour(rng, mean),
                   "hair": _colour(rng), "eye": (20, 20, 20)}
        ids = dict.fromkeys(colours, rank + 1)
        _draw_figure([draw, owner_draw], [colours, ids], fig)
        figures.append(fig)
    if rng.random() < 0.3:  # an occluding object in front of everyone
        x, y = rng.uniform(0, size, size=2)
        w, h = rng.uniform(0.1, 0.35, size=2) * size
        colour = _colour(rng, mean)
        for d, f in ((draw, colour), (owner_draw, 255)):
            d.rectangle([x, y, x + w, y + h], fill=f)

    noise = rng.normal(0, rng.uniform(0, 10), size=(size, size, 3))
    pixels = np.asarray(image, dtype=np.float32) + noise
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image, annotate(figures, np.asarray(owner), size)


def annotate(figures: list[dict], owners: np.ndarray, size: int) -> list[dict]:
    """One COCO-style annotation per figure that owns a pixel of `owners` (size, size).

    `owners` holds rank + 1 where figure `rank` (in drawing order) is the nearest thing
    seen, 0 for nobody and 255 for an occluder.
    """
    annotations = []
    for rank, fig in enumerate(figures):
        mask = owners == rank + 1
        if not mask.any():
            continue
        ys, xs = np.nonzero(mask)
        kps = np.zeros((NUM_KEYPOINTS, 3))
        for j, (x, y) in enumerate(fig["k"]):
            inside = 0 <= x < size and 0 <= y < size
            if not inside or fig["hidden"][j]:
                continue
            # Visible when this person owns the pixel or one next to it (keypoints on an
            # outline, such as the ears, sit on the boundary).
            xi, yi = int(x), int(y)
            patch = owners[max(yi - 1, 0) : yi + 2, max(xi - 1, 0) : xi + 2]
            kps[j] = (x, y, 2 if (patch == rank + 1).any() else 1)
        annotations.append({
            "keypoints": kps,
            "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                     float(ys.max() - ys.min() + 1)],
            "area": float(mask.sum()),
            "num_keypoints": int((kps[:, 2] > 0).sum()),
        })
    return annotations


def coco_ground_truth(split: str, n: int, start: int = 0, size: int = IMAGE_SIZE,
                      num_people: int | None = None) -> dict:
    """COCO person_keypoints ground truth for scenes [start, start + n) of a split."""
    seeds = [split_seed(split, index) for index in range(start, start + n)]
    return coco_dataset((seed, f"{split}_{seed}.png", size, make_scene(seed, size, num_people)[1])
                        for seed in seeds)


def coco_dataset(scenes) -> dict:
    """A COCO person_keypoints dataset from (image id, file name, size, annotations) per scene."""
    images, annotations = [], []
    for seed, file_name, size, people in scenes:
        images.append({"id": seed, "file_name": file_name, "width": size, "height": size})
        for p in people:
            annotations.append({
                "id": len(annotations) + 1, "image_id": seed, "category_id": 1, "iscrowd": 0,
                "keypoints": [round(float(v), 2) for v in p["keypoints"].reshape(-1)],  # (17*3,)
                "num_keypoints": p["num_keypoints"], "bbox": p["bbox"], "area": p["area"],
            })
    category = {"id": 1, "name": "person", "supercategory": "person",
                "keypoints": list(KEYPOINT_NAMES), "skeleton": [[a + 1, b + 1] for a, b in SKELETON]}
    return {"images": images, "annotations": annotations, "categories": [category]}


def to_tensor(image: Image.Image):
    """PIL image -> float tensor (3, H, W) in [0, 1]."""
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)
