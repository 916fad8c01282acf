"""The Space cards: the root README (the whole suite) and spaces/<demo>/README.md.

Hugging Face reads each card's YAML front matter to build and describe the Space, so a
typo there is a broken deployment. The Hub models a card lists, and the files it asks
the Space to preload, are derived here from the registry: the card must match it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import app
from publish import front_matter
from shared.registry import HubFile, specs

ROOT = Path(__file__).resolve().parent.parent
CARDS = {"suite": ROOT / "README.md"} | {
    path.parent.name: path for path in sorted((ROOT / "spaces").glob("*/README.md"))
}
REQUIRED = {"title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "python_version",
            "app_file", "license", "short_description", "suggested_hardware"}
COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
HARDWARE = {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4", "a10g-small",
            "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "zero-a10g"}


def pinned(package: str) -> str:
    text = (ROOT / "requirements.txt").read_text()
    match = re.search(rf"^{package}(\[[^\]]*\])?==([^\s;#]+)", text, re.MULTILINE)
    assert match, f"{package} is not pinned in requirements.txt"
    return match.group(2)


def card(name: str) -> dict:
    meta = yaml.safe_load(front_matter(CARDS[name].read_text()))
    assert isinstance(meta, dict), f"{CARDS[name]} has no YAML front matter"
    return meta


@pytest.fixture(scope="module", autouse=True)
def registered_models():
    app.build_app()  # importing every tab registers its models


def test_every_demo_has_a_card():
    assert set(CARDS) == {"suite", *app.DEMOS}


@pytest.mark.parametrize("name", list(CARDS))
def test_front_matter_is_a_valid_gradio_space(name):
    meta = card(name)
    assert REQUIRED <= set(meta), f"missing keys: {REQUIRED - set(meta)}"
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert str(meta["sdk_version"]) == pinned("gradio")
    assert str(meta["python_version"]) == "3.11"
    assert {meta["colorFrom"], meta["colorTo"]} <= COLOURS
    assert meta["suggested_hardware"] in HARDWARE
    assert len(meta["short_description"]) <= 60  # the Hub rejects longer ones
    assert meta["license"] == "mit"


@pytest.mark.parametrize("name", list(CARDS))
def test_hub_models_and_preloads_match_the_registry(name):
    demos = set(app.DEMOS) if name == "suite" else {name}
    hub = [s.weights for s in specs() if s.demo in demos and isinstance(s.weights, HubFile)]
    meta = card(name)
    assert sorted(meta.get("models") or []) == sorted({w.repo_id for w in hub})
    # "repo file commit": the Space downloads the exact pinned file while it builds.
    expected = sorted(f"{w.repo_id} {w.filename} {w.revision}" for w in hub)
    assert sorted(meta.get("preload_from_hub") or []) == expected
