"""The ROI tab end to end: /roi_pool_vs_align through gradio_client against the real app."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from conftest import raw_call
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from torchvision.ops import roi_align, roi_pool

from demos.roi.pooling import feature_map

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "detection" / "scene_1000001.png"
BOX = (188.2, 130.9, 235.1, 177.8)


def _call(client, image: str, box=BOX, **settings):
    args = dict(features="detector", stride=16, output_size=7, sampling_ratio=2, aligned=True) | settings
    return client.predict(image=handle_file(image), x1=box[0], y1=box[1], x2=box[2], y2=box[3], **args,
                          api_name="/roi_pool_vs_align")


@pytest.mark.parametrize(("features", "stride", "aligned"), [("detector", 16, True), ("image", 8, False)])
def test_pooled_grids_are_torchvisions_on_the_real_feature_map(client, features, stride, aligned):
    drawn, grids, shift, located, summary, data = _call(client, str(SCENE), features=features, stride=stride,
                                                        aligned=aligned)
    assert Path(drawn).is_file() and Path(grids).is_file() and shift.get("plot") and located.get("plot")
    # The same feature map computed here, pooled by torchvision directly.
    fm = feature_map(Image.open(SCENE).convert("RGB"), features, stride)
    rois = torch.tensor([[0.0, *BOX]])
    c = data["channel"]
    pooled = roi_pool(fm.values, rois, 7, 1 / stride)[0, c].numpy()
    aligned_out = roi_align(fm.values, rois, 7, 1 / stride, 2, aligned)[0, c].numpy()
    assert np.allclose(data["roi_pool"]["pooled"], pooled, atol=1e-4)
    assert np.allclose(data["roi_align"]["pooled"], aligned_out, atol=1e-4)
    assert data["feature_map"]["shape"][1:] == [256 // stride, 256 // stride]
    assert data["roi_align"]["samples_per_bin"] == [2, 2] and data["aligned"] is aligned
    # The claims, as the API reports them: steps against smooth, and the point found again.
    shift = data["shift"]
    assert shift["roi_pool_distinct_outputs"] <= 5 < len(shift["shifts_px"])
    assert shift["roi_align_distinct_outputs"] == len(shift["shifts_px"])
    loc = data["localisation"]
    assert loc["ROIAlign, aligned=True"]["mean_abs_px"] < loc["ROIPool"]["mean_abs_px"]
    assert "distinct values" in summary and "ROIPool" in summary


def test_region_is_in_input_pixels_of_a_downscaled_image(client, tmp_path):
    big = tmp_path / "big.png"
    Image.open(SCENE).resize((1280, 1280)).save(big)  # 5x; the tab works at 640 px
    region = tuple(v * 5 for v in BOX)
    *_, data = _call(client, str(big), box=region)
    assert data["image_size"] == [1280, 1280] and data["working_size"] == [640, 640]
    assert np.allclose(data["region"], region) and np.allclose(data["region_working"], np.array(region) / 2)
    assert any("downscaled" in n for n in data["notes"])


@pytest.mark.parametrize(("box", "settings", "message"), [
    ((50.0, 50.0, 40.0, 80.0), {}, "x2 .* must be greater than its x1"),
    ((50.0, 90.0, 80.0, 60.0), {}, "y2 .* must be greater than its y1"),
    ((-3.0, 50.0, 80.0, 80.0), {}, "x1 = -3 lies outside the image"),
    ((10.0, 10.0, 80.0, 300.5), {}, "y2 = 300.5 lies outside the image"),
    ((1e300, 10.0, 80.0, 80.0), {}, "x1 = 1e\\+300 lies outside"),
    (BOX, {"stride": 4}, "strides 8 and 16 only"),
    (BOX, {"stride": 12, "features": "image"}, "stride must be one of 4, 8, 16, 32"),
    (BOX, {"output_size": 0}, "output size must be between 1 and 16"),
    (BOX, {"output_size": 2.5}, "output size must be a whole number"),
    (BOX, {"sampling_ratio": -1}, "sampling ratio"),
    (BOX, {"features": "resnet"}, "Unknown feature map"),
    (BOX, {"features": None}, "No feature map was chosen"),
])
def test_bad_settings_get_plain_errors(client, box, settings, message):
    with pytest.raises(AppError, match=message):
        _call(client, str(SCENE), box=box, **settings)


def test_non_finite_numbers_and_missing_images_are_refused(app_url):
    body = '{"data": [null, 1, 1, 20, 20, "image", 16, 7, 2, true]}'
    event, data = raw_call(app_url, "roi_pool_vs_align", body)
    assert event == "error" and "No image" in data
    with SCENE.open("rb") as fh:  # uploaded as a browser would, so only the numbers are wrong
        path = httpx.post(f"{app_url.rstrip('/')}/gradio_api/upload", files=[("files", (SCENE.name, fh))],
                          timeout=60).json()[0]
    image = json.dumps({"path": path, "meta": {"_type": "gradio.FileData"}})
    for position, name in enumerate(["x1", "y1", "x2", "y2"]):
        for bad in ("NaN", "Infinity", "-Infinity"):
            numbers = ["1", "1", "20", "20"]
            numbers[position] = bad
            body = f'{{"data": [{image}, {", ".join(numbers)}, "image", 16, 7, 2, true]}}'
            event, data = raw_call(app_url, "roi_pool_vs_align", body)
            assert event == "error" and f"region's {name} must be a finite number" in data, (name, bad, data)
    event, data = raw_call(app_url, "roi_pool_vs_align",
                           f'{{"data": [{image}, 1, 1, 20, 20, "image", NaN, 7, 2, true]}}')
    assert event == "error" and "feature stride must be a finite number" in data
