"""The convolution & weight-sharing tab in a real browser (headless Chromium, the tab served alone):
a page in Chinese shows its sentences, tables, figures and example buttons in Chinese, after the first
result and after one more request of each kind.

A screenshot goes to artifacts/browser/convolution_zh.png.
"""

from __future__ import annotations

import re

import pytest
from conftest import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

LAPTOP = {"width": 1400, "height": 1000}
# Names a Chinese page keeps: the methods and libraries (FFT, Winograd, im2col, GEMM, conv2d, PyTorch,
# NumPy, Python, oneDNN, cuDNN), Huffman coding, COCO and CI, RGB, CPU/GPU (and torch's device name
# "cpu"), fp32, the safetensors format, the units (KB, MFLOP, GFLOP/s, FLOPs), the paper (Han, Mao &
# Dally, Deep Compression, ICLR) and its AlexNet's layers (fc6...), and the frontier's command line
# (python -m demos.convolution.frontier) in the frontier plot's title.
KEPT = {"FFT", "Winograd", "im", "col", "GEMM", "conv", "PyTorch", "NumPy", "Python", "oneDNN", "cuDNN",
        "Huffman", "COCO", "CI", "RGB", "CPU", "GPU", "cpu", "cuda", "fp", "safetensors", "KB", "MFLOP",
        "GFLOP", "FLOPs", "Han", "Mao", "Dally", "Deep", "Compression", "ICLR", "AlexNet", "fc", "python",
        "demos", "convolution", "frontier"}


@pytest.fixture(scope="module")
def url():
    from conftest import served

    with served(["convolution"]) as address:
        yield address


def _layer_words() -> set[str]:
    """The words in the compressed detector's module names (backbone.stage1.0.0, head.cls_logits...),
    which the per-layer table and the histogram show as they are: they are code."""
    from demos.convolution import targets

    names = [name for name, _ in targets.original(targets.DETECTOR).named_modules()]
    return {w for name in names for w in re.findall(r"[A-Za-z]{2,}", name)}


def test_convolution_tab_in_chinese_shows_no_english(browser, url):
    from conftest import english_on

    page = browser.new_context(viewport=LAPTOP, locale="zh-CN").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{url}?tab=convolution")
        # The first result of both halves: the compression's pictures and its sentence, the sweep.
        page.wait_for_selector("#compress-gallery img", timeout=300_000)
        page.wait_for_function(
            "() => document.querySelector('#compress-summary')?.innerText.includes('压缩')", timeout=120_000)
        page.wait_for_selector("#convolution-sweep .js-plotly-plot", timeout=300_000)
        # One more convolution: the 9×9 example, computed (its column buffer has 3·9·9 = 243 rows).
        page.locator("#convolution-examples button").nth(1).click()
        page.get_by_role("button", name="计算", exact=True).click()
        page.wait_for_function(
            "() => document.querySelector('#convolution-summary')?.innerText.includes('243 ×')",
            timeout=180_000)
        # One more compression: the defaults again, answered from the kept result (its own sentence).
        page.get_by_role("button", name="压缩", exact=True).click()
        page.wait_for_function(
            "() => document.querySelector('#compress-summary')?.innerText.includes('之前用相同设置')",
            timeout=180_000)
        page.wait_for_timeout(1500)  # the figures redraw after the text
        # The compressed file's name (model, settings, format) is a name, not a sentence.
        assert english_on(page, kept=KEPT | _layer_words(), skip="code, #compress-file") == []
        assert "FFT 的主场" in page.locator("#convolution-examples").inner_text()
        assert not errors, errors
    finally:
        page.screenshot(path=str(ARTIFACTS / "convolution_zh.png"), full_page=True)
        page.context.close()
