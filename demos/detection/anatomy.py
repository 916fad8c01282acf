"""The anatomy of the loss: where α-balanced CE and focal loss put their loss and gradient.

A sigmoid detector makes K binary decisions per anchor, so everything here is per
*binary term* (anchor × class), with p_t the probability the model gives the right
answer for that term. Each loss is the one the bundled models were trained with:
α-balanced CE with α = 0.75 on positive terms, focal loss with α = 0.25 and the chosen
γ. Gradients are |∂L/∂logit| per term, by autograd. The default scope is a fixed set of
100 val scenes (what the README quotes); one image is the other option.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.models.detection._utils import Matcher
from torchvision.ops import sigmoid_focal_loss

from demos.detection.data import SceneDataset, to_tensor
from demos.detection.losses import CE_ALPHA, FOCAL_ALPHA, one_hot_targets
from demos.detection.model import forward_matched
from shared.loading import get_model

VAL_SCENES = 100
BINS = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0])
EASY = 0.9  # p_t above this: a term the model already gets right


# Terms are counted on a fine logit grid: the shares below need only how many terms sit at
# each logit, which makes any gamma instant over millions of terms (error < 0.1 %).
GRID = np.linspace(-30.0, 30.0, 6001)  # logit bin centres, 0.01 apart


@dataclass
class Terms:
    """How many positive and negative binary terms sit at each logit of GRID."""

    positive: np.ndarray  # (len(GRID),)
    negative: np.ndarray  # (len(GRID),)
    positive_anchors: int
    background_anchors: int


def _count(logits: torch.Tensor, targets: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    index = np.clip(np.rint((logits.numpy() - GRID[0]) / (GRID[1] - GRID[0])), 0, len(GRID) - 1).astype(int)
    y = targets.numpy() > 0
    return (np.bincount(index[y], minlength=len(GRID)).astype(float),
            np.bincount(index[~y], minlength=len(GRID)).astype(float))


def terms_of(model: torch.nn.Module, images: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> Terms:
    """Every binary term the loss sees in (image, boxes, labels) triples, counted on GRID."""
    dev = next(model.parameters()).device
    positive, negative = np.zeros(len(GRID)), np.zeros(len(GRID))
    pos_anchors = bg_anchors = 0
    for image, boxes, labels in images:
        logits, _, matched = forward_matched(model, image.to(dev), {"boxes": boxes.to(dev),
                                                                    "labels": labels.to(dev)})
        logits, matched = logits.float().cpu(), matched.cpu()
        targets = one_hot_targets(logits, matched, labels)  # (A, K)
        valid = matched != Matcher.BETWEEN_THRESHOLDS  # anchors between the IoU thresholds: ignored
        p, n = _count(logits[valid].reshape(-1), targets[valid].reshape(-1))  # (A_valid * K,) terms
        positive += p
        negative += n
        pos_anchors += int((matched >= 0).sum())
        bg_anchors += int((matched == -1).sum())
    return Terms(positive, negative, pos_anchors, bg_anchors)


@functools.lru_cache(maxsize=4)
def val_terms(name: str, n: int = VAL_SCENES) -> Terms:
    """Terms of val scenes 0..n-1 under bundled model `name`; computed once, then cached."""
    dataset = SceneDataset("val", n)
    items = (dataset[i] for i in range(n))
    return terms_of(get_model(name), [(im, t["boxes"], t["labels"]) for im, t in items])


def image_terms(name: str, image: Image.Image, boxes: torch.Tensor, labels: torch.Tensor) -> Terms:
    return terms_of(get_model(name), [(to_tensor(image), boxes, labels)])


@dataclass
class Anatomy:
    """Binned loss and gradient of both losses over a set of binary terms."""

    scope: str
    gamma: float
    terms: int
    positive_terms: int
    positive_anchors: int
    background_anchors: int
    counts: np.ndarray  # (bins,) terms per p_t bin
    loss: dict[str, np.ndarray]  # loss name -> (bins,) share of the total loss
    grad: dict[str, np.ndarray]  # loss name -> (bins,) share of the total |gradient|
    easy_negative_loss: dict[str, float]
    easy_negative_grad: dict[str, float]
    easy_terms: int

    def as_json(self) -> dict:
        return {
            "scope": self.scope, "gamma": self.gamma, "binary_terms": self.terms,
            "positive_terms": self.positive_terms, "positive_anchors": self.positive_anchors,
            "background_anchors": self.background_anchors,
            "background_per_foreground_anchor": round(self.background_anchors
                                                      / max(1, self.positive_anchors), 1),
            "negative_terms_per_positive_term": round((self.terms - self.positive_terms)
                                                      / max(1, self.positive_terms), 1),
            "easy_terms_p_t_over_0.9": self.easy_terms,
            "easy_negative_share_of_loss": {k: round(v, 4) for k, v in self.easy_negative_loss.items()},
            "easy_negative_share_of_gradient": {k: round(v, 4) for k, v in self.easy_negative_grad.items()},
            "bins": BINS.tolist(), "terms_per_bin": self.counts.tolist(),
        }


LOSS_NAMES = ("α-balanced CE", "focal loss")


def anatomy_of_terms(terms: Terms, gamma: float, scope: str) -> Anatomy:
    """Both losses as trained over the given terms: shares of loss and gradient per p_t bin."""
    x = torch.tensor(np.concatenate([GRID, GRID]), requires_grad=True)  # (2G,): positives, negatives
    y = torch.cat([torch.ones(len(GRID)), torch.zeros(len(GRID))]).double()
    weight = np.concatenate([terms.positive, terms.negative])  # terms at each grid logit
    # alpha-CE as trained: the focal loss at gamma 0 with alpha 0.75 on the positive terms.
    per_term = {LOSS_NAMES[0]: sigmoid_focal_loss(x, y, alpha=CE_ALPHA, gamma=0.0, reduction="none"),
                LOSS_NAMES[1]: sigmoid_focal_loss(x, y, alpha=FOCAL_ALPHA, gamma=gamma, reduction="none")}
    p = torch.sigmoid(x.detach())
    p_t = torch.where(y > 0, p, 1 - p).numpy()
    which = np.clip(np.digitize(p_t, BINS[1:-1]), 0, len(BINS) - 2)  # (2G,) p_t bin of each grid point
    easy_negative = (p_t > EASY) & (y.numpy() == 0)
    loss, grad, en_loss, en_grad = {}, {}, {}, {}
    for name, values in per_term.items():
        (g,) = torch.autograd.grad(values.sum(), x)  # per term: each term depends on its own logit
        lv, gv = values.detach().numpy() * weight, g.abs().numpy() * weight
        loss[name] = np.bincount(which, lv, len(BINS) - 1) / max(lv.sum(), 1e-300)
        grad[name] = np.bincount(which, gv, len(BINS) - 1) / max(gv.sum(), 1e-300)
        en_loss[name] = float(lv[easy_negative].sum() / max(lv.sum(), 1e-300))
        en_grad[name] = float(gv[easy_negative].sum() / max(gv.sum(), 1e-300))
    total = int(weight.sum())
    return Anatomy(scope=scope, gamma=gamma, terms=total, positive_terms=int(terms.positive.sum()),
                   positive_anchors=terms.positive_anchors, background_anchors=terms.background_anchors,
                   counts=np.bincount(which, weight, len(BINS) - 1).astype(int), loss=loss, grad=grad,
                   easy_negative_loss=en_loss, easy_negative_grad=en_grad,
                   easy_terms=int(weight[p_t > EASY].sum()))
