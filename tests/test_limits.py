"""The oracle of the detector-limits tab: recall 1.0 where no rule bites, and the exact
object lost where a suppression, a collision or an unmatched object is built in."""

from __future__ import annotations

import math
import re

import pytest
import torch
from PIL import Image, ImageDraw
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import box_iou

from demos.limits import oracle, rules, sweeps
from demos.limits.scenes import Scene, generate, group_offsets, parse_objects, shape_of
from shared.images import BadInput

FAMILIES = (oracle.retinanet, oracle.faster_rcnn, oracle.ssd300, oracle.yolov3)


def scene_of(boxes: list[list[float]], labels: list[int] | None = None, angles: list[float] | None = None,
             width: int = 640, height: int = 480) -> Scene:
    b = torch.tensor(boxes, dtype=torch.float32)
    n = len(boxes)
    return Scene(width, height, (b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2],
                 torch.tensor(angles or [0.0] * n), torch.tensor(labels or [0] * n), ["A", "B"])


def mask_iou(scene: Scene, i: int, j: int | None = None, scale: int = 4) -> float:
    """IoU of object i's rasterised shape with object j's shape, or with its own box."""
    size = (scene.width * scale, scene.height * scale)

    def raster(points=None, box=None) -> torch.Tensor:
        img = Image.new("1", size, 0)
        draw = ImageDraw.Draw(img)
        if points is not None:
            draw.polygon([tuple(p) for p in (points * scale).tolist()], fill=1)
        else:
            draw.rectangle((box * scale).tolist(), fill=1)
        return torch.tensor(list(img.getdata()), dtype=torch.bool)

    a = raster(points=scene.corners()[i])
    b = raster(box=scene.boxes[i]) if j is None else raster(points=scene.corners()[j])
    return float((a & b).sum() / (a | b).sum())


# ---------------------------------------------------------------- nothing applies: recall 1.0


def test_isolated_medium_objects_are_all_reachable_by_every_rule():
    scene = generate(crowding=0.0, size=64, aspect=1.0, rotation=0, groups=12, group_size=1, seed=3)
    outcomes = oracle.run_all(scene, nms_threshold=0.5)
    assert len(outcomes) == 10
    for outcome in outcomes:
        if "no low-quality" in outcome.rule:
            continue  # without the rescue rule an anchor layout may fit no square well enough
        assert outcome.recall == 1.0, (outcome.rule, outcome.counts())
        assert set(outcome.fate) == {oracle.REACHED}


# ---------------------------------------------------------------- NMS


def test_nms_removes_exactly_the_later_of_two_overlapping_objects():
    w, h = 40.0, 100.0
    offsets = group_offsets(2, 0.6, w, h, 0.0)
    centres = (offsets + torch.tensor([300.0, 200])).tolist()
    boxes = [[x - w / 2, y - h / 2, x + w / 2, y + h / 2] for x, y in centres]
    far = [[20, 20, 60, 120]]
    scene = scene_of(boxes + far)
    assert float(box_iou(scene.boxes[:1], scene.boxes[1:2])) == pytest.approx(0.6, abs=1e-5)
    at_half = oracle.nms_only(scene, 0.5)
    assert at_half.fate == [oracle.REACHED, oracle.NMS, oracle.REACHED] and at_half.blame[1] == 0
    assert oracle.nms_only(scene, 0.7).recall == 1.0
    # Another class is never suppressed, and Soft-NMS keeps the neighbour with a lower score.
    assert oracle.nms_only(scene_of(boxes + far, labels=[0, 1, 0]), 0.5).recall == 1.0
    assert oracle.soft_nms(scene, "gaussian", 0.5, 0.5).recall == 1.0
    # Each family's own NMS runs after its assignment: the same object is the one lost.
    for family in FAMILIES:
        outcome = family(scene)
        assert outcome.fate[1] == oracle.NMS and outcome.fate[0] == outcome.fate[2] == oracle.REACHED, family


def test_soft_nms_decays_scores_as_the_paper_writes():
    boxes = torch.tensor([[0.0, 0, 10, 10], [2, 0, 12, 10], [100, 100, 110, 110]])
    labels = torch.zeros(3, dtype=torch.int64)
    iou = float(box_iou(boxes[:1], boxes[1:2]))
    top = float(rules.perfect_scores(3)[1])
    gaussian = rules.soft_nms(boxes, labels, "gaussian", sigma=0.5)
    assert float(gaussian[1]) == pytest.approx(top * math.exp(-iou**2 / 0.5), rel=1e-5)
    linear = rules.soft_nms(boxes, labels, "linear", threshold=0.5)
    assert float(linear[1]) == pytest.approx(top * (1 - iou), rel=1e-5)
    assert float(rules.soft_nms(boxes, labels, "linear", threshold=0.9)[1]) == pytest.approx(top)
    # Many near-copies: each pick decays the rest until they fall under the score threshold.
    copies = torch.tensor([[0.0, 0, 100, 100]]).repeat(6, 1) + torch.arange(6.0)[:, None]
    assert (rules.soft_nms(copies, torch.zeros(6, dtype=torch.int64), "gaussian", 0.5) == 0).any()


def test_faster_rcnn_rpn_suppresses_across_classes_where_retinanet_does_not():
    scene = scene_of([[100, 100, 200, 200], [110, 100, 210, 200]], labels=[0, 1])  # IoU 0.82
    assert oracle.retinanet(scene).recall == 1.0
    faster = oracle.faster_rcnn(scene)
    assert faster.fate == [oracle.REACHED, oracle.NMS] and faster.blame == [-1, 0]


def test_per_image_caps_cut_the_last_objects():
    scene = generate(crowding=0.0, size=16, aspect=1.0, rotation=0, groups=150, group_size=1, seed=0)
    faster = oracle.faster_rcnn(scene)
    assert faster.counts()[oracle.CAP] == 50 and set(faster.fate[100:]) == {oracle.CAP}
    assert oracle.retinanet(scene).counts()[oracle.CAP] == 0  # RetinaNet keeps 300


# ---------------------------------------------------------------- collisions and unmatched objects


def test_yolo_collision_loses_exactly_the_earlier_of_two_objects_in_one_cell():
    box = rules.letterbox(640, 480)

    def image_box(cx: float, cy: float) -> list[float]:  # a 10x13 prior-shaped box, network px -> image px
        return [(cx - 5 - box.px) / box.sx, (cy - 6.5 - box.py) / box.sy,
                (cx + 5 - box.px) / box.sx, (cy + 6.5 - box.py) / box.sy]

    same_cell = scene_of([image_box(8 * 20 + 2, 8 * 15 + 3), image_box(8 * 20 + 6, 8 * 15 + 5),
                          image_box(8 * 40 + 4, 8 * 15 + 4)])
    assigned = rules.yolo_assign(box.boxes(same_cell.boxes))
    assert assigned["prior"].tolist() == [0, 0, 0] and assigned["stride"].tolist() == [8, 8, 8]
    yolo = oracle.yolov3(same_cell)
    assert yolo.fate == [oracle.TAKEN, oracle.REACHED, oracle.REACHED] and yolo.blame[0] == 1
    next_cell = scene_of([image_box(8 * 20 + 2, 8 * 15 + 3), image_box(8 * 21 + 6, 8 * 15 + 5)])
    assert oracle.yolov3(next_cell).recall == 1.0


def test_an_object_too_thin_for_every_anchor_gets_no_positive_without_the_rescue_rule():
    thin = scene_of([[300, 100, 306, 400], [40, 40, 120, 120]])  # 1:50 and a square
    plain = oracle.retinanet(thin, low_quality=False)
    assert plain.fate == [oracle.NO_FIT, oracle.REACHED] and plain.best_iou[0] < 0.5
    assert oracle.retinanet(thin).recall == 1.0  # low-quality matching hands it its best anchor
    assert oracle.faster_rcnn(thin, low_quality=False).fate[0] == oracle.NO_FIT
    assert oracle.ssd300(thin).fate[0] == oracle.REACHED  # SSD's best-box rule


def test_ssd_best_box_collision_loses_the_earlier_tiny_object():
    resize = rules.ssd_resize(640, 480)

    def image_box(cx: float, cy: float, w: float = 12, h: float = 100) -> list[float]:  # 300 px -> image px
        return [(cx - w / 2) / resize.sx, (cy - h / 2) / resize.sy, (cx + w / 2) / resize.sx,
                (cy + h / 2) / resize.sy]

    # Two thin objects 1 px apart in SSD's input: one default box suits both best, none by 0.5.
    tiny = scene_of([image_box(150, 150), image_box(151, 151), image_box(250, 60, 60, 60)])
    gt = resize.boxes(tiny.boxes)
    quality = box_iou(gt, rules.ssd300_anchors().boxes)
    assert quality[0].argmax() == quality[1].argmax() and quality[:2].max() < 0.5
    ssd = oracle.ssd300(tiny)
    assert ssd.fate == [oracle.TAKEN, oracle.REACHED, oracle.REACHED] and ssd.blame[0] == 1


def test_turned_thin_objects_box_mostly_background():
    scene = scene_of([[300, 150, 320, 310]], angles=[45.0])  # 20 x 160, aspect 8
    assert float(scene.shape_iou[0]) == pytest.approx(mask_iou(scene, 0), abs=0.01)
    assert float(scene.shape_iou[0]) == pytest.approx(2 * 8 / 81, abs=1e-4)  # w·h / ((w + h)/√2)²
    assert oracle.axis_aligned(scene).fate == [oracle.SHAPE]
    assert oracle.axis_aligned(scene_of([[300, 150, 320, 310]])).recall == 1.0


# ---------------------------------------------------------------- the parts against torchvision


@pytest.mark.parametrize("family,high,low", [("retinanet", 0.5, 0.4), ("rpn", 0.7, 0.3)])
@pytest.mark.parametrize("low_quality", [True, False])
def test_matching_on_the_decisive_anchors_equals_the_full_matcher(family, high, low, low_quality):
    scene = generate(crowding=0.7, size=14, aspect=2.0, rotation=10, groups=10, group_size=4, seed=1)
    resize = rules.rcnn_resize(scene.width, scene.height)
    gt = resize.boxes(scene.boxes)
    anchors = rules.fpn_anchors(family, resize.size)
    reduced = rules.match_fpn(gt, anchors, high, low, low_quality)
    full = det_utils.Matcher(high, low, allow_low_quality_matches=low_quality)(box_iou(gt, anchors.boxes))
    assert torch.equal(full[reduced.anchor], reduced.matches)
    others = torch.ones(len(full), dtype=torch.bool)
    others[reduced.anchor] = False
    assert (full[others] < 0).all()  # every anchor left out is a negative in the full matcher too
    assert torch.equal(reduced.best_iou, box_iou(gt, anchors.boxes).max(dim=1).values)


def test_touching_pairs_hold_every_intersecting_pair_and_nearest_pairs_the_best():
    scene = generate(crowding=0.2, size=30, aspect=0.5, rotation=0, groups=6, group_size=2, seed=2)
    resize = rules.rcnn_resize(scene.width, scene.height)
    gt = resize.boxes(scene.boxes)
    for anchors in (rules.fpn_anchors("retinanet", resize.size), rules.ssd300_anchors()):
        boxes = gt if anchors.boxes.shape[0] > 10_000 else rules.ssd_resize(640, 480).boxes(scene.boxes)
        dense = box_iou(boxes, anchors.boxes)
        obj, idx = rules.touching_pairs(boxes, anchors)
        listed = torch.zeros_like(dense, dtype=torch.bool)
        listed[obj, idx] = True
        assert not (dense > 0)[~listed].any()
        assert torch.allclose(rules.best_iou(boxes, anchors), dense.max(dim=1).values)


@pytest.mark.parametrize("size", [(640, 480), (300, 1000), (1500, 1500)])
def test_rcnn_resize_is_torchvisions_transform(size):
    width, height = size
    transform = GeneralizedRCNNTransform(800, 1333, [0.0] * 3, [1.0] * 3).eval()
    boxes = torch.tensor([[10.0, 20.0, 100.0, 200.0]])
    images, targets = transform([torch.zeros(3, height, width)], [{"boxes": boxes, "labels": torch.zeros(1)}])
    ours = rules.rcnn_resize(width, height)
    assert tuple(images.tensors.shape[-2:]) == (ours.size[1], ours.size[0])
    assert torch.allclose(targets[0]["boxes"], ours.boxes(boxes))


# ---------------------------------------------------------------- scenes and typed boxes


@pytest.mark.parametrize("rotation", [0.0, 30.0])
def test_generated_neighbours_overlap_by_the_chosen_crowding(rotation):
    scene = generate(crowding=0.4, size=60, aspect=3.0, rotation=rotation, groups=2, group_size=3, seed=0)
    assert mask_iou(scene, 0, 1) == pytest.approx(0.4, abs=0.02)
    box_overlap = float(box_iou(scene.boxes[:1], scene.boxes[1:2]))
    if rotation == 0:
        assert box_overlap == pytest.approx(0.4, abs=1e-5)
    else:  # turned, the boxes overlap more than the objects do
        assert box_overlap > 0.5


def test_generate_refuses_groups_that_do_not_fit():
    with pytest.raises(BadInput, match="do not fit"):
        generate(crowding=0.0, size=200, aspect=1.0, rotation=0, groups=40, group_size=5)


def test_typed_boxes_with_an_angle_get_their_tight_box():
    scene = parse_objects('{"image_size": [640, 480], "objects": [[10, 10, 50, 90], '
                          '{"box": [100, 100, 140, 200], "label": "car", "angle": 90}]}', None)
    assert scene.class_names == ["object", "car"]
    assert torch.allclose(scene.boxes[1], torch.tensor([70.0, 130, 170, 170]), atol=1e-4)


@pytest.mark.parametrize("text,size,message", [
    ("", (640, 480), "Type the boxes as JSON"),
    ("   ", (640, 480), "Type the boxes as JSON"),
    ("[[1, 2, 3", (640, 480), "not valid JSON"),
    ('{"boxes": []}', (640, 480), '"objects"'),
    ("[]", (640, 480), "empty"),
    ("[[0, 0, NaN, 10]]", (640, 480), "NaN"),
    ("[[0, 0, Infinity, 10]]", (640, 480), "Infinity"),
    ("[[0, 0, 1e400, 10]]", (640, 480), "finite"),
    ("[[50, 10, 40, 30]]", (640, 480), "x2 must be greater than x1"),
    ("[[10, 30, 40, 30]]", (640, 480), "y2 must be greater than y1"),
    ("[[-5, 10, 40, 30]]", (640, 480), r"reaches outside the image \(640×480\)"),
    ("[[600, 10, 700, 30]]", (640, 480), "reaches outside"),
    ('[{"box": [0, 0, 100, 10], "angle": 45}]', (640, 480), "turned by 45°"),
    ('[{"box": [0, 0, 10, 10], "angel": 4}]', (640, 480), "unknown key 'angel'"),
    ('[[0, 0, "10", 10]]', (640, 480), "must be a number"),
    ("[[0, 0, 10, 10]]", None, "No image was given"),
    ('{"image_size": [0, 480], "objects": [[0, 0, 1, 1]]}', None, "whole numbers"),
    ("[" + ", ".join(["[0, 0, 1, 1]"] * 301) + "]", (640, 480), "more than"),
])
def test_bad_typed_boxes_get_a_plain_message(text, size, message):
    with pytest.raises(BadInput, match=message):
        parse_objects(text, size)


# ---------------------------------------------------------------- the sweeps


def test_crowding_curves_fall_exactly_past_each_nms_threshold():
    curves = sweeps.crowding_curves(48, 2.5, 0, 3, False, nms_threshold=0.5, sigma=0.5)
    for threshold in sweeps.NMS_THRESHOLDS:
        recall = dict(zip(curves["crowding"], curves[f"NMS {threshold:g}"], strict=True))
        assert all(r == 1.0 for t, r in recall.items() if t < threshold - 0.01)
        assert all(r < 1.0 for t, r in recall.items() if t > threshold + 0.01)
    assert curves["Soft-NMS Gaussian σ=0.5"][curves["crowding"].index(0.8)] == 1.0


def test_anchor_curves_find_small_objects_unmatched_without_rescue():
    curves = sweeps.anchor_curves([(4, 1.0), (64, 1.0)], rotation=0)
    assert curves["RetinaNet"]["positive"] == [0.0, 1.0]
    assert curves["RetinaNet"]["best_iou"][0] < 0.1
    assert curves["YOLOv3 (prior shape)"]["positive"] is None


def test_collision_curves_follow_chance_roughly_and_grow_with_density():
    curves = sweeps.collision_curves(48, 1.0, 0)
    lam = curves["objects_per_cell"]
    assert curves["chance"][0] == pytest.approx(1 - (1 - math.exp(-lam[0])) / lam[0])
    assert curves["similar"][-1] > curves["similar"][0]
    assert all(0 <= v <= 1 for v in curves["similar"] + curves["mixed"])


def test_rotation_curves_start_at_one_and_reach_the_analytic_minimum():
    curves = sweeps.rotation_curves(4.0, 0.0)
    line = curves["box vs object, aspect 4"]
    assert line[0] == pytest.approx(1.0)
    assert line[curves["angle"].index(45)] == pytest.approx(8 / 25, abs=1e-4)  # 1·4 / ((1 + 4)/√2)²
    w, h = shape_of(32.0, 4.0)
    assert w * h == pytest.approx(32.0**2)


def _numbers(text: str) -> list[str]:
    """Every number a text states, thousands separators dropped, sorted."""
    return sorted(re.findall(r"\d+(?:\.\d+)?%?", re.sub(r"(?<=\d),(?=\d{3})", "", text)))


def test_the_chinese_page_states_the_same_numbers():
    """A page in Chinese gets the captions, the table, the figures and the summary from its own
    templates: every number of the English is there, and the words are Chinese."""
    from conftest import ChineseRequest

    from demos.limits import ui
    from shared.drawing import cjk_font

    english, chinese = ui.detector_limits(), ui.detector_limits(request=ChineseRequest())
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert _numbers(english[7]) == _numbers(chinese[7]) and "**24 objects**" in english[7]
    assert "**24 个物体**" in chinese[7] and "objects" not in chinese[7]
    table_en, table_zh = english[1], chinese[1]
    assert table_en["headers"][0] == "rule" and all(cjk.search(h) for h in table_zh["headers"])
    for row_en, row_zh in zip(table_en["data"], table_zh["data"], strict=True):
        assert [_numbers(str(c)) for c in row_en] == [_numbers(str(c)) for c in row_zh], (row_en, row_zh)
    assert [c for _, c in chinese[0]][0] == "只做 NMS" and [c for _, c in english[0]][0] == "NMS alone"
    for en, zh in zip(english[2:7], chinese[2:7], strict=True):
        assert _numbers(en.layout.title.text) == _numbers(zh.layout.title.text)
        assert cjk.search(zh.layout.title.text), zh.layout.title.text
        assert [_numbers(t.name) for t in en.data] == [_numbers(t.name) for t in zh.data]
    # The pictures' titles and legends are drawn in Chinese where a font has the glyphs.
    for (en, _), (zh, _) in zip(english[0], chinese[0], strict=True):
        assert (en.tobytes() != zh.tobytes()) == (cjk_font(12) is not None)
    assert chinese[8] == english[8]  # the JSON is for programs, in English either way


def test_the_error_the_sliders_can_cause_is_in_the_pages_language():
    """More groups than the scene has room for: English for the API, Chinese for a Chinese page,
    with the same numbers; so is an error typed JSON causes."""
    import gradio as gr
    from conftest import ChineseRequest

    from demos.limits import ui

    crowded = dict(groups=40, group_size=10, size=200)
    with pytest.raises(gr.Error, match=r"40 groups of 10 objects .* do not fit in the 640×480 scene"):
        ui.detector_limits(**crowded)
    with pytest.raises(gr.Error, match=r"40 组、每组 10 个这么大的物体放不进 640×480 的场景"
                                       r"（只有 1 个位置）"):
        ui.detector_limits(**crowded, request=ChineseRequest())
    with pytest.raises(gr.Error, match="not valid JSON"):
        ui.detector_limits(source=ui.TYPED, boxes_json="[[1,")
    with pytest.raises(gr.Error, match=r"方框不是有效的 JSON（第 1 行第 5 列）"):
        ui.detector_limits(source=ui.TYPED, boxes_json="[[1,", request=ChineseRequest())
