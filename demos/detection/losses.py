"""Classification losses for a dense detector, over per-anchor logits.

Every loss sees the (A, K) logits of the anchors the matcher does not ignore and their
(A, K) one-hot targets, and is normalised as in the focal-loss paper: summed over the
terms it keeps and divided by the number of foreground anchors (at least one). Only
the choice and weighting of the terms differs.

- focal: FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t); gamma=2, alpha=0.25 by default.
- ce: alpha-balanced cross-entropy, the focal loss at gamma=0 with alpha=0.75, the
  best alpha for CE in the paper's Table 1a.
- ohem: the paper's online hard example mining (Table 1d). Every anchor is scored by
  its cross-entropy summed over classes, non-maximum suppression at IoU 0.7 on those
  scores (over the boxes the anchors predict, see model.DetectorHead) removes
  near-duplicates, and a fixed minibatch of B = 128 anchors per image is kept, at most
  a quarter of them positive (the 1:3 variant). The ablation `mean_over_batch` divides
  by the anchors kept instead of the foreground ones: with one object per image the usual
  normaliser is a handful of anchors, so OHEM's 128 terms weigh far more than focal's.
- hnm: SSD-style hard-negative mining. All positives are kept without scoring and the
  3P highest-loss negatives are added; no NMS and no fixed minibatch size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import nms, sigmoid_focal_loss

LOSSES = ("focal", "ce", "ohem", "hnm")
FOCAL_GAMMA, FOCAL_ALPHA = 2.0, 0.25
CE_ALPHA = 0.75  # the paper's best alpha-balanced CE (Table 1a)
OHEM_BATCH, OHEM_NMS, OHEM_POSITIVE_FRACTION = 128, 0.7, 0.25
HNM_NEG_PER_POS = 3
HNM_MIN_NEGATIVES = 8  # an image with no objects still teaches something
DEFAULT_PARAMS: dict[str, dict[str, float]] = {
    "focal": {"gamma": FOCAL_GAMMA, "alpha": FOCAL_ALPHA},
    "ce": {"gamma": 0.0, "alpha": CE_ALPHA},
    "ohem": {"batch": OHEM_BATCH, "nms": OHEM_NMS, "positive_fraction": OHEM_POSITIVE_FRACTION},
    "hnm": {"neg_per_pos": HNM_NEG_PER_POS},
}


def focal_curve(p_t: torch.Tensor, gamma: float) -> torch.Tensor:
    """The paper's Figure 1: -(1 - p_t)^gamma log(p_t); gamma=0 is cross-entropy."""
    p_t = p_t.clamp(1e-12, 1.0)
    return -((1 - p_t) ** gamma) * torch.log(p_t)


def focal_terms(
    logits: torch.Tensor, targets: torch.Tensor, gamma: float, alpha: float | None
) -> torch.Tensor:
    """(A, K) focal loss of every binary term (targets 0 or 1); alpha=None turns the weighting off."""
    if not 0 < gamma < 1:
        return sigmoid_focal_loss(logits, targets, alpha=-1 if alpha is None else alpha, gamma=gamma,
                                  reduction="none")
    # For 0 < γ < 1 the derivative of (1 - p_t)^γ grows without bound as p_t -> 1, and in float32
    # p_t rounds to 1 once |logit| > ~17: torchvision's (1 - p_t) ** γ then gives NaN gradients and
    # training dies (a known trap: fizyr/keras-retinanet#706, google-deepmind/optax#1267). The same
    # factor as exp(γ log(1 - p_t)), with log(1 - p_t) = logsigmoid(-z) and p_t = sigmoid(z), has a
    # bounded derivative; the loss's value is unchanged.
    z = logits * (2 * targets - 1)  # (A, K): the logit signed so that p_t = sigmoid(z)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    terms = ce * torch.exp(gamma * F.logsigmoid(-z))
    if alpha is None:
        return terms
    return (alpha * targets + (1 - alpha) * (1 - targets)) * terms


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    num_foreground: int,
    gamma: float = FOCAL_GAMMA,
    alpha: float | None = FOCAL_ALPHA,
) -> torch.Tensor:
    """Focal loss summed over terms / max(1, num_foreground); gamma=0 is alpha-balanced CE."""
    return focal_terms(logits, targets, gamma, alpha).sum() / max(1, num_foreground)


def balanced_ce_loss(
    logits: torch.Tensor, targets: torch.Tensor, num_foreground: int, alpha: float = CE_ALPHA
) -> torch.Tensor:
    """alpha-balanced binary cross-entropy: alpha on positives, 1 - alpha on negatives."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    weight = alpha * targets + (1 - alpha) * (1 - targets)
    return (weight * ce).sum() / max(1, num_foreground)


def ohem_select(
    anchor_loss: torch.Tensor,
    anchors: torch.Tensor,
    is_positive: torch.Tensor,
    batch: int = OHEM_BATCH,
    nms_iou: float = OHEM_NMS,
    positive_fraction: float | None = OHEM_POSITIVE_FRACTION,
) -> torch.Tensor:
    """Boolean (A,) mask of the paper's OHEM minibatch for one image.

    NMS over the anchor boxes, scored by their loss, keeps the highest-loss anchor of
    each cluster of overlapping ones; then the top `batch` survivors by loss are kept,
    with positives capped at `positive_fraction` of the batch (None: no cap). Fewer
    than `batch` anchors are kept only when fewer survive NMS.
    """
    # NMS over every anchor is O(A^2) for ~11k anchors per image. Candidates are all positives
    # and the highest-loss negatives, enough to fill the batch after NMS; boxes left out rank
    # below every candidate negative, so they could suppress only low-loss positives, where a
    # positive and a negative anchor overlap at IoU >= nms_iou (the matcher's 0.5/0.4 bands
    # make that rare). With fewer anchors than `candidates` this is exact.
    negatives_all = (~is_positive).nonzero().squeeze(1)
    order = negatives_all[anchor_loss[negatives_all].argsort(descending=True)]
    candidates = 2 * batch
    while True:
        pool = torch.cat([is_positive.nonzero().squeeze(1), order[:candidates]])
        survivors = pool[nms(anchors[pool], anchor_loss[pool], nms_iou)]  # sorted by decreasing loss
        enough = int((~is_positive[survivors]).sum()) >= batch
        if enough or candidates >= order.numel():
            break
        candidates *= 2
    if positive_fraction is None:
        chosen = survivors[:batch]
    else:
        positives = survivors[is_positive[survivors]]
        negatives = survivors[~is_positive[survivors]]
        num_pos = min(positives.numel(), int(batch * positive_fraction))
        num_neg = min(negatives.numel(), batch - num_pos)
        # Too few negatives (never here: thousands survive): top up with positives.
        num_pos = min(positives.numel(), batch - num_neg)
        chosen = torch.cat([positives[:num_pos], negatives[:num_neg]])
    keep = torch.zeros_like(is_positive)
    keep[chosen] = True
    return keep


def ohem_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    num_foreground: int,
    anchors: torch.Tensor,
    batch: int = OHEM_BATCH,
    nms: float = OHEM_NMS,
    positive_fraction: float | None = OHEM_POSITIVE_FRACTION,
    mean_over_batch: bool = False,
) -> torch.Tensor:
    """Cross-entropy over the OHEM minibatch of one image; `anchors` are the (A, 4) xyxy boxes
    NMS compares (the detector passes each anchor's predicted box). Divided by the foreground
    anchors, or by the anchors kept with `mean_over_batch`."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    anchor_loss = ce.sum(dim=1)  # (A,): an anchor is hard when its loss over all classes is high
    with torch.no_grad():
        keep = ohem_select(anchor_loss.detach(), anchors, targets.sum(dim=1) > 0, int(batch), nms,
                           positive_fraction)
    return anchor_loss[keep].sum() / max(1, int(keep.sum()) if mean_over_batch else num_foreground)


def hnm_select(
    anchor_loss: torch.Tensor,
    is_positive: torch.Tensor,
    neg_per_pos: int = HNM_NEG_PER_POS,
    min_negatives: int = HNM_MIN_NEGATIVES,
) -> torch.Tensor:
    """Boolean mask keeping every positive anchor and the neg_per_pos * P highest-loss negatives.

    At least min_negatives negatives, capped by how many negatives exist.
    """
    num_pos = int(is_positive.sum())
    negatives = (~is_positive).nonzero().squeeze(1)
    num_neg = min(max(neg_per_pos * num_pos, min_negatives), negatives.numel())
    keep = is_positive.clone()
    if num_neg > 0:
        hardest = anchor_loss[negatives].topk(num_neg).indices
        keep[negatives[hardest]] = True
    return keep


def hnm_loss(
    logits: torch.Tensor, targets: torch.Tensor, num_foreground: int, neg_per_pos: int = HNM_NEG_PER_POS
) -> torch.Tensor:
    """SSD-style: cross-entropy over all positives plus the hardest negatives of one image."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    anchor_loss = ce.sum(dim=1)  # (A,)
    with torch.no_grad():
        keep = hnm_select(anchor_loss.detach(), targets.sum(dim=1) > 0, int(neg_per_pos))
    return anchor_loss[keep].sum() / max(1, num_foreground)


def classification_loss(
    kind: str,
    logits: torch.Tensor,
    targets: torch.Tensor,
    num_foreground: int,
    anchors: torch.Tensor | None = None,
    params: dict[str, float] | None = None,
) -> torch.Tensor:
    """Dispatch by name; logits and targets are (A, K) for the valid anchors of one image.

    `params` overrides DEFAULT_PARAMS[kind] (e.g. another gamma and alpha for focal).
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; expected one of {LOSSES}")
    p = DEFAULT_PARAMS[kind] | (params or {})
    if kind in ("focal", "ce"):
        return focal_loss(logits, targets, num_foreground, p["gamma"], p["alpha"])
    if kind == "ohem":
        if anchors is None:
            raise ValueError("OHEM needs the anchors' boxes for its NMS")
        return ohem_loss(logits, targets, num_foreground, anchors, p["batch"], p["nms"],
                         p["positive_fraction"], bool(p.get("mean_over_batch", 0)))
    return hnm_loss(logits, targets, num_foreground, p["neg_per_pos"])


def one_hot_targets(
    logits: torch.Tensor, matched_idxs: torch.Tensor, gt_labels: torch.Tensor
) -> torch.Tensor:
    """(A, K) 0/1 targets: 1 at the matched object's class for foreground anchors."""
    targets = torch.zeros_like(logits)
    foreground = matched_idxs >= 0
    targets[foreground, gt_labels[matched_idxs[foreground]]] = 1.0
    return targets
