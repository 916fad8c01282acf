"""ROIPool and ROIAlign: what the tab draws is what torchvision computes, and the claims hold.

The drawn bins and sample points are re-derived from the kernels' arithmetic; these tests
pool through them by hand and compare with torchvision's own outputs, then check the
tab's claims numerically: ROIPool's output moves in steps, ROIAlign's moves smoothly, and
a point found through the pooled grid is off by what the answer says.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.ops import roi_align, roi_pool

from demos.roi import plots
from demos.roi.pooling import (
    METHODS,
    align_box,
    align_geometry,
    analyse,
    detector_features,
    feature_map,
    image_features,
    localisation_errors,
    peak_location,
    pool_box,
    pool_cells,
    pool_geometry,
    shifts_for,
)

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "detection" / "scene_1000001.png"
BOX = (188.2, 130.9, 235.1, 177.8)  # the scene's largest object, 2.9 cells wide at stride 16


def _bilinear(values: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """One bilinear read of a (C, H, W) map at feature coordinates (x, y), with the edge rules of
    torchvision's kernel: zero beyond one cell outside, clamped to the border within it."""
    _, height, width = values.shape
    if y < -1 or y > height or x < -1 or x > width:
        return torch.zeros(values.shape[0])
    x, y = max(x, 0.0), max(y, 0.0)
    x0, y0 = int(x), int(y)
    if x0 >= width - 1:
        x0 = x1 = width - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    if y0 >= height - 1:
        y0 = y1 = height - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    lx, ly = x - x0, y - y0
    return ((1 - ly) * (1 - lx) * values[:, y0, x0] + (1 - ly) * lx * values[:, y0, x1]
            + ly * (1 - lx) * values[:, y1, x0] + ly * lx * values[:, y1, x1])


def _random_cases(n: int, width: int, height: int, stride: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        x1, y1 = rng.uniform(0, width * stride - 20), rng.uniform(0, height * stride - 20)
        x2, y2 = rng.uniform(x1 + 0.3, width * stride), rng.uniform(y1 + 0.3, height * stride)
        if i % 4 == 0:  # edges on exact half cells, where rounding is decided
            x1, x2 = (np.floor(x1 / stride) + 0.5) * stride, (np.floor(x2 / stride) + 0.5) * stride + stride
        box = (float(x1), float(y1), float(x2), float(y2))
        yield box, int(rng.integers(1, 9)), int(rng.integers(0, 4)), bool(rng.integers(0, 2))


def test_drawn_roipool_bins_are_the_cells_torchvision_pools():
    stride, height, width = 16, 11, 14
    values = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    for box, output, _, _ in _random_cases(200, width, height, stride):
        geometry = pool_geometry(box, stride, output, (width, height))
        by_hand = torch.zeros(3, output, output)
        for i in range(output):
            for j in range(output):
                x0, y0, x1, y1 = (geometry.bins[i, j] / stride).astype(int)
                if not geometry.empty[i, j]:
                    by_hand[:, i, j] = values[0, :, y0:y1, x0:x1].amax(dim=(1, 2))
        rois = torch.tensor([[0.0, *box]])
        assert torch.equal(by_hand, roi_pool(values, rois, output, 1 / stride)[0]), box


def test_drawn_roialign_points_are_the_points_torchvision_samples():
    stride, height, width = 8, 9, 12
    values = torch.randn(1, 2, height, width, generator=torch.Generator().manual_seed(2))
    for box, output, ratio, aligned in _random_cases(150, width, height, stride, seed=3):
        geometry = align_geometry(box, stride, output, ratio, aligned)
        by_hand = torch.stack([
            torch.stack([torch.stack([_bilinear(values[0], float(x), float(y))
                                      for x, y in geometry.points_feature[i, j]]).mean(dim=0)
                         for j in range(output)], dim=1)
            for i in range(output)], dim=1)  # (C, out, out)
        expected = roi_align(values, torch.tensor([[0.0, *box]]), output, 1 / stride, ratio, aligned)[0]
        assert torch.allclose(by_hand, expected, atol=1e-5), (box, output, ratio, aligned)
        # The drawn points (image pixels) are the same points: cell j sits at s·(j + 1/2).
        assert np.allclose(geometry.points, (geometry.points_feature + 0.5) * stride)


def test_known_inputs_a_ramp_gives_the_bin_centres():
    """On a map whose value is the cell's x index, ROIAlign (exact on a linear ramp) returns each
    bin's centre in feature coordinates and ROIPool the last cell each bin reaches."""
    stride, width = 16, 20
    ramp = torch.arange(width, dtype=torch.float32).expand(1, 1, 6, width).contiguous()  # (1, 1, 6, 20)
    box, output = (40.0, 20.0, 152.0, 60.0), 7  # 2.5 to 9.5 cells
    fm = image_features(Image.new("RGB", (width * stride, 6 * stride)), stride)
    fm.values = ramp
    a = analyse(fm, box, output, sampling_ratio=2, aligned=True)
    centres = box[0] / stride - 0.5 + (np.arange(output) + 0.5) * (box[2] - box[0]) / stride / output
    assert np.allclose(a.align[0, 0].numpy(), centres, atol=1e-5)
    # ROIPool: edges round to cells 3 and 10 (2.5 and 9.5 round half away from zero), 8 cells in 7 bins.
    assert a.pool_geometry.cells[0::2] == (3, 10)
    ends = np.ceil((np.arange(output) + 1) * 8 / 7).astype(int) + 3 - 1  # the last cell of each bin
    assert a.pool[0, 0].numpy().tolist() == ends.tolist()
    # And the analysis's outputs are torchvision's, called directly.
    rois = torch.tensor([[0.0, *box]])
    assert torch.equal(a.pool, roi_pool(ramp, rois, output, 1 / stride)[0])
    assert torch.equal(a.align, roi_align(ramp, rois, output, 1 / stride, 2, True)[0])


def test_quantised_region_edges_sit_on_the_grid_within_half_a_cell():
    boxes = np.random.default_rng(4).uniform(0, 500, size=(500, 4))
    boxes[:, 2:] = boxes[:, :2] + np.random.default_rng(5).uniform(1, 100, size=(500, 2))
    for stride in (4, 8, 16, 32):
        pooled = pool_box(boxes, stride)
        assert np.all(pooled % stride == 0)
        assert np.all(np.abs(pooled[:, :2] - boxes[:, :2]) <= stride / 2 + 1e-3)
        # The last cell is included, so the far edge lands half to one and a half cells out.
        reach = pooled[:, 2:] - boxes[:, 2:]
        assert np.all((reach >= stride / 2 - 1e-3) & (reach <= 1.5 * stride + 1e-3))
        assert np.allclose(align_box(boxes, stride, aligned=True), boxes, atol=1e-3)
        legacy = align_box(boxes, stride, aligned=False)
        assert np.allclose(legacy[:, :2], boxes[:, :2] + stride / 2, atol=1e-3)


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return Image.open(SCENE).convert("RGB")


@pytest.mark.parametrize(("source", "stride"),
                         [("image", 16), ("image", 4), ("detector", 16), ("detector", 8)])
def test_roipool_moves_in_steps_and_roialign_smoothly(scene, source, stride):
    fm = feature_map(scene, source, stride)
    a = analyse(fm, BOX, output=7, sampling_ratio=2, aligned=True)
    assert len(a.shifts) > 60 and np.allclose(np.diff(a.shifts), stride / 64)
    # ROIPool: the output changes exactly where a rounded edge moves, and nowhere else.
    cells = pool_cells(a.requested_boxes, stride)
    moved = (np.diff(cells, axis=0) != 0).any(axis=1)
    changed = (a.pool_sweep[1:] != a.pool_sweep[:-1]).reshape(len(a.shifts) - 1, -1).any(dim=1).numpy()
    assert not changed[~moved].any(), "ROIPool changed without its rounded region moving"
    assert changed[moved].all() and 1 <= moved.sum() <= 4  # two cells of travel: a few steps
    assert a.distinct_outputs(a.pool_sweep) == moved.sum() + 1
    # ROIAlign: every step changes it, by no more than the map's steepest cell-to-cell slope allows.
    values = fm.values[0]
    slope = max(float((values[:, :, 1:] - values[:, :, :-1]).abs().max()),
                float((values[:, 1:] - values[:, :-1]).abs().max()))
    steps = (a.align_sweep[1:] - a.align_sweep[:-1]).abs().amax(dim=(1, 2, 3))
    assert torch.all(steps <= slope / 64 + 1e-5)
    assert a.distinct_outputs(a.align_sweep) == len(a.shifts)
    assert a.largest_jump(a.pool_sweep) > 20 * a.largest_jump(a.align_sweep)


def test_the_implied_box_steps_for_roipool_and_follows_for_roialign(scene):
    a = analyse(feature_map(scene, "image", 16), BOX, output=7, sampling_ratio=2, aligned=True)
    pool_offset, align_offset = a.centre_offsets(a.pool_boxes), a.centre_offsets(a.align_boxes)
    assert np.abs(align_offset).max() < 1e-3
    # Between steps ROIPool's region stands still while the region asked for moves on.
    still = (np.diff(a.pool_boxes, axis=0) == 0).all(axis=1)
    assert np.allclose(np.diff(pool_offset)[still], -16 / 64)
    assert 0 < pool_offset.min() and pool_offset.max() - pool_offset.min() > 8  # half a cell and more


def test_peak_location_finds_a_sampled_gaussian_and_moves_continuously():
    centres = torch.arange(7, dtype=torch.float64) + 0.5

    def bumps(truth: torch.Tensor, sigma: float) -> torch.Tensor:  # (K, 2) -> (K, 7, 7)
        dx2 = (centres[None, None, :] - truth[:, 0, None, None]) ** 2
        dy2 = (centres[None, :, None] - truth[:, 1, None, None]) ** 2
        return torch.exp(-(dx2 + dy2) / (2 * sigma**2)).float()

    truth = torch.tensor([[3.2, 2.9], [3.6, 3.45], [2.5, 3.5]], dtype=torch.float64)
    plain = np.ones((3, 2))
    assert np.allclose(peak_location(bumps(truth, 0.8), plain), truth.numpy(), atol=5e-3)
    # A wide bump (3 bins) sharpened by p = 3² reads like a one-bin bump: the grid's edges barely pull it.
    assert np.allclose(peak_location(bumps(truth, 3.0), plain * 9), truth.numpy(), atol=0.05)
    track = torch.stack([torch.linspace(2.0, 5.0, 301), torch.full((301,), 3.5)], dim=1).double()
    found = peak_location(bumps(track, 1.0), np.ones((301, 2)))[:, 0]
    assert np.abs(np.diff(found)).max() < 0.02  # steps of 0.01 bin in, no jumps out


def test_a_point_found_through_each_operator_is_off_by_what_the_answer_says():
    stride, box = 16, BOX
    shifts = shifts_for(box, stride, 256)
    errors = localisation_errors(box, stride, 7, 2, (16, 16), shifts)
    assert set(errors) == set(METHODS)
    aligned, legacy, pooled = (errors[m][:, 0] for m in (METHODS[2], METHODS[1], METHODS[0]))
    assert abs(aligned.mean()) < 0.05 * stride  # aligned=True: centred on the point
    assert abs(legacy.mean() + stride / 2) < 0.1 * stride  # legacy: half a cell off, to the left
    assert np.abs(pooled).mean() > 3 * np.abs(aligned).mean()
    # ROIAlign's error changes smoothly with the shift; ROIPool's jumps.
    assert np.abs(np.diff(aligned)).max() < 0.05 * stride
    assert np.abs(np.diff(pooled)).max() > 0.25 * stride


def test_feature_maps_are_what_they_say(scene):
    fm = image_features(scene, 8)
    luma = (np.asarray(scene, dtype=np.float32) / 255) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    blocks = luma.reshape(32, 8, 32, 8).mean(axis=(1, 3))  # (256, 256) -> (32, 32) 8x8 block means
    assert fm.values.shape == (1, 1, 32, 32) and np.allclose(fm.values[0, 0].numpy(), blocks, atol=1e-5)
    # 250 x 200 is padded on the right and bottom to multiples of 32: coordinates keep their meaning.
    assert image_features(scene.crop((0, 0, 250, 200)), 16).values.shape == (1, 1, 14, 16)  # 224 x 256
    det = detector_features(scene, 16)
    assert det.values.shape == (1, 64, 16, 16) and torch.isfinite(det.values).all()
    assert detector_features(scene, 8).values.shape == (1, 64, 32, 32)
    with pytest.raises(ValueError, match="strides 8 and 16"):
        detector_features(scene, 32)
    with pytest.raises(ValueError, match="Unknown feature map"):
        feature_map(scene, "resnet", 16)


def test_pictures_and_plots(scene):
    a = analyse(feature_map(scene, "detector", 16), BOX, output=7, sampling_ratio=0, aligned=False)
    assert a.align_geometry.grid == (1, 1)  # adaptive: ceil(2.9 cells / 7 bins) = 1 point per side
    drawn, grids = plots.overlay(scene, a), plots.pooled_grids(a)
    assert drawn.width > 600 and drawn.height > 300 and grids.width > 400
    shift, located = plots.shift_figure(a), plots.localisation_figure(a)
    assert [t.name for t in located.data] == list(METHODS)
    assert len(shift.data) == 5 and all(len(t.x) == len(a.shifts) for t in shift.data)


def _numbers(text: str) -> list[str]:
    """Every number a text states, signs and decimals kept, thousands separators dropped, sorted."""
    sign = r"(?:(?<![A-Za-z])[-+−])?"  # a sign, not the hyphen of "stride-2"
    return sorted(re.findall(sign + r"\d+(?:\.\d+)?", re.sub(r"(?<=\d),(?=\d{3})", "", text)))


def test_the_chinese_page_states_the_same_measurements():
    """A page in Chinese gets the summary, the figures and the pictures from its own templates:
    every number of the English is there, and the words are Chinese."""
    from conftest import ChineseRequest

    from demos.roi import ui
    from shared.drawing import cjk_font

    args = (str(SCENE), *BOX, "detector", 16, 7, 2, True)
    english, chinese = ui.roi_endpoint(*args), ui.roi_endpoint(*args, request=ChineseRequest())
    untimed = [re.sub(r"[\d.]+ ms", "ms", s) for s in (english[4], chinese[4])]  # two runs, two timings
    assert _numbers(untimed[0]) == _numbers(untimed[1])
    assert "distinct values" in english[4] and "个不同的值" in chinese[4] and "distinct" not in chinese[4]
    for en, zh in zip(english[2:4], chinese[2:4], strict=True):
        for e, z in ((en.layout.title.text, zh.layout.title.text),
                     (en.layout.yaxis.title.text, zh.layout.yaxis.title.text)):
            assert _numbers(e) == _numbers(z) and re.search(r"[\u4e00-\u9fff]", z), (e, z)
        assert [t.name for t in en.data] == [t.name for t in zh.data]  # the curves keep their names
    # The pictures' titles are drawn in Chinese where a font has the glyphs, else left in English.
    for en, zh in zip(english[:2], chinese[:2], strict=True):
        assert (en.tobytes() != zh.tobytes()) == (cjk_font(12) is not None)
    # The JSON is for programs, in English either way.
    assert chinese[5]["feature_map"]["description"] == english[5]["feature_map"]["description"]
    assert english[5]["feature_map"]["description"].startswith("tiny-retinanet-focal FPN level P4")


@pytest.mark.parametrize(("change", "english", "chinese"), [
    ({1: 240.0, 3: 100.0}, "x2 (100) must be greater than its x1 (240)",
     "区域的 x2（100）必须大于它的 x1（240）"),
    ({4: 900.0}, "y2 = 900 lies outside the image", "区域的 y2 = 900 超出了图片"),
    ({6: 4}, "strides 8 and 16 only (got 4)", "只有步长 8 和 16 两层（收到的是 4）"),
])
def test_errors_the_page_can_cause_are_in_its_language(change, english, chinese):
    """Sliders crossed or past the image and a stride the detector lacks: the page in Chinese is told
    in Chinese, with the same values; the API (no language) in English."""
    import gradio as gr
    from conftest import ChineseRequest

    from demos.roi import ui

    args = [str(SCENE), *BOX, "detector", 16, 7, 2, True]
    for position, value in change.items():
        args[position] = value
    for request, expected in ((None, english), (ChineseRequest(), chinese)):
        with pytest.raises(gr.Error, match=re.escape(expected)):
            ui.roi_endpoint(*args, request=request)
