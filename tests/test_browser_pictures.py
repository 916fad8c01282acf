"""The pose and CycleGAN tabs in a real browser: pictures whole (the rendered aspect ratio
is the source's, nothing clipped), captions under them and not cut, evidence large enough
to read, and the out-of-domain and offline messages where a visitor looks.

Screenshots go to artifacts/browser/pictures_*.png.
"""

from __future__ import annotations

import re

import pytest
from conftest import ARTIFACTS, CHROMIUM, ROOT
from PIL import Image

LAPTOP = {"width": 1440, "height": 900}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

# For each <img>: the rectangle its picture is drawn in (object-fit applied), the part of
# it left visible by every ancestor that clips, and the caption of its gallery tile.
MEASURE = """(selector) => [...document.querySelectorAll(selector)].map(img => {
  const box = img.getBoundingClientRect(), fit = getComputedStyle(img).objectFit;
  let w = box.width, h = box.height;
  const ratio = img.naturalWidth / img.naturalHeight;
  if (fit === 'contain' || fit === 'scale-down') {
    if (w / h > ratio) { w = h * ratio; } else { h = w / ratio; }
  }
  let left = box.left + (box.width - w) / 2, top = box.top + (box.height - h) / 2;
  let right = left + w, bottom = top + h;
  const drawn = {w, h};
  for (let el = img.parentElement; el; el = el.parentElement) {
    const cs = getComputedStyle(el);
    if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible') {
      const r = el.getBoundingClientRect();
      if (cs.overflowX !== 'visible') { left = Math.max(left, r.left); right = Math.min(right, r.right); }
      if (cs.overflowY !== 'visible') { top = Math.max(top, r.top); bottom = Math.min(bottom, r.bottom); }
    }
  }
  const tile = img.closest('.thumbnail-item');
  const cap = tile ? tile.querySelector('.caption-label') : null;
  return {natural: [img.naturalWidth, img.naturalHeight], fit, drawn, visible: [right - left, bottom - top],
          imgBottom: top + h,
          caption: cap ? {text: cap.textContent, top: cap.getBoundingClientRect().top,
                          cut: cap.scrollWidth > cap.clientWidth + 1
                               || cap.scrollHeight > cap.clientHeight + 1} : null};
})"""


@pytest.fixture(scope="module")
def url():
    from conftest import served

    with served(["pose", "cyclegan"]) as address:
        yield address


def _open(browser, url: str, tab: str, locale: str = "en-US"):
    page = browser.new_context(viewport=LAPTOP, locale=locale).new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(f"{url}?tab={tab}")
    return page


def _pictures(page, selector: str, count: int) -> list[dict]:
    """The measured pictures under `selector`, once `count` of them have loaded."""
    page.wait_for_function(
        "([sel, n]) => [...document.querySelectorAll(sel)].filter(i => i.complete && i.naturalWidth)"
        ".length >= n", arg=[selector, count], timeout=90_000)
    page.wait_for_timeout(500)  # layout settles after the last load
    return page.evaluate(MEASURE, selector)


def _assert_whole(pictures: list[dict], min_side: float = 0) -> None:
    for p in pictures:
        nw, nh = p["natural"]
        vw, vh = p["visible"]
        assert vw > 0 and vh > 0, p
        # Nothing clipped, and drawn at the source's aspect ratio (1 px of rounding allowed).
        assert abs(vw - p["drawn"]["w"]) <= 1.5 and abs(vh - p["drawn"]["h"]) <= 1.5, f"clipped: {p}"
        assert abs(vw / vh - nw / nh) <= 0.02 * (nw / nh) + 1.5 / vh, f"aspect ratio changed: {p}"
        assert max(vw, vh) >= min_side, f"too small to read: {p}"
        if p["caption"] is not None:
            assert not p["caption"]["cut"], f"caption cut: {p['caption']}"
            assert p["caption"]["top"] >= p["imgBottom"] - 1, f"caption over the picture: {p}"


def _no_error(page) -> None:
    errors = page.locator(".toast-body.error")
    assert errors.count() == 0, errors.first.inner_text()
    # No output carries Gradio's "Error" badge, and the page's scripts raised nothing.
    assert page.get_by_text("Error", exact=True).count() == 0
    assert not page.errors, page.errors


def test_pose_pictures_are_whole_with_their_counts(browser, url, tmp_path):
    page = _open(browser, url, "pose")
    try:
        shown = _pictures(page, "#pose-gallery img", 2)
        _assert_whole(shown, min_side=256)
        assert all(re.search(r" · \d+ people · \d+ ms$", p["caption"]["text"]) for p in shown), shown
        _assert_whole(_pictures(page, "#pose-evidence img", 3), min_side=256)
        # A tall picture and a wide one: neither is cut to a square.
        scene = next((ROOT / "examples" / "pose").glob("scene_*_4people.png"))
        tall = Image.new("RGB", (128, 320))
        tall.paste(Image.open(scene), (0, 0))
        tall.paste(Image.open(scene).transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, 160))
        tall.save(tmp_path / "tall.png")
        cat = ROOT / "examples" / "photos" / "cat.jpg"
        for picture, ratio in ((tmp_path / "tall.png", 0.4), (cat, 451 / 300)):
            page.locator("#pose-input input[type=file]").set_input_files(str(picture))
            page.wait_for_function(
                "(r) => [...document.querySelectorAll('#pose-gallery img')].filter(i => i.complete"
                " && Math.abs(i.naturalWidth / i.naturalHeight - r) < 0.02).length >= 2", arg=ratio,
                timeout=90_000)
            _assert_whole(_pictures(page, "#pose-gallery img", 2), min_side=256)
            _assert_whole(_pictures(page, "#pose-evidence img", 3))
        _no_error(page)
    finally:
        page.screenshot(path=str(ARTIFACTS / "pictures_pose.png"), full_page=True)
        page.context.close()


def test_pose_photo_example_offline_runs_and_warns(browser, url):
    page = _open(browser, url, "pose")
    try:
        _pictures(page, "#pose-gallery img", 2)
        page.locator("#pose-examples-photos button").first.click()
        page.wait_for_selector("#pose-notice", state="visible", timeout=90_000)
        assert "This looks like a photo" in page.locator("#pose-notice").inner_text()
        shown = _pictures(page, "#pose-gallery img", 2)
        assert [p["natural"] for p in shown] == [[512, 512]] * 2  # the astronaut, through both bundled models
        _no_error(page)
        # Back to a generated scene: the warning goes away.
        page.locator("#pose-examples button").first.click()
        page.wait_for_selector("#pose-notice", state="hidden", timeout=90_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "pictures_pose_photo.png"), full_page=True)
        page.context.close()


def test_pose_warning_follows_the_page_language(browser, url):
    page = _open(browser, url, "pose", locale="zh-CN")
    try:
        _pictures(page, "#pose-gallery img", 2)
        page.locator("#pose-examples-photos button").first.click()
        page.wait_for_selector("#pose-notice", state="visible", timeout=90_000)
        assert "这看起来是一张照片" in page.locator("#pose-notice").inner_text()
        page.wait_for_function("() => [...document.querySelectorAll('#pose-gallery .caption-label')]"
                               ".some(c => c.textContent.includes(' 人 · '))", timeout=60_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "pictures_pose_zh.png"), full_page=True)
        page.context.close()


def test_pose_tab_in_chinese_shows_no_english(browser, url):
    """Everything the pose tab shows on opening, the measured sentences included, is Chinese apart
    from names, units and code."""
    from conftest import english_on

    page = _open(browser, url, "pose", locale="zh-CN")
    try:
        _pictures(page, "#pose-gallery img", 2)
        page.wait_for_function(
            "() => document.querySelector('#pose-accuracy-text')?.innerText.includes('人时')", timeout=60_000)
        assert english_on(page) == []
    finally:
        page.context.close()


CYCLEGAN_EVIDENCE = "#cyclegan-overlay img, #cyclegan-change img, #cyclegan-cycle img"


def test_cyclegan_evidence_is_whole_and_readable(browser, url):
    page = _open(browser, url, "cyclegan")
    try:
        _assert_whole(_pictures(page, CYCLEGAN_EVIDENCE, 3), min_side=256)
        # A wide photo through a bundled pair: whole pictures, and the warning in the summary.
        page.locator("#cyclegan-examples-photos button, #cyclegan-examples-photos tbody tr").nth(2).click()
        page.wait_for_function("() => document.querySelector('#cyclegan-summary').innerText"
                               ".includes('This looks like a photo')", timeout=90_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#cyclegan-overlay img')].some(i => i.complete"
            " && i.naturalWidth > i.naturalHeight * 1.2)", timeout=90_000)
        _assert_whole(_pictures(page, CYCLEGAN_EVIDENCE, 3), min_side=256)
        _no_error(page)
    finally:
        page.screenshot(path=str(ARTIFACTS / "pictures_cyclegan.png"), full_page=True)
        page.context.close()


def test_cyclegan_official_model_offline_says_so_and_keeps_the_result(browser, url):
    page = _open(browser, url, "cyclegan")
    try:
        _pictures(page, CYCLEGAN_EVIDENCE, 3)
        page.locator("#cyclegan-model input").click()
        page.get_by_role("option", name=re.compile("horse2zebra")).click()
        page.wait_for_function("() => document.querySelector('#cyclegan-summary').innerText"
                               ".includes('needs a download')", timeout=60_000)
        assert "still the last result" in page.locator("#cyclegan-summary").inner_text()
        assert page.locator(CYCLEGAN_EVIDENCE).count() == 3  # the last pictures stay
        _no_error(page)
    finally:
        page.screenshot(path=str(ARTIFACTS / "pictures_cyclegan_offline.png"), full_page=True)
        page.context.close()


# Names and units the Chinese CycleGAN tab keeps: its metrics (Gram distance, gradient SSIM) and px.
CYCLEGAN_KEPT = {"Gram", "SSIM", "px"}
# Gradio's progress line on an output still computing ("processing |") is its own English: the page is
# read once no event has run for 1.5 s (an example fills three inputs, whose change events follow).
def test_cyclegan_tab_in_chinese_shows_no_english(browser, url):
    """On opening and after another translation: the summary, the reach experiment, the labels and the
    examples (all on one page, so no pager of Gradio's) in Chinese apart from names and units."""
    from conftest import english_on, settled

    page = _open(browser, url, "cyclegan", locale="zh-CN")
    summary = page.locator("#cyclegan-summary")
    try:
        _pictures(page, CYCLEGAN_EVIDENCE, 3)
        page.wait_for_function("() => document.querySelector('#cyclegan-summary')?.innerText"
                               ".includes('用时')", timeout=90_000)
        assert page.locator("#cyclegan-examples img").count() == 8  # every generated scene, no pages
        settled(page)
        first = english_on(page, kept=CYCLEGAN_KEPT)
        # One more request: a geometry scene, translated by the disc → square generator.
        page.locator("#cyclegan-examples button, #cyclegan-examples tbody tr").nth(4).click()
        page.wait_for_function("() => document.querySelector('#cyclegan-summary')?.innerText"
                               ".includes('cyclegan-disc2square')", timeout=90_000)
        settled(page)
        assert "结构保留" in summary.inner_text()
        _no_error(page)
        assert (first, english_on(page, kept=CYCLEGAN_KEPT)) == ([], [])
        # The model picker's value is an input's, which english_on does not read: its label too.
        assert page.locator("#cyclegan-model input").input_value() == "cyclegan-disc2square — 圆盘 → 方块"
    finally:
        page.screenshot(path=str(ARTIFACTS / "pictures_cyclegan_zh.png"), full_page=True)
        page.context.close()
