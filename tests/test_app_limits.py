"""The detector-limits tab end to end: /detector_limits through gradio_client against the real app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import raw_call
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TYPED = "typed boxes (JSON)"
PERSON = '{"image_size": [640, 480], "objects": %s}'


def _rules(data: dict) -> dict[str, dict]:
    return {r["rule"]: r for r in data["rules"]}


def test_default_scene_gives_pictures_plots_table_and_json(client, tmp_path):
    gallery, table, *figures, summary, data = client.predict(api_name="/detector_limits")
    assert [item["caption"] for item in gallery] == ["NMS alone", "RetinaNet", "Faster R-CNN", "SSD300",
                                                     "YOLOv3", "Axis-aligned box vs the object"]
    for item in gallery:  # each picture downloads as a real image, with the legend strip on top
        with Image.open(item["image"]) as picture:
            assert picture.width == 640 and picture.height > 480
    assert len(figures) == 5 and all(json.loads(f["plot"])["data"] for f in figures)
    assert table["headers"][:3] == ["rule", "reached", "recall ceiling"] and len(table["data"]) == 10
    rules = _rules(data)
    assert len(data["scene"]["objects"]) == 24
    # Default: groups of three with neighbours at IoU 0.6, NMS at 0.5 keeps two of each three.
    assert rules["NMS alone"]["recall_ceiling"] == pytest.approx(2 / 3, abs=1e-3)
    assert rules["Soft-NMS (gaussian)"]["recall_ceiling"] == 1.0
    assert "**24 objects**" in summary and "YOLOv3" in summary


def test_typed_boxes_lose_exactly_the_constructed_objects(client):
    def nms_alone(boxes: list, **settings) -> dict:
        data = client.predict(source=TYPED, boxes_json=PERSON % json.dumps(boxes), **settings,
                              api_name="/detector_limits")[-1]
        return _rules(data)["NMS alone"]

    # Two people overlapping at IoU 0.6 and one far away; then the same two with a 50 % shift.
    crowd = [[100, 100, 140, 200], [110, 100, 150, 200], [400, 100, 440, 200]]
    nms = nms_alone(crowd)
    assert nms["recall_ceiling"] == pytest.approx(2 / 3, abs=1e-3)
    assert nms["lost"] == [{"object": 1, "why": "suppressed by NMS", "by": 0}]
    apart = [[100, 100, 140, 200], [130, 100, 170, 200], [400, 100, 440, 200]]
    assert nms_alone(apart)["recall_ceiling"] == 1.0
    # A higher threshold lets the crowded pair through, and the JSON says which threshold ran.
    nms = nms_alone(crowd, nms_threshold=0.7)
    assert nms["recall_ceiling"] == 1.0 and "0.7" in nms["settings"]


def test_typed_boxes_on_an_uploaded_picture_use_its_size(client, tmp_path):
    picture = tmp_path / "wide.png"
    Image.new("RGB", (320, 200), (200, 210, 220)).save(picture)
    boxes = json.dumps([[10, 10, 60, 150], {"box": [100, 50, 120, 150], "label": "pen", "angle": 45}])
    gallery, *_, data = client.predict(source=TYPED, image=handle_file(str(picture)), boxes_json=boxes,
                                       api_name="/detector_limits")
    assert data["scene"]["image_size"] == [320, 200]
    turned = data["scene"]["objects"][1]
    assert turned["label"] == "pen" and turned["shape_iou"] == pytest.approx(2 * 5 / 36, abs=1e-3)
    lost = _rules(data)["Axis-aligned box vs the object"]["lost"]
    assert lost == [{"object": 1, "why": "box misses the shape", "by": -1}]
    with Image.open(gallery[0]["image"]) as drawn:
        assert drawn.width == 320


@pytest.mark.parametrize(("changes", "message"), [
    (dict(source=TYPED, boxes_json=""), "Type the boxes as JSON"),
    (dict(source=TYPED, boxes_json="[[10, 10,"), "not valid JSON"),
    (dict(source=TYPED, boxes_json=PERSON % "[[50, 10, 40, 30]]"), "x2 must be greater than x1"),
    (dict(source=TYPED, boxes_json=PERSON % "[[600, 10, 700, 30]]"), r"outside the image \(640×480\)"),
    (dict(source=TYPED, boxes_json="[[1, 1, 5, 5]]"), "No image was given"),
    (dict(source="photo"), "Unknown scene 'photo'"),
    (dict(crowding=0.99), "crowding"),
    (dict(size=-3), "object size"),
    (dict(groups=2.5), "whole number"),
    (dict(groups=40, group_size=10, size=200), "do not fit"),
])
def test_bad_input_gets_a_plain_message(client, changes, message):
    with pytest.raises(AppError, match=message):
        client.predict(**changes, api_name="/detector_limits")


def test_nan_inside_the_boxes_and_as_a_setting_are_refused(app_url):
    defaults = ["generated", 0.6, 56, 2.5, 0, 8, 3, False, 0, 0.5, 0.5, None, ""]

    def body(index: int, value: str) -> str:
        args = [json.dumps(v) for v in defaults]
        args[index] = value
        return '{"data": [' + ", ".join(args) + "]}"

    event, data = raw_call(app_url, "detector_limits", body(9, "NaN"))
    assert event == "error" and "NMS threshold" in data
    typed = [json.dumps(TYPED) if i == 0 else json.dumps(v) for i, v in enumerate(defaults)]
    typed[-1] = json.dumps(PERSON % "[[0, 0, NaN, 10]]")
    event, data = raw_call(app_url, "detector_limits", '{"data": [' + ", ".join(typed) + "]}")
    assert event == "error" and "NaN" in data and "finite" in data
