"""The detector-limits tab in headless Chromium, in Chinese: the gallery's captions, the table, the
five plots, the summary and the examples' labels show no English outside names, units and code,
both for the result the tab opens with and after another request.

The screenshot goes to artifacts/browser/limits_zh.png.
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

# Words the Chinese page keeps, besides conftest's KEPT_WORDS. The detector families and their
# parts (RetinaNet, Faster R-CNN and its RPN, SSD300, YOLOv3, FPN), the operations and the
# metric (NMS, Soft-NMS, IoU), torchvision; and, in the directions, the methods cited and
# their first authors (DETR, Carion; FCOS, Tian; ATSS, Zhang; SNIP, Singh and Davis; RoI
# Transformer, Ding; Soft-NMS, Bodla; Adaptive NMS, Liu; Repulsion Loss, Wang; CrowdDet, Chu).
KEPT = {"RetinaNet", "Faster", "CNN", "RPN", "SSD", "YOLOv", "FPN", "NMS", "Soft", "IoU", "torchvision",
        "DETR", "Carion", "FCOS", "Tian", "ATSS", "Zhang", "Lin", "SNIP", "Singh", "Davis", "RoI",
        "Transformer", "Ding", "Bodla", "Adaptive", "Liu", "Repulsion", "Wang", "CrowdDet", "Chu"}


@pytest.fixture(scope="module")
def url():
    from conftest import served

    with served(["limits"]) as address:
        yield address


def test_limits_tab_in_chinese_shows_no_english(browser, url):
    from conftest import english_on, settled, shows

    page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
    try:
        page.goto(url + "?tab=limits")
        page.wait_for_selector("#limits-gallery img", state="visible", timeout=180_000)
        shows(page, "#limits-summary", "24 个物体")  # the default: 8 groups of 3
        shows(page, "#limits-examples", "并排的行人")  # the examples' labels, sent in the page's language
        page.locator("#limits-crowding .js-plotly-plot").wait_for(state="visible", timeout=60_000)
        settled(page)
        first = english_on(page, kept=KEPT)
        # One more request: an example of 6 pairs of two classes, which writes every text again.
        page.locator("#limits-examples button", has_text="两个类别相互重叠").click()
        shows(page, "#limits-summary", "12 个物体")
        shows(page, "#limits-gallery", "只做 NMS")
        settled(page)  # the plots and the table too
        assert "召回上限" in page.locator("#limits-crowding").inner_text()
        assert (first, english_on(page, kept=KEPT)) == ([], [])
    finally:
        page.screenshot(path=str(ARTIFACTS / "limits_zh.png"), full_page=True)
        page.context.close()
