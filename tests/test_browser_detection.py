"""The detection tab in headless Chromium: the sweep's plots render beside the sentences
that state them, and the gallery shows whole pictures with the scores against the annotations."""

from __future__ import annotations

import pytest
from conftest import CHROMIUM

from demos.detection import findings

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(app_url + "?tab=detection")
    page.wait_for_selector("#detection-gallery img", state="visible", timeout=120_000)
    yield page
    page.context.close()


def test_the_experiment_plots_render_with_their_sentences(page):
    plot = page.locator("#detection-ap-vs-imbalance .js-plotly-plot")
    plot.wait_for(state="visible", timeout=60_000)
    assert plot.bounding_box()["width"] > 300
    text = page.locator("#detection-findings").inner_text()
    summary = findings.load_summary()
    expected = findings.headline(summary).split("\n\n")[0].replace("**", "")[:60]
    assert expected.split(" (")[0] in text


def test_gallery_pictures_are_whole_and_scored(page):
    page.locator("#detection-gallery img").first.wait_for(state="visible")
    for img in page.locator("#detection-gallery img").all()[:3]:
        natural_w, natural_h = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        fit = img.evaluate("i => getComputedStyle(i).objectFit")
        box = img.bounding_box()
        # Whole: either the element has the picture's own shape, or the picture is fitted inside it.
        same_shape = abs(box["width"] / box["height"] - natural_w / natural_h) < 0.02
        assert same_shape or fit in ("contain", "scale-down"), (fit, box, natural_w, natural_h)
    counts = page.locator("#detection-counts").inner_text()
    assert "right / wrong / missed" in counts and "AP " in counts
