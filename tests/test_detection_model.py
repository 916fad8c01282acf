"""Tests for the focal-loss experiment: losses, data, training and bundled checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops import box_iou

from demos.detection import losses
from demos.detection.anatomy import GRID, anatomy_of_terms, terms_of
from demos.detection.data import (
    CLASSES,
    IMAGE_SIZE,
    SPLIT_OFFSETS,
    SceneDataset,
    anchor_statistics,
    coco_annotations,
    make_scene,
    split_seed,
    to_tensor,
)
from demos.detection.evaluate import CI_SUBSET, evaluate
from demos.detection.model import (
    build_detector,
    load_checkpoint,
    match_anchors,
    read_metadata,
)
from demos.detection.train import main as train_main

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
AP_TOLERANCE = 0.01  # float summation order differs across CPUs; AP on 48 scenes moves by less


# ---------------------------------------------------------------- losses


def test_focal_equals_cross_entropy_when_gamma_zero_and_alpha_off() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 5, generator=gen) * 3
    targets = (torch.rand(200, 5, generator=gen) < 0.1).float()
    fl = losses.focal_loss(logits, targets, num_foreground=7, gamma=0.0, alpha=None)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / 7
    torch.testing.assert_close(fl, ce)


@pytest.mark.parametrize("gamma", [0.25, 0.5])
def test_focal_below_gamma_one_has_torchvisions_value_and_finite_gradients_at_saturated_logits(gamma) -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(300, 5, generator=gen) * 6
    targets = (torch.rand(300, 5, generator=gen) < 0.1).float()
    ours = losses.focal_terms(logits, targets, gamma, 0.5)
    theirs = torchvision.ops.sigmoid_focal_loss(logits, targets, alpha=0.5, gamma=gamma, reduction="none")
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    # Logits far enough out that p_t rounds to 1 in float32: torchvision's form has a NaN gradient there.
    saturated = torch.tensor([[30.0, -30.0, 18.0, -40.0]], requires_grad=True)
    truth = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    torchvision.ops.sigmoid_focal_loss(saturated, truth, alpha=0.5, gamma=gamma, reduction="sum").backward()
    assert not torch.isfinite(saturated.grad).all()  # the trap this form avoids
    saturated.grad = None
    losses.focal_terms(saturated, truth, gamma, 0.5).sum().backward()
    assert torch.isfinite(saturated.grad).all() and saturated.grad.abs().max() < 1e-6


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_focal_down_weights_as_the_formula_says(p: float, target: float) -> None:
    # One element whose probability of the true class is p_t = p.
    p_fg = p if target == 1.0 else 1 - p
    logit = torch.tensor([[math.log(p_fg / (1 - p_fg))]], dtype=torch.float64)
    fl = losses.focal_loss(logit, torch.tensor([[target]], dtype=torch.float64), num_foreground=1)
    alpha_t = 0.25 if target == 1.0 else 0.75
    expected = alpha_t * (1 - p) ** 2 * -math.log(p)
    assert float(fl) == pytest.approx(expected, rel=1e-6)
    assert float(losses.focal_curve(torch.tensor(p, dtype=torch.float64), 2.0)) == pytest.approx(
        expected / alpha_t
    )


def test_focal_curve_is_cross_entropy_at_gamma_zero_and_shrinks_easy_examples() -> None:
    p_t = torch.linspace(0.05, 0.99, 50, dtype=torch.float64)
    torch.testing.assert_close(losses.focal_curve(p_t, 0.0), -torch.log(p_t))
    ratio = losses.focal_curve(p_t, 2.0) / losses.focal_curve(p_t, 0.0)
    torch.testing.assert_close(ratio, (1 - p_t) ** 2)
    # An easy example (p_t = 0.9) counts 100x less than under CE; a hard one (0.1) barely changes.
    assert float(
        losses.focal_curve(torch.tensor(0.9), 2) / losses.focal_curve(torch.tensor(0.9), 0)
    ) == pytest.approx(0.01)


def test_balanced_ce_weights_positives_by_alpha() -> None:
    logits = torch.tensor([[0.3, -1.0]])
    targets = torch.tensor([[1.0, 0.0]])
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")[0]
    expected = 0.75 * ce[0] + 0.25 * ce[1]
    torch.testing.assert_close(losses.balanced_ce_loss(logits, targets, num_foreground=1), expected)


@pytest.mark.parametrize("num_pos", [0, 1, 5, 40])
def test_hnm_keeps_all_positives_and_hardest_negatives_at_one_to_three(num_pos: int) -> None:
    gen = torch.Generator().manual_seed(num_pos)
    anchor_loss = torch.rand(1000, generator=gen)
    is_positive = torch.zeros(1000, dtype=torch.bool)
    is_positive[torch.randperm(1000, generator=gen)[:num_pos]] = True
    keep = losses.hnm_select(anchor_loss, is_positive)
    kept_negatives = keep & ~is_positive
    assert bool(keep[is_positive].all())
    assert int(kept_negatives.sum()) == max(3 * num_pos, losses.HNM_MIN_NEGATIVES)
    # Every kept negative is at least as hard as every dropped one.
    dropped = ~keep & ~is_positive
    assert float(anchor_loss[kept_negatives].min()) >= float(anchor_loss[dropped].max())


def test_hnm_is_capped_by_available_negatives_and_normalised_by_foreground() -> None:
    anchor_loss = torch.rand(10)
    is_positive = torch.tensor([True] * 6 + [False] * 4)
    assert int(losses.hnm_select(anchor_loss, is_positive).sum()) == 10
    logits = torch.randn(10, 3)
    targets = torch.zeros(10, 3)
    targets[:6, 0] = 1
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum()
    torch.testing.assert_close(losses.hnm_loss(logits, targets, num_foreground=6), ce / 6)


def _boxes_at(xs: list[float], size: float = 10.0) -> torch.Tensor:
    return torch.tensor([[x, 0.0, x + size, size] for x in xs])


def test_paper_ohem_suppresses_overlapping_anchors_by_loss_then_keeps_the_top_b() -> None:
    # Anchors 0 and 1 overlap at IoU 9/11 > 0.7: NMS keeps 0 (higher loss) and drops 1,
    # although 1 has the second-highest loss. The rest are disjoint.
    anchors = _boxes_at([0, 1, 20, 40, 60, 80])
    loss = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    is_positive = torch.tensor([False, False, True, False, False, False])
    keep = losses.ohem_select(loss, anchors, is_positive, batch=3, nms_iou=0.7, positive_fraction=None)
    assert keep.tolist() == [True, False, True, True, False, False]
    # Hand-computed loss over that minibatch: CE summed over classes, / foreground anchors.
    logits = torch.tensor([[2.0], [1.0], [-1.0], [0.5], [0.0], [-3.0]])
    targets = is_positive.float()[:, None]
    ce = [math.log(1 + math.exp(2.0)), math.log(1 + math.exp(1.0)), math.log(1 + math.exp(1.0)),
          math.log(1 + math.exp(0.5))]
    # The losses rank the anchors 0 > 1 = 2 > 3 > 4 > 5; NMS drops 1, the top 3 are 0, 2, 3.
    value = losses.ohem_loss(logits, targets, num_foreground=1, anchors=anchors, batch=3, nms=0.7,
                             positive_fraction=None)
    assert float(value) == pytest.approx(ce[0] + ce[2] + ce[3], rel=1e-6)
    # The ablation divides by the anchors kept (3) instead of the foreground ones (1).
    mean = losses.ohem_loss(logits, targets, num_foreground=1, anchors=anchors, batch=3, nms=0.7,
                            positive_fraction=None, mean_over_batch=True)
    assert float(mean) == pytest.approx((ce[0] + ce[2] + ce[3]) / 3, rel=1e-6)


@pytest.mark.parametrize("num_pos", [0, 3, 60])
def test_paper_ohem_keeps_exactly_b_anchors_after_nms_at_most_a_quarter_positive(num_pos: int) -> None:
    gen = torch.Generator().manual_seed(num_pos)
    xy = torch.rand(3000, 2, generator=gen) * 500
    anchors = torch.cat([xy, xy + 8 + 30 * torch.rand(3000, 2, generator=gen)], dim=1)  # (A, 4) xyxy
    loss = torch.rand(3000, generator=gen)
    is_positive = torch.zeros(3000, dtype=torch.bool)
    is_positive[:num_pos] = True
    keep = losses.ohem_select(loss, anchors, is_positive, batch=128, nms_iou=0.7, positive_fraction=0.25)
    assert int(keep.sum()) == 128
    survivors = torchvision.ops.nms(anchors, loss, 0.7)
    kept_neg = (keep & ~is_positive).nonzero().squeeze(1)
    # Negatives are exactly the highest-loss negatives that survive NMS over every anchor.
    neg_survivors = survivors[~is_positive[survivors]]
    assert set(neg_survivors[: len(kept_neg)].tolist()) == set(kept_neg.tolist())
    # Positives: at most a quarter of the batch; a quarter whenever that many survive NMS.
    # (NMS runs over all positives and the top negatives: a positive could be spared by a
    # low-loss negative left out of the candidates, never wrongly suppressed.)
    kept_pos = int((keep & is_positive).sum())
    assert kept_pos <= 32
    assert kept_pos >= min(32, int(is_positive[survivors].sum()))


def test_every_loss_runs_by_name_with_its_own_parameters() -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(300, 5, generator=gen)
    targets = torch.zeros(300, 5)
    targets[:4, 1] = 1
    xy = torch.rand(300, 2, generator=gen) * 200
    anchors = torch.cat([xy, xy + 16], dim=1)
    for kind in losses.LOSSES:
        value = losses.classification_loss(kind, logits, targets, 4, anchors)
        assert torch.isfinite(value) and float(value) > 0
    # ce is the focal loss at gamma 0 with alpha 0.75.
    torch.testing.assert_close(losses.classification_loss("ce", logits, targets, 4),
                               losses.balanced_ce_loss(logits, targets, 4, alpha=0.75))
    with pytest.raises(ValueError, match="unknown loss"):
        losses.classification_loss("softmax", logits, targets, 4)


def test_loss_anatomy_shows_focal_loss_discounting_easy_negatives() -> None:
    model = build_detector("focal")
    image, boxes, labels = make_scene(split_seed("val", 0))
    terms = terms_of(model, [(to_tensor(image), boxes, labels)])
    an = anatomy_of_terms(terms, 2.0, "image")
    ce, fl = "α-balanced CE", "focal loss"
    # At the prior (p = 0.01) almost every negative term is easy: it dominates CE, not FL.
    assert an.easy_negative_loss[ce] > 0.9
    assert an.easy_negative_loss[fl] < an.easy_negative_loss[ce]
    assert an.easy_negative_grad[fl] < an.easy_negative_grad[ce]
    # Every binary term of every anchor the loss sees is counted once: K = 5 per anchor.
    assert an.terms == 5 * (terms.positive_anchors + terms.background_anchors)
    assert an.positive_terms == terms.positive_anchors
    assert an.loss[ce].sum() == pytest.approx(1.0) and an.grad[fl].sum() == pytest.approx(1.0)


def test_anatomy_on_its_logit_grid_matches_the_exact_per_term_loss() -> None:
    # Terms placed exactly on grid points: the binned shares equal the per-term computation.
    gen = torch.Generator().manual_seed(0)
    logits = torch.tensor(GRID)[torch.randint(0, len(GRID), (5000,), generator=gen)]
    targets = (torch.rand(5000, generator=gen) < 0.01).double()
    from demos.detection.anatomy import Terms, _count

    pos, neg = _count(logits, targets)
    an = anatomy_of_terms(Terms(pos, neg, int(targets.sum()), 0), 2.0, "test")
    fl = torchvision.ops.sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0, reduction="none")
    p_t = torch.where(targets > 0, torch.sigmoid(logits), 1 - torch.sigmoid(logits))
    easy_negative = (p_t > 0.9) & (targets == 0)
    assert an.easy_negative_loss["focal loss"] == pytest.approx(float(fl[easy_negative].sum() / fl.sum()))


# ---------------------------------------------------------------- data


def test_scenes_are_deterministic_by_seed_and_splits_disjoint() -> None:
    a, boxes_a, labels_a = make_scene(123)
    b, boxes_b, labels_b = make_scene(123)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert torch.equal(boxes_a, boxes_b) and torch.equal(labels_a, labels_b)
    assert not np.array_equal(np.asarray(a), np.asarray(make_scene(124)[0]))
    assert split_seed("val", 0) == SPLIT_OFFSETS["val"]
    with pytest.raises(IndexError):
        split_seed("train", SPLIT_OFFSETS["val"])  # train indices never reach the val seeds


def test_boxes_are_valid_and_coco_annotations_match() -> None:
    counts = []
    for seed in range(40):
        image, boxes, labels = make_scene(seed)
        assert image.size == (IMAGE_SIZE, IMAGE_SIZE) and image.mode == "RGB"
        assert boxes.shape == (labels.shape[0], 4) and boxes.dtype == torch.float32
        assert bool((boxes >= 0).all() and (boxes <= IMAGE_SIZE).all())
        assert bool((boxes[:, 2] > boxes[:, 0] + 4).all() and (boxes[:, 3] > boxes[:, 1] + 4).all())
        assert bool(((labels >= 0) & (labels < len(CLASSES))).all())
        counts.append(len(labels))
    assert 1 <= min(counts) and max(counts) <= 8 and len(set(counts)) > 3

    coco = coco_annotations("val", 5)
    assert len(coco["images"]) == 5 and len(coco["categories"]) == len(CLASSES)
    _, boxes, _ = make_scene(split_seed("val", 0))
    first = [a for a in coco["annotations"] if a["image_id"] == split_seed("val", 0)]
    assert len(first) == len(boxes)
    x, y, w, h = first[0]["bbox"]
    assert [x, y, x + w, y + h] == pytest.approx(boxes[0].tolist())
    from pycocotools.coco import COCO  # the official loader accepts the dict

    api = COCO()
    api.dataset = coco
    api.createIndex()
    assert len(api.getAnnIds()) == len(coco["annotations"])


def test_imbalance_statistic_uses_the_models_matcher() -> None:
    model = build_detector("focal")
    pooled_pos = pooled_neg = 0
    for index in range(6):
        image, target = SceneDataset("val", 6)[index]
        stats = anchor_statistics(model, image, target)
        anchors, _ = match_anchors(model, image, target)
        assert stats["anchors"] == anchors.shape[0] == 32 * 32 * 9 + 16 * 16 * 9
        assert stats["positives"] + stats["negatives"] + stats["ignored"] == stats["anchors"]
        # Independent count: background is every anchor whose best IoU is below 0.4, except the
        # few that the matcher promotes as an object's best (low-quality) match.
        best_iou = box_iou(target["boxes"], anchors).max(dim=0).values
        promoted = stats["positives"] - int((best_iou >= 0.5).sum())
        assert 0 <= int((best_iou < 0.4).sum()) - stats["negatives"] <= promoted
        pooled_pos += stats["positives"]
        pooled_neg += stats["negatives"]
    # The paper's regime: hundreds to thousands of background anchors per foreground one.
    assert pooled_neg / pooled_pos > 100


# ---------------------------------------------------------------- model and training


def test_initialisation_is_identical_for_every_loss() -> None:
    states = [build_detector(loss, seed=3).state_dict() for loss in losses.LOSSES]
    for other in states[1:]:
        assert all(torch.equal(states[0][k], other[k]) for k in states[0])
    bias = states[0]["head.classification_head.cls_logits.bias"]
    torch.testing.assert_close(bias, torch.full_like(bias, -math.log(99)))


def test_inference_accepts_any_input_size() -> None:
    model = build_detector("focal").eval()
    with torch.no_grad():
        out = model([torch.rand(3, 200, 300)])[0]
    assert set(out) == {"boxes", "scores", "labels"}
    if len(out["boxes"]):
        assert float(out["boxes"][:, 2].max()) <= 300 and float(out["boxes"][:, 3].max()) <= 200


def smoke_args(loss: str, steps: int, folder: Path, *extra: str) -> list[str]:
    """A few-step training run on 2-image batches, writing its checkpoint and state to `folder`."""
    return ["--loss", loss, "--steps", str(steps), "--batch-size", "2", "--warmup", "1", "--eval-n", "0",
            "--threads", "2", "--out", str(folder), "--state-dir", str(folder), *extra]


@pytest.mark.parametrize("loss", losses.LOSSES)
def test_training_smoke_run_on_cpu(loss: str, tmp_path: Path) -> None:
    meta = train_main(smoke_args(loss, 2, tmp_path))
    assert meta["steps"] == 2
    model = load_checkpoint(tmp_path / f"detection_{loss}.safetensors")
    assert model.loss_name == loss and not model.training
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_training_resumes_exactly(tmp_path: Path) -> None:
    train_main(smoke_args("focal", 3, tmp_path / "a"))
    paused = train_main(smoke_args("focal", 3, tmp_path / "b", "--stop-at", "2"))
    assert paused == {"loss": "focal", "step": 2}
    assert json.loads((tmp_path / "b" / "detection_focal_state.json").read_text())["step"] == 2
    train_main(smoke_args("focal", 3, tmp_path / "b", "--resume"))
    a = load_checkpoint(tmp_path / "a" / "detection_focal.safetensors").state_dict()
    b = load_checkpoint(tmp_path / "b" / "detection_focal.safetensors").state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- bundled checkpoints


@pytest.mark.parametrize(("suffix", "loss"), [("focal", "focal"), ("ce", "ce"), ("ohem", "hnm")])
def test_bundled_checkpoint_reaches_its_recorded_ap(suffix: str, loss: str) -> None:
    path = CHECKPOINTS / f"detection_{suffix}.safetensors"
    assert path.exists(), f"missing bundled checkpoint {path}"
    assert path.stat().st_size < 5_000_000
    assert (CHECKPOINTS / f"detection_{suffix}.md").exists()
    meta = read_metadata(path)
    assert json.loads(meta["ci_subset"]) == CI_SUBSET
    model = load_checkpoint(path)
    assert model.loss_name == loss  # the first format's "ohem" was SSD-style mining
    metrics = evaluate(model, CI_SUBSET["split"], CI_SUBSET["n"], CI_SUBSET["start"])
    assert metrics["AP"] >= float(meta["ci_ap"]) - AP_TOLERANCE
    # A real detector, not a blank one: it finds shapes in a scene outside the subset.
    with torch.no_grad():
        detections = model([to_tensor(make_scene(split_seed("val", 999))[0])])[0]
    assert float(detections["scores"].max()) > 0.3
