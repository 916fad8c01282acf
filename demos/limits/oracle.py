"""The oracle: ground truth through each family's own rules, and the recall that is left.

For every object of a scene, each rule says whether a perfect network could still
report it and, if not, why: no anchor fits it, its anchor or cell went to another
object, NMS removed it, the per-image cap cut it, or its axis-aligned box does not
cover its own shape well enough. The families use torchvision's defaults (RetinaNet,
Faster R-CNN with FPN, SSD300-VGG16) and the YOLOv3 paper's (416 px, nine priors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from demos.limits import rules
from demos.limits.scenes import Scene
from shared.templates import fill

REACHED = "reached"
NO_FIT = "no anchor fits"
TAKEN = "anchor taken"
NMS = "suppressed by NMS"
CAP = "over the per-image cap"
DECAYED = "score decayed"
SHAPE = "box misses the shape"
CAUSES = (NO_FIT, TAKEN, NMS, CAP, DECAYED, SHAPE)
SCORE_THRESHOLD = 0.05  # RetinaNet's and Faster R-CNN's box_score_thresh; Soft-NMS drops below it
SHAPE_IOU = 0.5  # a box counts as the object at IoU 0.5, as in COCO's and DOTA's AP50
# Each cause's short name, the key its translation goes by (the tab shows them in the page's language).
CAUSE_KEYS = {REACHED: "reached", NO_FIT: "no_fit", TAKEN: "taken", NMS: "nms", CAP: "cap",
              DECAYED: "decayed", SHAPE: "shape"}

# Each rule's name and how it is run, by key, in English. The settings' values go in at [name]
# (shared.templates), so the tab can write the same settings from its own texts in another language.
NAMES = {
    "nms": "NMS alone",
    "soft_gaussian": "Soft-NMS (gaussian)",
    "soft_linear": "Soft-NMS (linear)",
    "retinanet": "RetinaNet",
    "retinanet_strict": "RetinaNet, no low-quality matches",
    "faster_rcnn": "Faster R-CNN",
    "faster_rcnn_strict": "Faster R-CNN, no low-quality matches",
    "ssd300": "SSD300",
    "yolov3": "YOLOv3",
    "axis": "Axis-aligned box vs the object",
}
_RETINANET = ("[w]×[h] input; 9 anchors per point, 32–812 px, on P3–P7; Matcher 0.5 / 0.4 [lq] low-quality "
              "matches; NMS 0.5; 300 per image")
_FASTER_RCNN = ("[w]×[h] input; RPN: 3 anchors 32–512 px on P2–P6, Matcher 0.7 / 0.3 [lq] low-quality "
                "matches, class-blind NMS 0.7 per level; head: NMS 0.5, 100 per image")
SETTINGS = {
    "nms": "per-class NMS at IoU [threshold], every object found",
    "soft_gaussian": "Gaussian, σ = [sigma]; kept while the score ≥ [score]",
    "soft_linear": "linear above IoU [threshold]; kept while the score ≥ [score]",
    "retinanet": fill(_RETINANET, lq="with"),
    "retinanet_strict": fill(_RETINANET, lq="without"),
    "faster_rcnn": fill(_FASTER_RCNN, lq="with"),
    "faster_rcnn_strict": fill(_FASTER_RCNN, lq="without"),
    "ssd300": "stretched to 300×300; 8,732 default boxes; IoU ≥ 0.5 plus each object's best box; NMS 0.45; "
              "200 per image",
    "yolov3": "letterboxed to 416×416; one of 9 priors per object, in the cell of its centre on the 52/26/13 "
              "grid; NMS 0.45",
    "axis": "IoU of the perfect box with the object's own shape ≥ [iou]",
}


@dataclass
class Outcome:
    key: str  # one of NAMES
    values: dict[str, str]  # what goes into its SETTINGS text, formatted
    fate: list[str]  # one per object: REACHED or one of CAUSES
    blame: list[int] = field(default_factory=list)  # the object that took its anchor or suppressed it; -1
    best_iou: list[float] | None = None  # best anchor IoU (or shape IoU) per object

    @property
    def rule(self) -> str:
        return NAMES[self.key]

    @property
    def settings(self) -> str:
        return fill(SETTINGS[self.key], **self.values)

    @property
    def recall(self) -> float:
        return sum(f == REACHED for f in self.fate) / max(1, len(self.fate))

    def counts(self) -> dict[str, int]:
        return {cause: sum(f == cause for f in self.fate) for cause in (REACHED, *CAUSES)}

    def as_json(self) -> dict:
        lost = [{"object": i, "why": f, "by": self.blame[i] if self.blame else -1}
                for i, f in enumerate(self.fate) if f != REACHED]
        return {"rule": self.rule, "settings": self.settings, "recall_ceiling": round(self.recall, 4),
                "counts": self.counts(), "lost": lost}


def _after_nms(fate: list[str], blame: list[int], boxes: torch.Tensor, labels: torch.Tensor, threshold: float,
               cap: int | None) -> None:
    """Per-class NMS on the boxes still reached, then the per-image cap, in place."""
    alive = torch.tensor([f == REACHED for f in fate])
    index = alive.nonzero().flatten()
    if index.numel() == 0:
        return
    kept, suppressor = rules.nms_fates(boxes[index], labels[index], threshold)
    for k, i in enumerate(index.tolist()):
        if not kept[k]:
            fate[i], blame[i] = NMS, int(index[suppressor[k]]) if suppressor[k] >= 0 else -1
    if cap is not None:
        for i in index[kept][cap:].tolist():  # detections are kept in score order, i.e. list order
            fate[i] = CAP


def nms_only(scene: Scene, threshold: float) -> Outcome:
    """Only NMS: every object perfectly detected, then per-class NMS at `threshold`."""
    fate, blame = [REACHED] * len(scene), [-1] * len(scene)
    _after_nms(fate, blame, scene.boxes, scene.labels, threshold, cap=None)
    return Outcome("nms", {"threshold": f"{threshold:g}"}, fate, blame)


def soft_nms(scene: Scene, method: str, sigma: float, threshold: float) -> Outcome:
    scores = rules.soft_nms(scene.boxes, scene.labels, method, sigma, threshold, SCORE_THRESHOLD)
    fate = [REACHED if s >= SCORE_THRESHOLD else DECAYED for s in scores.tolist()]
    values = {"sigma": f"{sigma:g}", "threshold": f"{threshold:g}", "score": f"{SCORE_THRESHOLD}"}
    return Outcome(f"soft_{method}", values, fate, [-1] * len(scene))


def _assigned(assignment: rules.Assignment, n: int, high: float,
              low_quality: bool) -> tuple[list, list, list]:
    positive = assignment.positives(n).tolist()
    best = assignment.best_iou.tolist()
    fate = [REACHED if p else (TAKEN if low_quality or b >= high else NO_FIT) for p, b in zip(positive, best,
                                                                                                 strict=True)]
    blame = [int(t) if f == TAKEN else -1 for f, t in zip(fate, assignment.taker.tolist(), strict=True)]
    return fate, blame, [round(b, 4) for b in best]


def retinanet(scene: Scene, low_quality: bool = True) -> Outcome:
    resize = rules.rcnn_resize(scene.width, scene.height)
    gt = resize.boxes(scene.boxes)
    assignment = rules.match_fpn(gt, rules.fpn_anchors("retinanet", resize.size), 0.5, 0.4, low_quality)
    fate, blame, best = _assigned(assignment, len(scene), 0.5, low_quality)
    _after_nms(fate, blame, gt, scene.labels, 0.5, cap=300)
    size = {"w": f"{resize.size[0]}", "h": f"{resize.size[1]}"}
    return Outcome("retinanet" if low_quality else "retinanet_strict", size, fate, blame, best)


def faster_rcnn(scene: Scene, low_quality: bool = True) -> Outcome:
    """The RPN decides which objects get a proposal; its NMS runs per FPN level and ignores
    classes. The box head then sees each proposal, which for a perfect RPN is the object's
    own box, and runs per-class NMS and the cap of 100."""
    resize = rules.rcnn_resize(scene.width, scene.height)
    gt, n = resize.boxes(scene.boxes), len(scene)
    anchors = rules.fpn_anchors("rpn", resize.size)
    assignment = rules.match_fpn(gt, anchors, 0.7, 0.3, low_quality)
    fate, blame, best = _assigned(assignment, n, 0.7, low_quality)
    positive = assignment.matches >= 0
    pairs = torch.unique(torch.stack([assignment.matches[positive],
                                      anchors.level_of(assignment.anchor[positive])], dim=1), dim=0)
    if pairs.numel():
        obj, level = pairs[:, 0], pairs[:, 1]  # one proposal per object and level: its own box
        keep = rules.batched_nms(gt[obj], rules.perfect_scores(n)[obj], level, 0.7)[:1000]
        survived = torch.zeros(n, dtype=torch.bool)
        survived[obj[keep]] = True
        overlaps = rules.box_iou(gt, gt) > 0.7
        for i in torch.unique(obj).tolist():
            if not survived[i]:
                culprits = (overlaps[i] & survived).nonzero().flatten()
                fate[i], blame[i] = NMS, int(culprits[0]) if culprits.numel() else -1
    _after_nms(fate, blame, gt, scene.labels, 0.5, cap=100)
    size = {"w": f"{resize.size[0]}", "h": f"{resize.size[1]}"}
    return Outcome("faster_rcnn" if low_quality else "faster_rcnn_strict", size, fate, blame, best)


def ssd300(scene: Scene) -> Outcome:
    resize = rules.ssd_resize(scene.width, scene.height)
    gt = resize.boxes(scene.boxes)
    assignment = rules.match_ssd(gt, rules.ssd300_anchors().boxes)
    fate, blame, best = _assigned(assignment, len(scene), 0.5, low_quality=True)
    _after_nms(fate, blame, gt, scene.labels, 0.45, cap=200)
    return Outcome("ssd300", {}, fate, blame, best)


def yolov3(scene: Scene) -> Outcome:
    resize = rules.letterbox(scene.width, scene.height)
    gt = resize.boxes(scene.boxes)
    assigned = rules.yolo_assign(gt)
    winner = assigned["winner"].tolist()
    fate = [REACHED if w == i else TAKEN for i, w in enumerate(winner)]
    blame = [w if w != i else -1 for i, w in enumerate(winner)]
    _after_nms(fate, blame, gt, scene.labels, 0.45, cap=None)
    shape = [round(v, 4) for v in assigned["shape_iou"].tolist()]
    return Outcome("yolov3", {}, fate, blame, shape)


def axis_aligned(scene: Scene) -> Outcome:
    iou = scene.shape_iou.tolist()
    fate = [REACHED if v >= SHAPE_IOU else SHAPE for v in iou]
    return Outcome("axis", {"iou": f"{SHAPE_IOU}"}, fate, [-1] * len(scene), [round(v, 4) for v in iou])


def run_all(scene: Scene, nms_threshold: float = 0.5, sigma: float = 0.5) -> list[Outcome]:
    """Every rule on one scene, in the order the tab shows them."""
    return [
        nms_only(scene, nms_threshold),
        soft_nms(scene, "gaussian", sigma, nms_threshold),
        soft_nms(scene, "linear", sigma, nms_threshold),
        retinanet(scene),
        retinanet(scene, low_quality=False),
        faster_rcnn(scene),
        faster_rcnn(scene, low_quality=False),
        ssd300(scene),
        yolov3(scene),
        axis_aligned(scene),
    ]
