"""Classification losses for a dense detector, over per-anchor logits.

All three losses see the same inputs, the (A, K) logits of the anchors that are not
ignored by the matcher and their (A, K) one-hot targets, and are normalised the same
way the focal-loss paper does: summed over anchors and classes and divided by the
number of foreground anchors (at least one). Only the weighting of the terms differs.

- focal: FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t), gamma=2, alpha=0.25.
- balanced_ce: alpha-balanced cross-entropy, alpha=0.75 for the positive class,
  the best alpha for CE in the paper's Table 1a.
- ohem: plain cross-entropy on all positive anchors plus the hardest negative
  anchors, 3 negatives per positive, chosen per image (Table 1d's 1:3 setting).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

LOSSES = ("focal", "ce", "ohem")
FOCAL_GAMMA, FOCAL_ALPHA = 2.0, 0.25
CE_ALPHA = 0.75  # the paper's best alpha-balanced CE (Table 1a: 31.1 AP)
OHEM_NEG_PER_POS = 3
OHEM_MIN_NEGATIVES = 8  # an image with no objects still teaches something


def focal_curve(p_t: torch.Tensor, gamma: float) -> torch.Tensor:
    """The paper's Figure 1: -(1 - p_t)^gamma log(p_t); gamma=0 is cross-entropy."""
    p_t = p_t.clamp(1e-12, 1.0)
    return -((1 - p_t) ** gamma) * torch.log(p_t)


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    num_foreground: int,
    gamma: float = FOCAL_GAMMA,
    alpha: float | None = FOCAL_ALPHA,
) -> torch.Tensor:
    """Focal loss summed over elements / max(1, num_foreground). alpha=None turns weighting off."""
    total = sigmoid_focal_loss(
        logits, targets, alpha=-1 if alpha is None else alpha, gamma=gamma, reduction="sum"
    )
    return total / max(1, num_foreground)


def balanced_ce_loss(
    logits: torch.Tensor, targets: torch.Tensor, num_foreground: int, alpha: float = CE_ALPHA
) -> torch.Tensor:
    """alpha-balanced binary cross-entropy: alpha on positives, 1 - alpha on negatives."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    weight = alpha * targets + (1 - alpha) * (1 - targets)
    return (weight * ce).sum() / max(1, num_foreground)


def ohem_select(
    anchor_loss: torch.Tensor,
    is_positive: torch.Tensor,
    neg_per_pos: int = OHEM_NEG_PER_POS,
    min_negatives: int = OHEM_MIN_NEGATIVES,
) -> torch.Tensor:
    """Boolean mask keeping every positive anchor and the highest-loss negatives.

    The number of negatives is neg_per_pos times the positives (at least min_negatives),
    capped by how many negatives exist.
    """
    num_pos = int(is_positive.sum())
    negatives = (~is_positive).nonzero().squeeze(1)
    num_neg = min(max(neg_per_pos * num_pos, min_negatives), negatives.numel())
    keep = is_positive.clone()
    if num_neg > 0:
        hardest = anchor_loss[negatives].topk(num_neg).indices
        keep[negatives[hardest]] = True
    return keep


def ohem_ce_loss(
    logits: torch.Tensor, targets: torch.Tensor, num_foreground: int, neg_per_pos: int = OHEM_NEG_PER_POS
) -> torch.Tensor:
    """Cross-entropy over all positives plus the hardest negatives of one image."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    # A negative anchor is hard when its summed loss over all classes is high.
    anchor_loss = ce.sum(dim=1)
    is_positive = targets.sum(dim=1) > 0
    with torch.no_grad():
        keep = ohem_select(anchor_loss.detach(), is_positive, neg_per_pos)
    return anchor_loss[keep].sum() / max(1, num_foreground)


def classification_loss(
    kind: str, logits: torch.Tensor, targets: torch.Tensor, num_foreground: int
) -> torch.Tensor:
    """Dispatch by name; logits and targets are (A, K) for the valid anchors of one image."""
    if kind == "focal":
        return focal_loss(logits, targets, num_foreground)
    if kind == "ce":
        return balanced_ce_loss(logits, targets, num_foreground)
    if kind == "ohem":
        return ohem_ce_loss(logits, targets, num_foreground)
    raise ValueError(f"unknown loss {kind!r}; expected one of {LOSSES}")


def one_hot_targets(
    logits: torch.Tensor, matched_idxs: torch.Tensor, gt_labels: torch.Tensor
) -> torch.Tensor:
    """(A, K) 0/1 targets: 1 at the matched object's class for foreground anchors."""
    targets = torch.zeros_like(logits)
    foreground = matched_idxs >= 0
    targets[foreground, gt_labels[matched_idxs[foreground]]] = 1.0
    return targets
