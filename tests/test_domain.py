"""The out-of-domain rule (shared.domain, demos.domains): photos are flagged, generated
validation scenes are not, and a CycleGAN input is placed on the right side of its pair."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from demos import domains
from demos.cyclegan import data as cyclegan_data
from demos.detection import data as detection_data
from demos.pose import data as pose_data
from shared import domain

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted((ROOT / "examples" / "photos").glob("*.jpg"))
VAL_SCENES = 200


def _cyclegan_val(pair: str, side: str, i: int) -> Image.Image:
    scene = cyclegan_data.make_scene(pair, "heldout", i, cyclegan_data.HELDOUT_SIZE)
    return Image.fromarray((getattr(scene, side) * 255).round().astype(np.uint8))


def _val_scene(d: domain.Domain, i: int) -> Image.Image:
    """Validation scene i of a domain: seeds its training scenes never use."""
    if d is domains.DETECTION:
        # Half the bundled models' scenes (1-8 objects), half the experiment's fixed counts 1..8.
        objects = None if i % 2 == 0 else 1 + (i // 2) % 8
        return detection_data.make_scene(detection_data.split_seed("val", i), objects=objects)[0]
    if d is domains.POSE:
        return pose_data.make_scene(pose_data.split_seed("val", i))[0]
    pair, side = next(key for key, value in domains.CYCLEGAN.items() if value is d)
    return _cyclegan_val(pair, side, i)


@pytest.fixture(scope="module")
def val_statistics() -> dict[str, list[dict[str, float]]]:
    """measure() of every validation scene, per domain (shared by the tests below)."""
    return {d.name: [domain.measure(_val_scene(d, i)) for i in range(VAL_SCENES)] for d in domains.ALL}


def test_photos_are_flagged_in_every_domain():
    assert len(PHOTOS) >= 4
    for path in PHOTOS:
        photo = Image.open(path).convert("RGB")
        stats = domain.measure(photo)
        for d in domains.ALL:
            verdict = domain.judge(photo, d, stats)
            assert not verdict.in_domain and verdict.looks_like == "photo", (path.name, d.name, verdict)
            assert verdict.sentence.startswith("This looks like a photo")
        # The same photo without colour is called what it is.
        grey = ImageOps.grayscale(photo).convert("RGB")
        assert {domain.judge(grey, d).looks_like for d in domains.ALL} == {"grey"}, path.name


def test_no_validation_scene_is_flagged(val_statistics):
    for d in domains.ALL:
        limits = domain.reference(d).limits()
        flagged = [i for i, stats in enumerate(val_statistics[d.name])
                   if not domain.judge(None, d, stats).in_domain]
        assert flagged == [], (d.name, flagged[:5], limits)
        # ... with room to spare: the worst scene stays well inside each limit.
        worst = {k: max(s[k] for s in val_statistics[d.name]) for k in ("uneven", "busy")}
        assert worst["uneven"] <= limits["uneven"] / 2, (d.name, worst)
        assert worst["busy"] <= limits["busy"] / 1.2, (d.name, worst)


def test_wrong_direction_is_recognised_on_cyclegan_scenes(val_statistics):
    pairs = {pair for pair, _ in domains.CYCLEGAN}
    assert pairs >= {"texture", "geometry"}
    for pair in pairs:
        a, b = domains.CYCLEGAN[(pair, "a")], domains.CYCLEGAN[(pair, "b")]
        for side, d in (("a", a), ("b", b)):
            wrong = [i for i, stats in enumerate(val_statistics[d.name])
                     if domain.closer(None, a, b, stats) is not d]
            assert wrong == [], (pair, side, wrong[:5])
    # The statistic each pair is told apart by is the one its generator varies.
    sides = domains.CYCLEGAN
    texture = domain.separating_statistic(sides[("texture", "a")], sides[("texture", "b")])
    geometry = domain.separating_statistic(sides[("geometry", "a")], sides[("geometry", "b")])
    assert texture[0] == "stripes" and not texture[2]  # striped B lies above plain A
    assert geometry[0] == "axis" and not geometry[2]  # squares' axis-aligned sides lie above discs'


def test_examples_say_their_own_side():
    for path in sorted((ROOT / "examples" / "cyclegan").glob("*.png")):
        pair, side = path.name.split("_")[:2]
        picture = Image.open(path)
        a, b = domains.CYCLEGAN[(pair, "a")], domains.CYCLEGAN[(pair, "b")]
        assert domain.closer(picture, a, b) is domains.CYCLEGAN[(pair, side)], path.name
        assert domain.judge(picture, domains.CYCLEGAN[(pair, side)]).in_domain, path.name
    for path in sorted((ROOT / "examples" / "pose").glob("*.png")):
        assert domain.judge(Image.open(path), domains.POSE).in_domain, path.name
    for path in sorted((ROOT / "examples" / "detection").glob("*.png")):
        assert domain.judge(Image.open(path), domains.DETECTION).in_domain, path.name


def test_drawings_in_another_style():
    # A black line drawing on white, anti-aliased as a vector drawing would be: no colour.
    big = Image.new("L", (1024, 1024), 255)
    pen = ImageDraw.Draw(big)
    for k in range(12):
        pen.ellipse([80 + 30 * k, 80 + 20 * k, 900 - 25 * k, 940 - 30 * k], outline=0, width=6)
    pen.line([(60, 980), (980, 40)], fill=0, width=8)
    drawing = big.resize((256, 256), Image.Resampling.LANCZOS).convert("RGB")
    assert {domain.judge(drawing, d).looks_like for d in domains.ALL} == {"grey"}
    # A generated scene turned grey is no longer like its colourful training scenes either.
    grey_scene = ImageOps.grayscale(_val_scene(domains.DETECTION, 0)).convert("RGB")
    assert domain.judge(grey_scene, domains.DETECTION).looks_like == "grey"


def test_each_statistic_measures_what_it_says():
    rng = np.random.default_rng(0)
    base = np.full((256, 256, 3), (90.0, 150.0, 60.0))
    noisy = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    even = domain.measure(Image.fromarray(noisy))
    assert even["uneven"] == 0.0 and even["busy"] < 0.002 and abs(even["noise"] - 8) < 1
    # The same noise on the left half only: the activity is no longer the same everywhere.
    half = noisy.copy()
    half[:, 128:] = base[:, 128:].astype(np.uint8)
    assert domain.measure(Image.fromarray(half))["uneven"] > 0.4
    # Texture: independent random values in every pixel, well above the estimated noise.
    texture = rng.integers(0, 256, base.shape).astype(np.uint8)
    texture[:128] = 128  # half flat, so the noise estimate stays low
    assert domain.measure(Image.fromarray(texture))["busy"] > 0.2
    grey = np.repeat(noisy[..., :1], 3, axis=2)
    assert domain.measure(Image.fromarray(grey))["chroma"] == 0.0
    # Stripes 8 px apart against plain; squares' sides against a disc's outline.
    yy, xx = np.mgrid[0:128, 0:128]

    def picture(mask: np.ndarray) -> Image.Image:
        return Image.fromarray(np.where(mask, 230, 30).astype(np.uint8)[..., None].repeat(3, axis=2))

    assert domain.measure(picture((xx % 8) < 4))["stripes"] > 0.5
    square = domain.measure(picture((abs(yy - 64) < 30) & (abs(xx - 64) < 30)))
    disc = domain.measure(picture(np.hypot(yy - 64, xx - 64) < 30))
    assert square["axis"] > 0.9 > 0.5 > disc["axis"]
    assert domain.measure(picture((abs(yy - 64) < 10) & (abs(xx - 20) < 10)))["across"] < 0.25


def test_shipped_reference_matches_a_recompute():
    shipped = json.loads(domains.SUMMARY_FILE.read_text(encoding="utf-8"))
    assert set(shipped) == {d.name for d in domains.ALL}, "run: python -m demos.domains"
    for d in domains.ALL:
        assert d.summary is not None and shipped[d.name]["scenes"] == d.reference_scenes
        fresh = domain.summarise(d)
        for name, values in fresh.items():
            for key, value in values.items():
                assert shipped[d.name]["statistics"][name][key] == pytest.approx(value, rel=1e-6, abs=1e-9), (
                    d.name, name, key, "run: python -m demos.domains")
