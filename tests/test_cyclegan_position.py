"""CycleGAN's position experiment: the pair, the displacement metric, fill ratio, receptive field."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import ChineseRequest
from scipy.ndimage import binary_erosion, gaussian_filter
from torch import nn

from demos.cyclegan.data import make_scene, unpaired_batch
from demos.cyclegan.evaluate import evaluate_pair
from demos.cyclegan.metrics import displacement, fill_ratios, object_fill_ratios
from demos.cyclegan.model import ResnetGenerator
from demos.cyclegan.receptive import (
    draw_receptive_field,
    effective_receptive_field,
    mass_share,
    theoretical_receptive_field,
)

# ---------------------------------------------------------------- the position pair


@pytest.mark.parametrize("size", [64, 128])
def test_position_objects_stay_in_their_half(size):
    half = size // 2
    for index in range(12):
        s = make_scene("position", "train_a", index, size)
        assert s.offset == (0, half) and len(s.boxes) >= 1
        assert s.mask_a.any() and not s.mask_a[:, half:].any()  # A: left half only
        assert s.mask_b.any() and not s.mask_b[:, :half].any()  # B: right half only
        # The counterpart is the same objects, moved half a canvas, pixel for pixel.
        assert np.array_equal(s.mask_b[:, half:], s.mask_a[:, :half])
        inside = np.roll(binary_erosion(s.mask_a, iterations=2), half, axis=1)  # off the blended edges
        assert np.array_equal(np.roll(s.a, half, axis=1)[inside], s.b[inside])  # the same colours
        assert (s.boxes[:, 3] <= half).all()


def test_position_scenes_are_deterministic_and_training_is_unpaired():
    one, two = make_scene("position", "heldout", 4, 64), make_scene("position", "heldout", 4, 64)
    assert np.array_equal(one.a, two.a) and np.array_equal(one.b, two.b)
    assert not np.array_equal(make_scene("position", "heldout", 5, 64).a, one.a)
    a, b = unpaired_batch("position", 0, 3, 64)
    counterparts = [make_scene("position", "train_a", i, 64).b for i in range(3)]
    for image in b:  # no B image of the batch is the moved copy of any A image
        assert all(not np.allclose(image.permute(1, 2, 0).numpy(), c * 2 - 1) for c in counterparts)
    # Each B image has its objects on the right, each A image on the left (values in [-1, 1]).
    for batch, scene_split in ((a, "train_a"), (b, "train_b")):
        for i, image in enumerate(batch):
            scene = make_scene("position", scene_split, i, 64)
            expected = scene.a if scene_split == "train_a" else scene.b
            assert np.allclose(image.permute(1, 2, 0).numpy(), expected * 2 - 1, atol=1e-6)


# ---------------------------------------------------------------- displacement


def test_a_true_translation_scores_the_shift_and_an_unchanged_copy_scores_zero():
    s = make_scene("position", "heldout", 3, 128)
    moved = displacement(s.a, s.b, s.background, s.offset)
    assert moved.needed_px == 64 and moved.shift_px == pytest.approx(64, abs=0.5)
    assert moved.ratio == pytest.approx(1, abs=0.01) and moved.kind == "translate"
    assert moved.kept < 0.02 and moved.arrived > 0.98 and moved.colour_error < 0.02
    back = displacement(s.b, s.a, s.background, (0, -64))  # B -> A moves left
    assert back.shift_px == pytest.approx(64, abs=0.5) and back.kind == "translate"
    still = displacement(s.a, s.a.copy(), s.background, s.offset)
    assert still.shift_px == 0 and still.ratio == 0 and still.kept == 1 and still.kind == "leave in place"


def test_displacement_tells_what_happened_instead():
    s = make_scene("position", "heldout", 3, 128)
    assert displacement(s.a, s.background.copy(), s.background, s.offset).kind == "erase"
    # Objects erased and others painted in the right half, in other colours and places.
    other = make_scene("position", "heldout", 7, 128)
    painted = np.where(other.mask_b[..., None], 1 - s.background, s.background)
    assert displacement(s.a, painted, s.background, s.offset).kind == "erase-and-paint"
    # Right place, wrong colours: painted, not carried.
    recoloured = np.where(s.mask_b[..., None], 1 - s.b, s.b)
    assert displacement(s.a, recoloured, s.background, s.offset).kind == "erase-and-paint"
    # Each object dragged along its way: a streak from where it was to where it should be.
    streak = s.background.copy()
    for t in range(0, 65, 2):
        shifted = np.roll(s.a, t, axis=1)
        streak = np.where(np.roll(s.mask_a, t, axis=1)[..., None], shifted, streak)
    smeared = displacement(s.a, streak, s.background, s.offset)
    assert smeared.kind == "smear" and smeared.in_transit > 0.5
    assert 0.2 < smeared.ratio < 0.8  # the centroid got part of the way


def test_evaluation_of_an_identity_generator_on_the_position_pair():
    m = evaluate_pair(nn.Identity(), nn.Identity(), "position", 2, size=64)
    for direction in ("AB", "BA"):
        assert m[direction]["needed_px"] == 32 and m[direction]["displacement_ratio"] == 0
        assert m[direction]["share_leave_in_place"] == 1 and m[direction]["share_translate"] == 0


# ---------------------------------------------------------------- fill ratio


def test_fill_ratio_of_discs_and_squares():
    discs, squares = [], []
    for index in range(6):
        s = make_scene("geometry", "heldout", index, 128)
        discs += fill_ratios(s.mask_a, s.boxes).tolist()
        squares += fill_ratios(s.mask_b, s.boxes).tolist()
    assert np.mean(discs) == pytest.approx(math.pi / 4, abs=0.02)
    assert all(abs(r - math.pi / 4) < 0.08 for r in discs)  # pixel grids round small discs
    assert all(r == pytest.approx(1.0, abs=0.01) for r in squares)
    assert math.isnan(fill_ratios(np.zeros((8, 8), bool), np.array([[0, 0, 8, 8]]))[0])


def test_fill_ratio_at_half_contrast_tells_blurred_discs_from_blurred_squares():
    discs, squares = [], []
    for index in range(3):
        s = make_scene("geometry", "heldout", index, 128)
        blur = (1.5, 1.5, 0)  # about what a small generator's outputs look like
        background = gaussian_filter(s.background, blur)
        discs += object_fill_ratios(gaussian_filter(s.a, blur), background, s.boxes).tolist()
        squares += object_fill_ratios(gaussian_filter(s.b, blur), background, s.boxes).tolist()
    assert np.mean(discs) == pytest.approx(math.pi / 4, abs=0.03) and np.mean(squares) > 0.93


# ---------------------------------------------------------------- receptive field


def _positive_stack(depth: int) -> nn.Sequential:
    """3x3 convolutions with equal positive weights: no gradient can cancel, so the support is
    the whole field, and the gradient at an offset counts the paths to it (peaked at the centre)."""
    net = nn.Sequential(*[nn.Conv2d(3 if i == 0 else 4, 4, 3, padding=1) for i in range(depth)])
    with torch.no_grad():
        for conv in net:
            conv.weight.fill_(0.1)
    return net


@pytest.mark.parametrize("depth", [1, 3, 5])
def test_receptive_field_of_a_stack_of_3x3_convolutions(depth):
    net = _positive_stack(depth)
    side = 1 + 2 * depth
    assert theoretical_receptive_field(net) == side
    field = effective_receptive_field(net, torch.rand(3, 31, 31), (15, 15), share=1.0)
    y0, x0, y1, x1 = field.box
    assert (y1 - y0, x1 - x0) == (side, side) and field.mask.sum() == side * side
    assert (y0 + y1) / 2 == pytest.approx(15.5) and (x0 + x1) / 2 == pytest.approx(15.5)
    assert field.radius_px == pytest.approx(math.hypot(depth, depth))  # its corner, the farthest pixel
    half = effective_receptive_field(net, torch.rand(3, 31, 31), (15, 15), share=0.5)
    assert half.mask.sum() < field.mask.sum() and not (half.mask & ~field.mask).any()
    assert depth == 1 or half.mask[15, 15]  # beyond one layer (a flat 3x3) the mass peaks at the centre
    assert mass_share(field, field.mask) == pytest.approx(1.0)
    assert mass_share(half, half.mask) >= 0.5


def test_receptive_field_of_the_generators_and_its_picture():
    assert theoretical_receptive_field(ResnetGenerator(ngf=8, n_blocks=6)) == 121  # the bundled one
    assert theoretical_receptive_field(ResnetGenerator(ngf=64, n_blocks=9)) == 169  # the authors'
    net = ResnetGenerator(ngf=4, n_blocks=1).eval()
    field = effective_receptive_field(net, torch.rand(1, 3, 32, 32) * 2 - 1, (16, 16), share=0.9)
    assert field.gradient.shape == (32, 32) and field.mask.any() and field.radius_px > 0
    picture = draw_receptive_field(np.full((32, 32, 3), 0.5), field, source=(16, 2))
    assert picture.size == (32, 32)
    with pytest.raises(ValueError, match="outside"):
        effective_receptive_field(net, torch.rand(3, 32, 32), (40, 3))


def test_each_destination_is_its_object_moved_by_the_pair_offset():
    from demos.cyclegan.data import make_scene
    from demos.cyclegan.receptive import destinations

    scene = make_scene("position", "heldout", 0, 128)
    found = destinations(scene)
    assert len(found) == len(scene.boxes) > 0
    for (sy, sx), (ty, tx), footprint in found:
        assert (ty - sy, tx - sx) == scene.offset
        assert footprint[sy, sx] and footprint.sum() > 0 and not (footprint & ~scene.mask_a).any()


def test_the_tab_states_the_measured_reach_in_either_language():
    import json

    import app
    from demos.cyclegan import receptive
    from demos.cyclegan.ui import reach_view

    app.build_app(["cyclegan"])
    found = json.loads(receptive.RESULTS.read_text())
    assert found["theoretical_px"] < 2 * found["travel_px"]  # the sentence's premise: ±half < the travel

    for request in (None, ChineseRequest()):
        picture, text = reach_view(request)
        assert picture.size == (384, 384)
        stated = (f"{found['theoretical_px']} px", f"{found['r50_px']:.1f} px", f"{found['on_object']:.1%}")
        assert all(value in text for value in stated), (stated, text)
        moved = json.loads(receptive.RESULTS.with_name("position.json").read_text())
        if moved["status"] == "trained":  # the position pair's own result follows, from its files
            m, own = moved["metrics"]["AB"], json.loads(receptive.RESULTS.with_name("receptive_position.json")
                                                        .read_text())
            stated = (f"{m['displacement_px']:.1f} px", f"{m['kept']:.0%}",
                      f"{round(m['share_leave_in_place'] * moved['eval_n'])}", f"{own['r50_px']:.1f} px")
            assert all(value in text for value in stated), (stated, text)
    assert "梯度" in text
