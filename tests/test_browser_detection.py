"""The detection tab in headless Chromium: the sweep's plots render beside the sentences
that state them, the gallery shows whole pictures with the scores against the annotations,
and a page in Chinese shows no English outside names, units and code."""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, CHROMIUM

from demos.detection import findings

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def url():
    from conftest import served

    with served(["detection", "roi"]) as address:  # two tabs, so the page has tabs and ?tab= opens one
        yield address


@pytest.fixture(scope="module")
def page(browser, url):
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(url + "?tab=detection")
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


def _shows(page, selector: str, words: str, timeout: float = 180_000) -> None:
    page.wait_for_function("([sel, words]) => document.querySelector(sel)?.innerText.includes(words)",
                           arg=[selector, words], timeout=timeout)


# Words the Chinese page keeps, besides conftest's KEPT_WORDS: the losses' and detectors' own names
# and abbreviations, the cited paper's first author (Lin et al. 2017), and the formulas in two plots:
# FL(p_t) = −(1 − p_t)^γ · log(p_t) and |∂L/∂logit|.
KEPT = {"CE", "OHEM", "SSD", "NMS", "RetinaNet", "SGD", "COCO", "Lin", "FL", "log", "logit"}


def test_detection_tab_in_chinese_shows_no_english(browser, url):
    """Everything the tab shows when it opens (the sweep's findings and plots, the gallery's captions,
    the counts, the anatomy sentence and plots) and after a photo example is run, in Chinese."""
    from conftest import english_on

    page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
    try:
        page.goto(url + "?tab=detection")
        _shows(page, "#detection-counts", "正确 / 错误 / 漏检")
        _shows(page, "#detection-findings", "类别无关 AP")
        _shows(page, "#detection-anatomy-text", "二分类项")
        page.locator("#detection-ap-vs-imbalance .js-plotly-plot").wait_for(state="visible", timeout=60_000)
        assert "个框" in page.locator("#detection-gallery").inner_text()
        # One more request of each kind: the anatomy over this image, then a photo through the
        # bundled models (offline), whose counts carry the out-of-domain warning and a note.
        page.locator("#detection-scope label", has_text="这张图").click()
        _shows(page, "#detection-anatomy-text", "这张场景的标注")
        page.locator("#detection-examples-photos button, #detection-examples-photos tbody tr").first.click()
        _shows(page, "#detection-counts", "这看起来是一张照片")
        _shows(page, "#detection-anatomy-text", "这张图没有标注")
        page.wait_for_timeout(1000)  # the gallery's new pictures and captions settle
        assert english_on(page, kept=KEPT) == []
    finally:
        page.screenshot(path=str(ARTIFACTS / "detection_zh.png"), full_page=True)
        page.context.close()
