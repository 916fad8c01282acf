"""The CycleGAN tab end to end: /translate through gradio_client against the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import raw_call
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from shared.i18n import EN, I18N, ZH

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "cyclegan").glob("*.png"))


def _example(kind: str) -> str:
    return str(next(p for p in EXAMPLES if p.name.startswith(kind)))


def test_texture_translation_keeps_edges_and_changes_texture(client):
    slider, overlay, change, cycle, summary, data = client.predict(
        image=handle_file(_example("texture_a")), model="cyclegan-plain2striped", direction="A→B",
        api_name="/translate")
    m = data["metrics"]
    assert data["model"] == "cyclegan-plain2striped" and data["reverse"] == "cyclegan-striped2plain"
    assert m["structure_edge_f"] > 0.5 and m["texture_gram"] > 0.0 and 0 <= m["cycle_l1"] < 0.2
    before, after = slider
    assert Image.open(before).size == Image.open(after).size == tuple(data["size"])
    for path in (overlay, change, cycle):
        assert Image.open(path).size == tuple(data["size"])
    assert "edge F-score" in summary


def test_reverse_direction_uses_the_partner_generator(client):
    data = client.predict(image=handle_file(_example("geometry_b")), model="cyclegan-disc2square",
                          direction="B→A", api_name="/translate")[-1]
    assert data["model"] == "cyclegan-square2disc" and data["reverse"] == "cyclegan-disc2square"


def test_official_generator_offline_says_it_needs_a_download(client):
    with pytest.raises(AppError, match="needs a download of 46 MB"):
        client.predict(image=handle_file(str(ROOT / "examples" / "photos" / "cat.jpg")),
                       model="cyclegan-horse2zebra", direction="A→B", api_name="/translate")


@pytest.mark.parametrize(("model", "direction", "message"), [
    ("cyclegan-dog2cat", "A→B", "Unknown model"),
    ("cyclegan-plain2striped", "sideways", "direction"),
    ("cyclegan-style_vangogh", "B→A", "no published reverse"),
])
def test_bad_settings_get_plain_errors(client, model, direction, message):
    with pytest.raises(AppError, match=message):
        client.predict(image=handle_file(_example("texture_a")), model=model, direction=direction,
                       api_name="/translate")


def test_bad_images_get_plain_errors(client, app_url, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG but not really")
    with pytest.raises(AppError, match="not an image"):
        client.predict(image=handle_file(str(junk)), model="cyclegan-plain2striped", direction="A→B",
                       api_name="/translate")
    event, data = raw_call(app_url, "translate", '{"data": [null, "cyclegan-plain2striped", "A→B"]}')
    assert event == "error" and "No image" in data


def test_odd_sizes_and_modes_are_served(client, tmp_path):
    # 130x98 grayscale: converted to RGB and cropped to multiples of 4 for the generator.
    path = tmp_path / "odd.png"
    Image.open(_example("texture_a")).convert("L").resize((130, 98)).save(path)
    data = client.predict(image=handle_file(str(path)), model="cyclegan-plain2striped", direction="A→B",
                          api_name="/translate")[-1]
    assert data["size"] == [128, 96]


def _config_component(app_url: str, elem_id: str) -> dict:
    import httpx

    components = httpx.get(app_url.rstrip("/") + "/config", timeout=30).json()["components"]
    return next(c for c in components if c.get("props", {}).get("elem_id") == elem_id)


@pytest.mark.parametrize(("kind", "model", "direction", "seen", "wanted"), [
    ("geometry_b", "cyclegan-disc2square", "A→B", "squares", "B→A"),
    ("geometry_a", "cyclegan-disc2square", "B→A", "discs", "A→B"),
    ("texture_b", "cyclegan-plain2striped", "A→B", "striped objects", "B→A"),
    ("texture_a", "cyclegan-plain2striped", "B→A", "plain objects", "A→B"),
])
def test_a_picture_of_the_other_side_is_named(client, kind, model, direction, seen, wanted):
    summary, data = client.predict(image=handle_file(_example(kind)), model=model, direction=direction,
                                   api_name="/translate")[-2:]
    check = data["domain"]
    assert not check["in_domain"] and check["looks_like"] == "other side"
    assert check["looks_like_side"] == kind[-1]
    assert summary.startswith("⚠️") and f"looks like {seen}" in summary and f"choose {wanted}" in summary
    assert "edge F-score" in summary and data["metrics"]  # the translation is still there


@pytest.mark.parametrize(("kind", "direction"), [("texture_a", "A→B"), ("texture_b", "B→A"),
                                                  ("geometry_a", "A→B"), ("geometry_b", "B→A")])
def test_the_right_side_gets_no_warning(client, kind, direction):
    model = "cyclegan-plain2striped" if kind.startswith("texture") else "cyclegan-disc2square"
    summary, data = client.predict(image=handle_file(_example(kind)), model=model, direction=direction,
                                   api_name="/translate")[-2:]
    assert data["domain"]["in_domain"] and data["domain"]["looks_like_side"] == kind[-1]
    assert not summary.startswith("⚠️")


def test_a_photo_through_a_bundled_pair_is_called_a_photo(client):
    summary, data = client.predict(image=handle_file(str(ROOT / "examples" / "photos" / "coffee.jpg")),
                                   model="cyclegan-disc2square", direction="A→B", api_name="/translate")[-2:]
    assert data["domain"]["looks_like"] == "photo" and summary.startswith("⚠️ This looks like a photo")
    # The official generators make no such claim: they were trained on photos.
    with pytest.raises(AppError, match="needs a download"):
        client.predict(image=handle_file(str(ROOT / "examples" / "photos" / "coffee.jpg")),
                       model="cyclegan-style_monet", direction="A→B", api_name="/translate")


def test_model_list_brackets_close_and_offline_photos_use_a_bundled_pair(app_url):
    choices = _config_component(app_url, "cyclegan-model")["props"]["choices"]
    labels = [label for label, _ in choices]
    assert all(label.count("(") == label.count(")") for label in labels), labels
    # The status's words go as a translation key (Gradio shows them in the page's language), its size as is.
    # One key per label (Gradio translates only the first): what it does and that it needs a download.
    both = "cyclegan.what.horse2zebra+models.status.needs_download"
    assert f"cyclegan-horse2zebra — {I18N(both)} (46 MB)" in labels
    assert EN[both] == "horse → zebra (ImageNet photos) — needs download"
    assert ZH[both] == ZH["cyclegan.what.horse2zebra"] + " — " + ZH["models.status.needs_download"]
    assert EN["models.status.needs_download"] == "needs download" and "models.status.needs_download" in ZH
    example = _config_component(app_url, "cyclegan-examples-photos")["props"]
    assert len(example["samples"]) == 4 and "cyclegan.examples_photos_offline" in example["label"]
