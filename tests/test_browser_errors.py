"""An error a visitor causes, seen in headless Chromium on a page in Chinese: the toast is Chinese.

The pose tab is opened by its link, and a text file named .png is uploaded through the image
input, as a visitor could; the toast that refuses it must read in Chinese.
The screenshot goes to artifacts/browser/error_toast_zh.png.
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, CHROMIUM, MESSAGE_WORDS, english_words

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def url():
    from conftest import served

    with served(["pose", "optimizers"]) as address:  # two tabs: the suite's page, with its links
        yield address


def test_a_broken_upload_is_refused_in_chinese(browser, url, tmp_path):
    from conftest import settled

    notes = tmp_path / "notes.png"
    notes.write_bytes(b"These are meeting notes, not pixels.\n" * 20)
    page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
    try:
        page.goto(url + "?tab=pose")
        page.wait_for_selector("#pose-gallery img", state="visible", timeout=180_000)
        settled(page)
        assert page.locator(".toast-body.error").count() == 0
        page.locator("#pose-input input[type=file]").set_input_files(str(notes))
        toast = page.locator(".toast-body.error").first
        toast.wait_for(state="visible", timeout=90_000)
        shown = toast.locator('[data-testid="toast-text"]').all_inner_texts()
        assert shown and all("不是能读取的图片格式" in text for text in shown), shown
        assert english_words(shown, MESSAGE_WORDS) == []
        # The header: Gradio 6.31 writes it from the toast's type in English ("Error"), whatever
        # title the server sends; the app's style shows the Chinese word in its place.
        header = toast.locator(".toast-title").evaluate(
            "el => [getComputedStyle(el, '::before').content, getComputedStyle(el).visibility]")
        assert header == ['"错误"', "hidden"], header
    finally:
        page.screenshot(path=str(ARTIFACTS / "error_toast_zh.png"), full_page=True)
        page.context.close()
