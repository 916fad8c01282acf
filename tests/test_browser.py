"""The suite in a real browser: headless Chromium opens every tab, runs its first
example, and checks that the outputs fill and no error appears.

Screenshots go to artifacts/browser/<tab>.png (kept by CI as artifacts).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

# tab id -> (tab title, CSS selector of an output that must fill, selector of its first example)
TABS = {
    "detection": ("Detection: focal loss", "#detection-gallery img", "#detection-examples-scenes button"),
    "cyclegan": ("CycleGAN: texture, not geometry", "#cyclegan-slider img",
                 "#cyclegan-examples tbody tr, #cyclegan-examples button"),
    "pose": ("Pose: top-down vs bottom-up", "#pose-gallery img", "#pose-examples button"),
    "optimizers": ("Optimizer playground", "#optimizers-contour .js-plotly-plot", None),
    "roi": ("ROIPool vs ROIAlign", "#roi-overlay img", "#roi-examples-scenes button"),
    "limits": ("What a perfect detector misses", "#limits-gallery img", "#limits-examples button"),
    "convolution": ("Convolution & weight sharing", "#compress-gallery img",
                    "#convolution-examples tbody tr, #convolution-examples button"),
    "models": ("Models", "#models-table >> text=tiny-retinanet-focal", None),
}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _open(browser, url: str, ready: str = "button[role=tab]", **context):
    """A fresh page (its own cookies, locale and window size) with the app loaded."""
    page = browser.new_context(**context).new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector(ready, timeout=60_000)
    return page


@pytest.fixture(scope="module")
def page(browser, app_url):
    """A laptop-width window, kept open while the tests visit every tab in turn."""
    page = _open(browser, app_url, viewport={"width": 1400, "height": 1000})
    yield page
    page.context.close()


def _no_error_toast(page) -> None:
    toasts = page.locator(".toast-body.error")
    assert toasts.count() == 0, toasts.first.inner_text()


@pytest.mark.parametrize("tab", list(TABS))
def test_tab_opens_ready_and_runs_its_first_example(page, tab):
    title, output, example = TABS[tab]
    page.get_by_role("tab", name=title).click()
    page.wait_for_selector(output, state="visible", timeout=60_000)
    if example is not None:
        page.locator(example).first.click()
        page.wait_for_timeout(500)
        page.wait_for_selector(output, state="visible", timeout=60_000)
    page.wait_for_timeout(1000)  # let late events settle before looking for errors
    _no_error_toast(page)
    page.screenshot(path=str(ARTIFACTS / f"{tab}.png"), full_page=True)
    assert not page.errors, page.errors


PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("tab", list(TABS))
def test_phone_width_layout_has_no_sideways_scrolling(browser, app_url, tab):
    page = _open(browser, f"{app_url}?tab={tab}", viewport=PHONE)
    try:
        page.wait_for_selector(TABS[tab][1], state="visible", timeout=60_000)
    finally:  # what the phone showed, also when the output never came
        page.screenshot(path=str(ARTIFACTS / f"phone_{tab}.png"), full_page=True)
    page.wait_for_timeout(1000)
    # clientWidth is the screen's width; scrollWidth grows with anything wider than it.
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=str(ARTIFACTS / f"phone_{tab}.png"), full_page=True)
    assert overflow <= 2, f"the page is {overflow} px wider than a phone screen"
    _no_error_toast(page)
    page.context.close()


def test_a_link_opens_the_tab_it_names(browser, app_url):
    page = _open(browser, f"{app_url}?tab=pose")
    selected = page.locator("button[role=tab][aria-selected=true]").first
    page.wait_for_function("document.querySelector('button[role=tab][aria-selected=true]')"
                           ".innerText.startsWith('Pose')", timeout=30_000)
    assert selected.inner_text().startswith("Pose")
    page.wait_for_selector(TABS["pose"][1], state="visible", timeout=60_000)
    page.context.close()


def test_chinese_browser_gets_chinese_and_can_switch_to_english(browser, app_url):
    page = _open(browser, app_url, locale="zh-CN")
    page.get_by_role("tab", name="检测：Focal Loss").wait_for(timeout=30_000)
    page.get_by_text("单阶段检测器如何应对前景极少、背景极多的问题？").wait_for(timeout=30_000)
    page.wait_for_selector(TABS["detection"][1], state="visible", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "detection_zh-CN.png"), full_page=False)
    # The switch: Settings at the foot of the page, then Language.
    page.locator("footer").get_by_text("设置").click()
    page.get_by_role("combobox", name="Language").click()
    page.get_by_role("option", name="English").first.click()
    page.get_by_role("tab", name=TABS["detection"][0]).wait_for(timeout=30_000)
    assert not page.errors, page.errors
    page.context.close()


def test_copied_link_reopens_the_view(browser, app_url):
    page = _open(browser, f"{app_url}?tab=cyclegan")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.wait_for_selector(TABS["cyclegan"][1], state="visible", timeout=60_000)
    page.get_by_role("radio", name="B→A").check()
    page.wait_for_timeout(3000)  # let the translation finish, so the saved view holds it
    page.get_by_role("button", name="Copy a link to this view").first.click()
    page.wait_for_function("navigator.clipboard.readText().then(t => t.includes('deep_link='))",
                           timeout=30_000)
    link = page.evaluate("navigator.clipboard.readText()")
    page.context.close()
    again = _open(browser, link)
    again.wait_for_selector(TABS["cyclegan"][1], state="visible", timeout=60_000)
    assert again.get_by_role("radio", name="B→A").is_checked()
    _no_error_toast(again)
    again.context.close()


def test_spaces_cache_each_example_on_first_click(browser, tmp_path, monkeypatch):
    # On Spaces (SYSTEM=spaces) examples are cached lazily; VISIONLAB_CACHE_EXAMPLES=1 asks
    # for the same here, with the cache in a fresh folder.
    monkeypatch.setenv("VISIONLAB_CACHE_EXAMPLES", "1")
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    from tests.conftest import served

    with served(["pose"]) as url:
        page = _open(browser, url, ready=TABS["pose"][1])  # one demo alone: no tabs
        page.locator(TABS["pose"][2]).nth(1).click()
        page.wait_for_function("() => [...document.querySelectorAll('#pose-gallery img')]"
                               ".length > 0", timeout=60_000)
        page.wait_for_timeout(2000)
        _no_error_toast(page)
        cached = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert cached, "clicking an example cached nothing"
        page.context.close()


def test_figures_can_be_downloaded(page):
    # Plots carry plotly's "Download plot as a png"; pictures carry Gradio's download button.
    page.get_by_role("tab", name=TABS["optimizers"][0]).click()
    page.wait_for_selector(TABS["optimizers"][1], state="visible", timeout=60_000)
    assert page.locator('#optimizers-contour .modebar-btn[data-title^="Download"]').count() == 1
    page.get_by_role("tab", name=TABS["cyclegan"][0]).click()
    page.wait_for_selector(TABS["cyclegan"][1], state="visible", timeout=60_000)
    slider = page.locator("#cyclegan-slider")
    assert slider.get_by_role("button", name="Download").count() + slider.locator("a[download]").count() >= 1
