"""The detection tab end to end (gradio_client against the real app), and the
pretrained tier's loading and inference path with only the transfer patched."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import raw_call
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from demos.detection.data import CLASSES, make_scene

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "detection" / "scene_1000011.png"
BUNDLED = ["tiny-retinanet-focal", "tiny-retinanet-ce", "tiny-retinanet-ohem"]


def test_detect_returns_boxes_per_model_in_input_pixels(client, tmp_path):
    # Upscaled 2x: boxes must come back in the uploaded image's pixels, not 256 px ones.
    big = tmp_path / "big.png"
    Image.open(SCENE).resize((512, 512)).save(big)
    gallery, data = client.predict(image=handle_file(str(big)), models=BUNDLED, score_threshold=0.3,
                                   api_name="/detect")
    assert len(gallery) == 3 and data["image_size"] == [512, 512]
    _, truth_boxes, _ = make_scene(1_000_011)
    for result in data["results"]:
        assert result["seconds"] > 0
        for det in result["detections"]:
            x1, y1, x2, y2 = det["box"]
            assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 512
            assert det["label"] in CLASSES and 0.3 <= det["score"] <= 1
    focal = data["results"][0]["detections"]
    assert focal, "the focal model finds objects in a held-out scene"
    # Its best box lies on a real object (IoU with some ground-truth box, scaled 2x).
    best = torch.tensor([focal[0]["box"]]) / 2
    assert float(_iou(best, truth_boxes).max()) > 0.5


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    from torchvision.ops import box_iou

    return box_iou(a, b)


def test_loss_anatomy_over_val_scenes_and_on_one_image(client):
    curve, mass, text, stats = client.predict(image=handle_file(str(SCENE)), model="tiny-retinanet-focal",
                                              gamma=2.0, scope="val", api_name="/loss_anatomy")
    assert stats["labels_from"].startswith("val scenes 0–99")
    assert stats["binary_terms"] == 5 * (stats["positive_anchors"] + stats["background_anchors"])
    assert stats["background_anchors"] > 100 * stats["positive_anchors"] > 0  # the imbalance
    shares = stats["easy_negative_share_of_loss"]
    ce, fl = shares["α-balanced CE"], shares["focal loss"]
    assert fl < ce  # focal loss takes the weight off easy negatives
    # The sentence states the JSON's numbers.
    assert f"{ce:.0%}" in text and f"{fl:.1%}" in text
    assert curve.get("plot") and mass.get("plot")
    # The share falls as gamma grows, and one image works too (its own annotations).
    shares = [client.predict(image=handle_file(str(SCENE)), model="tiny-retinanet-focal", gamma=g,
                             scope="image", api_name="/loss_anatomy")[3] for g in (0.0, 1.0, 2.0, 5.0)]
    assert shares[0]["labels_from"] == "this scene's annotations"
    grads = [s["easy_negative_share_of_gradient"]["focal loss"] for s in shares]
    assert grads == sorted(grads, reverse=True) and grads[0] > grads[-1]


def test_annotations_score_each_model_on_an_example_scene(client):
    gallery, data = client.predict(image=handle_file(str(SCENE)), models=BUNDLED, score_threshold=0.3,
                                   show_truth=True, api_name="/detect")
    _, truth_boxes, _ = make_scene(1_000_011)
    for item, result in zip(gallery, data["results"], strict=True):
        scored = result["against_annotations"]
        assert scored["tp"] + scored["fp"] == len(result["detections"])
        assert scored["tp"] + scored["fn"] == len(truth_boxes)
        assert f"{scored['tp']} right, {scored['fp']} wrong, {scored['fn']} missed" in item["caption"]
        assert result["measured_ap"].startswith("AP ") and result["measured_ap"] in item["caption"]
    assert data["notes"] == []


def test_annotations_need_the_real_scene(client, tmp_path):
    fake = tmp_path / "scene_1000011.png"
    Image.open(ROOT / "examples" / "photos" / "cat.jpg").convert("RGB").resize((256, 256)).save(fake)
    _, data = client.predict(image=handle_file(str(fake)), models=BUNDLED[:1], score_threshold=0.3,
                             show_truth=True, api_name="/detect")
    assert "against_annotations" not in data["results"][0]
    assert any("Annotations are known only" in n for n in data["notes"])


def test_pretrained_model_offline_is_named_and_bundled_ones_still_run(client):
    gallery, data = client.predict(image=handle_file(str(SCENE)),
                                   models=["tiny-retinanet-focal", "ssdlite320_mobilenet_v3_large"],
                                   score_threshold=0.3, api_name="/detect")
    assert len(gallery) == 1
    errors = [r for r in data["results"] if "error" in r]
    assert len(errors) == 1 and "needs a download of 13 MB" in errors[0]["error"]
    with pytest.raises(AppError, match="needs a download"):
        client.predict(image=handle_file(str(SCENE)), models=["retinanet_resnet50_fpn"],
                       score_threshold=0.3, api_name="/detect")


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _image_file(tmp_path: Path, name: str, img: Image.Image, **kw) -> str:
    path = tmp_path / name
    img.save(path, **kw)
    return str(path)


@pytest.mark.parametrize(("make", "message"), [
    (lambda t: _write(t, "empty.png", b""), "empty"),
    (lambda t: _write(t, "notes.png", b"these are not pixels"), "not an image"),
    (lambda t: _write(t, "cut.png", SCENE.read_bytes()[:5000]), "truncated or damaged"),
    (lambda t: _image_file(t, "dot.png", Image.new("RGB", (1, 1))), "at least 16x16"),
])
def test_bad_image_files_get_plain_errors(client, tmp_path, make, message):
    with pytest.raises(AppError, match=message):
        client.predict(image=handle_file(make(tmp_path)), models=BUNDLED[:1], score_threshold=0.3,
                       api_name="/detect")


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_unusual_image_modes_are_served(client, tmp_path, mode):
    scene = Image.open(SCENE)
    img = (Image.fromarray(np.asarray(scene.convert("L"), dtype=np.uint16) * 200)
           if mode == "I;16" else scene.convert(mode))
    path = _image_file(tmp_path, f"m.{'tiff' if mode in ('CMYK', 'I;16') else 'png'}", img)
    gallery, data = client.predict(image=handle_file(path), models=BUNDLED[:1], score_threshold=0.3,
                                   api_name="/detect")
    assert len(gallery) == 1 and data["image_size"] == [256, 256]


@pytest.mark.parametrize(("models", "threshold", "message"), [
    ([], 0.3, "at least one model"),
    (["yolo-v99"], 0.3, "Unknown model 'yolo-v99'"),
    (BUNDLED[:1], 1.5, "score threshold"),
    (BUNDLED[:1], -0.1, "score threshold"),
])
def test_bad_detect_settings_get_plain_errors(client, models, threshold, message):
    with pytest.raises(AppError, match=message):
        client.predict(image=handle_file(str(SCENE)), models=models, score_threshold=threshold,
                       api_name="/detect")


def test_missing_image_and_nan_threshold(client, app_url):
    with pytest.raises(AppError, match="No image"):
        client.predict(image=None, models=BUNDLED[:1], score_threshold=0.3, api_name="/detect")
    event, data = raw_call(app_url, "detect", '{"data": [null, ["tiny-retinanet-focal"], NaN, false]}')
    assert event == "error" and "score threshold" in data
    assert client.predict(api_name="/models")  # still serving


def test_pretrained_detector_through_a_patched_transfer(tmp_path, monkeypatch):
    """torchvision's SSDlite COCO entry: real builder, real loader, real inference; only
    the bytes that would cross the network come from a local file."""
    import torchvision.models.detection as tvd

    from demos.detection.inference import detect
    from shared import loading

    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VISIONLAB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("VISIONLAB_ACCELERATION_DIR", str(tmp_path / "acceleration"))
    torch.manual_seed(0)
    served = tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    local = tmp_path / "served.pth"
    torch.save(served.state_dict(), local)
    urls = []

    def transfer(url, dst, hash_prefix=None, progress=True):
        urls.append(url)
        shutil.copyfile(local, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", transfer)
    name = "ssdlite320_mobilenet_v3_large"
    try:
        image = Image.open(ROOT / "examples" / "photos" / "cat.jpg").convert("RGB")
        found = detect(name, image, score_threshold=0.0, scale=2.0)
        assert urls == [tvd.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.url]
        served.eval()
        from demos.detection.data import to_tensor
        from shared import acceleration

        # The same network run directly, through the serving path detect() chose (shared.acceleration).
        path = next((p for p in acceleration.PATHS if p.name == found.acceleration), None)
        if path is not None:
            path.apply(served)
        with torch.inference_mode(), path.context(served) if path is not None else contextlib.nullcontext():
            expected = served([to_tensor(image)])[0]
        assert len(found.boxes) == len(expected["boxes"]) > 0
        assert torch.allclose(torch.tensor(found.boxes), expected["boxes"] * 2.0, atol=1e-3)
        categories = tvd.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"]
        assert found.labels == [categories[i] for i in expected["labels"].tolist()]
    finally:
        loading.CACHE.clear()


def test_a_photo_through_the_shape_detectors_is_called_a_photo(client):
    photo = ROOT / "examples" / "photos" / "cat.jpg"
    _, data = client.predict(image=handle_file(str(photo)), models=BUNDLED[:1], score_threshold=0.3,
                             show_truth=False, api_name="/detect")
    assert data["domain"]["in_domain"] is False and data["domain"]["looks_like"] == "photo"
    assert "trained only on generated shapes" in data["domain"]["sentence"]
    _, data = client.predict(image=handle_file(str(SCENE)), models=BUNDLED[:1], score_threshold=0.3,
                             show_truth=False, api_name="/detect")
    assert data["domain"]["in_domain"] is True
