"""The acceleration tab in a real browser: it opens with the measurement kept on this machine, and
"Measure now" shows a progress bar, then a fresh table and plot."""

from __future__ import annotations

import re

import pytest
import torch
from conftest import ARTIFACTS, CHROMIUM

from demos.acceleration import cache, measure
from shared.device import configure_threads

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

KEPT = ("cyclegan-plain2striped", 128, ["channels-last"])


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A measurement kept in a folder of this test's own, taken with the app's threads per call."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VISIONLAB_ACCELERATION_DIR", str(tmp_path_factory.mktemp("acceleration")))
        before = torch.get_num_threads()
        configure_threads()
        model, size, techniques = KEPT
        yield cache.save(measure.measure(model, size, techniques, repeats=3))
        torch.set_num_threads(before)


def test_the_tab_opens_with_the_kept_table_and_measure_now_refills_it(kept, browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{app_url}?tab=acceleration")
    summary, table = page.locator("#acceleration-summary"), page.locator("#acceleration-table")
    page.wait_for_function("document.querySelector('#acceleration-summary')?.innerText"
                           ".includes('Measured earlier')", timeout=60_000)
    assert KEPT[0] in summary.inner_text() and "channels-last" in table.inner_text()
    page.locator("#acceleration-measure").click()
    page.wait_for_selector("#acceleration-table .progress-bar", timeout=30_000)  # the measurement's bar
    page.wait_for_function("!document.querySelector('#acceleration-summary')?.innerText"
                           ".includes('Measured earlier')", timeout=240_000)
    text = table.inner_text()
    assert "tiny-retinanet-focal" in summary.inner_text() and "int8 static (x86)" in text
    assert page.locator("#acceleration-plot .js-plotly-plot").count() == 1
    assert page.locator(".toast-body.error").count() == 0 and not errors, errors
    page.close()


# The smallest measurement the app tests take: the small generator at 128 px, three techniques (one
# skipped without a GPU), three timed calls each.
SMALL = ("cyclegan-plain2striped", 128, ["channels-last", "bf16 autocast + channels-last", "CUDA graphs"], 3)
# Names a Chinese page keeps: the techniques that are torch's own names or code (fp32 eager,
# inference_mode, channels-last, bf16/fp16 autocast, torch.compile, CUDA, int8), the processor, torch,
# torch's device names, CPU/GPU, CI (the confidence interval's abbreviation), COCO, Huffman coding,
# NMS, torch's Linear layers, and the parts of a model int8 quantises (their attribute names: code).
KEPT_ZH = {"fp", "eager", "inference", "mode", "channels", "last", "bf", "autocast", "torch", "compile",
           "CUDA", "int", "CPU", "GPU", "cpu", "cuda", "CI", "COCO", "Huffman", "NMS", "Linear", "backbone",
           "body", "head", "net", "keypoints",
           "AVX", "BF", "AMX"}  # instruction sets, named where a CPU lacks bf16 units (AVX512-BF16, AMX)


def _machine_words() -> set[str]:
    """The words of this machine's description (its processor's name, the torch build) in the summary."""
    import re

    from shared.acceleration import machine_label

    return set(re.findall(r"[A-Za-z]{2,}", machine_label())) - {"cores"}


def test_acceleration_tab_in_chinese_shows_no_english(kept, browser, app_url):
    """The kept measurement on opening and a fresh one after "Measure now": sentences, table, plot,
    choices and labels in Chinese apart from names, units and code."""
    from conftest import english_on

    page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every text Gradio's progress line over an output shows while the measurement runs, read
    # as it is painted: after every observer of the change, the page's own included, has run.
    page.add_init_script("""window.progressTexts = new Set();
        new MutationObserver(() => queueMicrotask(() => document.querySelectorAll('.progress-text').forEach(
            (el) => window.progressTexts.add(el.textContent)))).observe(document,
            {subtree: true, childList: true, characterData: true});""")
    try:
        page.goto(f"{app_url}?tab=acceleration")
        page.wait_for_function("document.querySelector('#acceleration-summary')?.innerText.includes('之前于')",
                               timeout=60_000)  # the kept measurement, said in Chinese
        page.wait_for_selector("#acceleration-plot .js-plotly-plot", timeout=30_000)
        assert english_on(page, kept=KEPT_ZH | _machine_words()) == []
        model, size, techniques, repeats = SMALL
        page.locator("#acceleration-model input").click()
        page.get_by_role("option", name=model, exact=True).click()
        for slider, value in (("#acceleration-size", size), ("#acceleration-repeats", repeats)):
            page.locator(f"{slider} input[type=number]").fill(str(value))
            page.locator(f"{slider} input[type=number]").press("Enter")
        for box in page.locator("#acceleration-techniques input[type=checkbox]").all():
            box.set_checked(box.get_attribute("name") in techniques)
        page.locator("#acceleration-measure").click()
        page.wait_for_function(
            "document.querySelector('#acceleration-summary')?.innerText.includes('轮流计时 3 次')"
            " && !document.querySelector('#acceleration-summary').innerText.includes('之前于')",
            timeout=240_000)
        page.wait_for_timeout(1500)  # the plot redraws after the text
        table = page.locator("#acceleration-table").inner_text()
        assert "跳过" in table and "需要 CUDA GPU" in table  # the skipped row says why, in Chinese
        # Gradio writes "processing |" and "queue: 1/1 |" there in English; the page's script
        # rewrites them (shared/page_language.js).
        shown = page.evaluate("[...window.progressTexts]")
        assert any("处理中" in t for t in shown), shown
        assert [t for t in shown if re.search(r"processing|queue", t)] == [], shown
        assert english_on(page, kept=KEPT_ZH | _machine_words()) == []
        assert page.locator(".toast-body.error").count() == 0 and not errors, errors
    finally:
        page.screenshot(path=str(ARTIFACTS / "acceleration_zh.png"), full_page=True)
        page.context.close()
