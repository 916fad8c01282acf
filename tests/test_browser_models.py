"""The Overview and Models tabs in headless Chromium, in Chinese: no English outside names, units and
code, on opening and (Models) after the Refresh button reloads the registry.

Screenshots go to artifacts/browser/overview_zh.png and models_zh.png.
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

# The Overview's questions name three detectors (SSD, YOLOv3, Faster R-CNN) as their papers do; the
# words are read as letters only ("YOLOv" of YOLOv3).
OVERVIEW_KEPT = {"SSD", "YOLOv", "Faster", "CNN"}
# Names the Models tab keeps, besides the models' own and conftest's KEPT_WORDS: licences (MIT,
# BSD-3-Clause, the CycleGAN authors' repository pytorch-CycleGAN-and-pix2pix, CMU's OpenPose licence),
# libraries (torchvision, PyTorch, Caffe), datasets and their splits (COCO val2017, test-dev), metric
# names and units (Gram, GFLOPS, px), a paper's citation (Cao et al. 2017), and serving paths, which
# are technique names (fp32 eager, bf16 autocast + channels-last) as the acceleration tab shows them.
MODELS_KEPT = {"MIT", "BSD", "Clause", "pytorch", "and", "pix", "CMU", "OpenPose", "torchvision",
               "PyTorch", "Caffe", "COCO", "val", "test", "dev", "Gram", "GFLOPS", "px", "Cao", "et", "al",
               "fp", "eager", "bf", "autocast", "channels", "last"}
# Gradio marks an output being computed with .generating; the page is read once none has been for 1.5 s.
QUIET = """async () => {
  for (let quiet = 0, waited = 0; quiet < 1500; waited += 250) {
    if (waited > 120000) return false;
    await new Promise(done => setTimeout(done, 250));
    quiet = document.querySelector('.generating') ? 0 : quiet + 250;
  }
  return true;
}"""


@pytest.fixture(scope="module")
def url():
    from conftest import served

    # The two tabs' models (and, through pose, the detection tab's) fill the Models tab.
    with served(["pose", "cyclegan"]) as address:
        yield address


def _open(browser, url: str, tab: str):
    page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
    page.goto(f"{url}?tab={tab}")
    return page


def test_overview_in_chinese_shows_no_english(browser, url):
    from conftest import english_on

    page = _open(browser, url, "overview")
    try:
        page.get_by_text("面试笔记提出了十个问题").wait_for(timeout=60_000)
        page.locator("#overview code").get_by_text("?tab=roi").wait_for()  # the address is code
        assert english_on(page, kept=OVERVIEW_KEPT) == []
    finally:
        page.screenshot(path=str(ARTIFACTS / "overview_zh.png"), full_page=True)
        page.context.close()


def test_models_tab_in_chinese_shows_no_english(browser, url):
    from conftest import english_on

    page = _open(browser, url, "models")
    table = page.locator("#models-table")
    try:
        page.wait_for_function("() => document.querySelector('#models-table')?.innerText"
                               ".includes('预训练：')", timeout=120_000)
        text = table.inner_text()
        for said in ("在生成的验证场景上 AP", "结构保留：边缘 F 值", "CycleGAN：改纹理",
                     "许可证（仅限非商业研究）"):
            assert said in text
        first = english_on(page, kept=MODELS_KEPT)
        # One more request: Refresh reloads the registry (/models), then rewrites the tables.
        page.get_by_role("button", name="刷新", exact=True).click()
        page.wait_for_timeout(500)
        assert page.evaluate(QUIET), "the tables were still being rewritten after two minutes"
        assert table.inner_text() == text
        assert (first, english_on(page, kept=MODELS_KEPT)) == ([], [])
    finally:
        page.screenshot(path=str(ARTIFACTS / "models_zh.png"), full_page=True)
        page.context.close()
