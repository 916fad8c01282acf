"""The pose tab end to end: /pose through gradio_client against the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import raw_call
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCENES = ROOT / "examples" / "pose"
METHODS = ["tiny-topdown-pose", "tiny-bottomup-pose"]


def _scene(people: int) -> str:
    return str(next(SCENES.glob(f"scene_*_{people}people.png")))


def test_both_families_find_people_in_input_pixels(client, tmp_path):
    big = tmp_path / "big.png"
    Image.open(_scene(4)).resize((256, 256)).save(big)  # 2x: keypoints must come back at 256 px
    overlays, evidence, data = client.predict(image=handle_file(str(big)), methods=METHODS,
                                              keypoint_threshold=0.2, person_threshold=0.2, api_name="/pose")
    assert len(overlays) == 2 and len(evidence) >= 3 and data["image_size"] == [256, 256]
    for result in data["results"]:
        assert result["seconds"] > 0 and result["people"], result["method"]
        for person in result["people"]:
            assert len(person["keypoints"]) == 17
            for x, y, s in person["keypoints"]:
                assert (x, y, s) == (0, 0, 0) or (0 <= x <= 256 and 0 <= y <= 256 and 0 < s <= 1)


def test_nobody_gives_empty_lists_not_errors(client, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (128, 128), (120, 140, 110)).save(blank)
    data = client.predict(image=handle_file(str(blank)), methods=METHODS, keypoint_threshold=0.2,
                          person_threshold=0.5, api_name="/pose")[2]
    assert [r["people"] for r in data["results"]] == [[], []]
    # A cluttered scene without people: an answer (possibly a false positive), never an error.
    data = client.predict(image=handle_file(_scene(0)), methods=METHODS, keypoint_threshold=0.2,
                          person_threshold=0.5, api_name="/pose")[2]
    assert all(isinstance(r["people"], list) and "error" not in r for r in data["results"])


def test_pretrained_methods_offline_are_named(client):
    data = client.predict(image=handle_file(_scene(2)), methods=["tiny-bottomup-pose", "openpose_body_coco"],
                          keypoint_threshold=0.2, person_threshold=0.2, api_name="/pose")[2]
    errors = [r for r in data["results"] if "error" in r]
    assert len(errors) == 1 and "needs a download" in errors[0]["error"]


@pytest.mark.parametrize(("methods", "kt", "pt", "message"), [
    ([], 0.2, 0.2, "at least one method"),
    (["alphapose"], 0.2, 0.2, "Unknown method"),
    (METHODS, 1.5, 0.2, "keypoint threshold"),
    (METHODS, 0.2, -1.0, "person threshold"),
])
def test_bad_settings_get_plain_errors(client, methods, kt, pt, message):
    with pytest.raises(AppError, match=message):
        client.predict(image=handle_file(_scene(2)), methods=methods, keypoint_threshold=kt,
                       person_threshold=pt, api_name="/pose")


def test_bad_images_get_plain_errors(client, app_url, tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"GIF89a but nothing else")
    with pytest.raises(AppError, match="not an image|truncated"):
        client.predict(image=handle_file(str(junk)), methods=METHODS, keypoint_threshold=0.2,
                       person_threshold=0.2, api_name="/pose")
    event, data = raw_call(app_url, "pose", '{"data": [null, ["tiny-bottomup-pose"], 0.2, 0.2]}')
    assert event == "error" and "No image" in data


PHOTO = ROOT / "examples" / "photos" / "astronaut.jpg"


def _config_component(app_url: str, elem_id: str) -> dict:
    import httpx

    components = httpx.get(app_url.rstrip("/") + "/config", timeout=30).json()["components"]
    return next(c for c in components if c.get("props", {}).get("elem_id") == elem_id)


def test_a_photo_through_the_bundled_models_is_called_a_photo(client):
    overlays, _, data = client.predict(image=handle_file(str(PHOTO)), methods=METHODS, keypoint_threshold=0.2,
                                       person_threshold=0.2, api_name="/pose")
    verdict = data["domain"]
    assert verdict["domain"] == "pose" and not verdict["in_domain"] and verdict["looks_like"] == "photo"
    assert "trained only on generated stick figures" in verdict["sentence"]
    assert verdict["statistics"]["uneven"] > verdict["limits"]["uneven"]
    # The skeletons are still drawn, each caption with its count.
    assert [item["caption"].split(" · ")[0] for item in overlays] == METHODS
    assert all(" people · " in item["caption"] for item in overlays)


def test_generated_scenes_are_not_flagged(client):
    for people in (0, 2, 4, 6):
        data = client.predict(image=handle_file(_scene(people)), methods=["tiny-bottomup-pose"],
                              keypoint_threshold=0.2, person_threshold=0.2, api_name="/pose")[2]
        assert data["domain"]["in_domain"] and data["domain"]["sentence"] == "", people


def test_offline_photo_example_runs_the_bundled_models(app_url):
    # Offline (conftest), Keypoint R-CNN and OpenPose cannot be fetched: the photo example
    # carries the bundled methods and says why, rather than failing with an error box.
    # (The page sends only the picture's column; the browser test clicks the example.)
    from demos.pose.ui import _photo_example_methods

    example = _config_component(app_url, "pose-examples-photos")["props"]
    assert example["samples"] and "pose.examples_photos_offline" in example["label"]
    assert _photo_example_methods(METHODS) == (METHODS, False)
