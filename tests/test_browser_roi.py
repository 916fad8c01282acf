"""The ROI tab in headless Chromium, in Chinese: the summary, the two plots and the feature-map
choices show no English outside names, units and code, both for the result the tab opens with
and after another request.

The screenshot goes to artifacts/browser/roi_zh.png.
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

# Words the Chinese page keeps, besides conftest's KEPT_WORDS (which has ROIPool and ROIAlign):
# FPN, the feature pyramid's name, and torchvision's parameter `aligned=True` / `aligned=False`,
# which names the curves and the checkbox as code does.
KEPT = {"FPN", "aligned", "True", "False"}


@pytest.fixture(scope="module")
def url():
    from conftest import served

    with served(["roi"]) as address:
        yield address


def test_roi_tab_in_chinese_shows_no_english(browser, url):
    from conftest import english_on, settled, shows

    page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
    try:
        page.goto(url + "?tab=roi")
        page.wait_for_selector("#roi-overlay img", state="visible", timeout=180_000)
        shows(page, "#roi-summary", "在这个骨干网络上")  # the detector's features: the backbone's sentence
        page.locator("#roi-shift .js-plotly-plot").wait_for(state="visible", timeout=60_000)
        settled(page)
        first = english_on(page, kept=KEPT)
        # One more request: the raw image's features at stride 8, then the main button.
        page.locator("#roi-features").get_by_text("原图（平均池化）", exact=True).click()
        shows(page, "#roi-summary", "像素块取平均的图像亮度")
        page.locator("#roi-stride").get_by_text("8", exact=True).click()
        page.get_by_role("button", name="池化", exact=True).click()
        shows(page, "#roi-summary", "按 8×8 像素块")
        settled(page)  # the plots too
        assert "1 格 = 8 像素" in page.locator("#roi-shift").inner_text()
        assert (first, english_on(page, kept=KEPT)) == ([], [])
        # An error the page's own controls cause, in the page's language: the detector has no stride 4.
        page.locator("#roi-features").get_by_text("检测器的 FPN", exact=False).click()
        page.locator("#roi-stride").get_by_text("4", exact=True).click()
        shows(page, ".toast-body.error", "只有步长 8 和 16 两层（收到的是 4）")
        settled(page)  # the page read once no event is left waiting or running
        assert english_on(page, kept=KEPT) == []
    finally:
        page.screenshot(path=str(ARTIFACTS / "roi_zh.png"), full_page=True)
        page.context.close()
