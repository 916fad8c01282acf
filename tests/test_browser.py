"""The suite in a real browser: headless Chromium opens every tab, runs its first
example, and checks that the outputs fill and no error appears.

Screenshots go to artifacts/browser/<tab>.png (kept by CI as artifacts).
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, CHROMIUM

import app
from benchmarks.page import FIRST_RESULT

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")

# The tabs and their titles come from the app, in the tab bar's order.
TITLES = app.tab_titles()
# tab id -> (CSS selector of an output that must fill, selector of its first example or None).
# The outputs are the ones the page benchmark waits for. A tab the app has and this table lacks
# fails every test below that visits it.
EXAMPLES = {
    "detection": "#detection-examples-scenes button",
    "cyclegan": "#cyclegan-examples tbody tr, #cyclegan-examples button",
    "pose": "#pose-examples button",
    "roi": "#roi-examples-scenes button",
    "limits": "#limits-examples button",
    "convolution": "#convolution-examples tbody tr, #convolution-examples button",
}
SELECTORS = {tab: (output, EXAMPLES.get(tab)) for tab, output in FIRST_RESULT.items()}


def selectors(tab: str) -> tuple[str, str | None]:
    assert tab in SELECTORS, f"tab {tab!r} has no output selector in tests/test_browser.py SELECTORS"
    return SELECTORS[tab]


def test_every_tab_of_the_app_is_checked():
    assert set(SELECTORS) == set(TITLES)


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


@pytest.mark.parametrize("tab", list(TITLES))
def test_tab_opens_ready_and_runs_its_first_example(page, tab):
    output, example = selectors(tab)
    page.get_by_role("tab", name=TITLES[tab], exact=True).click()
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


@pytest.mark.parametrize("tab", list(TITLES))
def test_phone_width_layout_has_no_sideways_scrolling(browser, app_url, tab):
    page = _open(browser, f"{app_url}?tab={tab}", viewport=PHONE)
    try:
        # Far down a phone's page a lazily loaded picture keeps an empty box until it is
        # scrolled near, as a visitor would scroll to it.
        output = page.locator(selectors(tab)[0]).first
        output.wait_for(state="attached", timeout=60_000)
        output.evaluate("element => element.scrollIntoView({block: 'center'})")
        page.wait_for_selector(selectors(tab)[0], state="visible", timeout=60_000)
    finally:  # what the phone showed, also when the output never came
        page.screenshot(path=str(ARTIFACTS / f"phone_{tab}.png"), full_page=True)
    page.wait_for_timeout(1000)
    # clientWidth is the screen's width; scrollWidth grows with anything wider than it.
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=str(ARTIFACTS / f"phone_{tab}.png"), full_page=True)
    assert overflow <= 2, f"the page is {overflow} px wider than a phone screen"
    _no_error_toast(page)
    # `?tab=<id>` opened the tab it names.
    assert page.locator(f"{BAR}[aria-selected=true]").get_attribute("data-tab-id") == tab
    page.context.close()


# The suite's own tab bar (the tabs inside a tab have bars of their own).
BAR = "#suite-tabs > .tab-wrapper [role=tablist] > button[role=tab]"


def _bar_button(page, tab: str):
    return page.locator(f'{BAR}[data-tab-id="{tab}"]')


def _wait_selected(page, tab: str) -> None:
    page.wait_for_function(f"""document.querySelector('{BAR}[data-tab-id="{tab}"]')"""
                           """.getAttribute('aria-selected') === 'true'""", timeout=10_000)


def test_phone_shows_every_tab_title_and_each_opens_its_tab(browser, app_url):
    """At 390 px no tab hides behind a "more tabs" menu: each title is on screen, whole, and
    opens its tab; and each of the Overview's questions opens the tab that answers it."""
    page = _open(browser, app_url, viewport=PHONE)
    page.wait_for_selector(selectors("overview")[0], state="visible", timeout=60_000)
    more = page.get_by_role("button", name="More tabs")
    assert more.count() == 0 or not more.first.is_visible(), "some tabs hide behind the overflow menu"
    page.screenshot(path=str(ARTIFACTS / "phone_tab_bar.png"), full_page=False)
    for tab, title in TITLES.items():
        button = _bar_button(page, tab)
        assert button.is_visible(), f"{title!r} is not visible on a phone"
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{title!r} runs off the screen"
        assert button.inner_text().strip() == title  # the whole title, not cut
        button.click()
        _wait_selected(page, tab)
    bar = page.locator("#suite-tabs > .tab-wrapper").bounding_box()
    print(f"phone tab bar: {len(TITLES)} titles in {bar['height']:.0f} px")
    for tab, question in app.QUESTIONS:
        _bar_button(page, "overview").click()
        link = page.locator("#overview").get_by_role("button", name=question, exact=True)
        if tab not in TITLES:  # a question without its tab yet: shown greyed out
            assert link.is_disabled()
            continue
        link.click()
        _wait_selected(page, tab)
    assert not page.errors, page.errors
    page.context.close()


def test_a_link_opens_the_tab_it_names(browser, app_url):
    page = _open(browser, f"{app_url}?tab=pose")
    selected = page.locator("button[role=tab][aria-selected=true]").first
    page.wait_for_function("document.querySelector('button[role=tab][aria-selected=true]')"
                           ".innerText.startsWith('Pose')", timeout=30_000)
    assert selected.inner_text().startswith("Pose")
    page.wait_for_selector(selectors("pose")[0], state="visible", timeout=60_000)
    page.context.close()


def test_chinese_browser_gets_chinese_and_can_switch_to_english(browser, app_url):
    page = _open(browser, f"{app_url}?tab=detection", locale="zh-CN")
    page.get_by_role("tab", name="检测：Focal Loss").wait_for(timeout=30_000)
    page.get_by_text("单阶段检测器如何应对前景极少、背景极多的问题？").wait_for(timeout=30_000)
    page.wait_for_selector(selectors("detection")[0], state="visible", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "detection_zh-CN.png"), full_page=False)
    # The switch: Settings at the foot of the page, then Language.
    page.locator("footer").get_by_text("设置").click()
    page.get_by_role("combobox", name="Language").click()
    page.get_by_role("option", name="English").first.click()
    page.get_by_role("tab", name=TITLES["detection"]).wait_for(timeout=30_000)
    assert not page.errors, page.errors
    page.context.close()


def test_copied_link_reopens_the_view(browser, app_url):
    page = _open(browser, f"{app_url}?tab=cyclegan")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.wait_for_selector(selectors("cyclegan")[0], state="visible", timeout=60_000)
    page.get_by_role("radio", name="B→A").check()
    page.wait_for_timeout(3000)  # let the translation finish, so the saved view holds it
    page.get_by_role("button", name="Copy a link to this view").first.click()
    # Polled from here: `wait_for_function` takes a pending promise for a truthy answer.
    link = ""
    for _ in range(60):
        link = page.evaluate("navigator.clipboard.readText()")
        if "deep_link=" in link:
            break
        page.wait_for_timeout(500)
    assert "deep_link=" in link, link
    page.context.close()
    again = _open(browser, link)
    again.wait_for_selector(selectors("cyclegan")[0], state="visible", timeout=60_000)
    assert again.get_by_role("radio", name="B→A").is_checked()
    _no_error_toast(again)
    again.context.close()


def test_an_example_is_computed_in_each_visitors_language_and_never_cached(browser, tmp_path, monkeypatch):
    # A cached example would show the first visitor's language to everyone after (its captions
    # are per-request texts), so examples are not cached, on Spaces (SYSTEM=spaces) either.
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    from tests.conftest import served

    captions = "() => [...document.querySelectorAll('#pose-gallery .caption-label')].map(e => e.innerText)"
    with served(["pose"]) as url:
        for locale, word in (("zh-CN", " 人"), ("en-US", " people")):
            page = _open(browser, url, ready=selectors("pose")[0], locale=locale)  # one demo alone
            page.locator(selectors("pose")[1]).nth(1).click()
            page.wait_for_function(f"() => ({captions})().some(t => t.includes({word!r}))", timeout=60_000)
            _no_error_toast(page)
            page.context.close()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "an example was cached"


def test_figures_can_be_downloaded(page):
    # Plots carry plotly's "Download plot as a png"; pictures carry Gradio's download button.
    page.get_by_role("tab", name=TITLES["optimizers"]).click()
    page.wait_for_selector(selectors("optimizers")[0], state="visible", timeout=60_000)
    assert page.locator('#optimizers-contour .modebar-btn[data-title^="Download"]').count() == 1
    page.get_by_role("tab", name=TITLES["cyclegan"]).click()
    page.wait_for_selector(selectors("cyclegan")[0], state="visible", timeout=60_000)
    slider = page.locator("#cyclegan-slider")
    assert slider.get_by_role("button", name="Download").count() + slider.locator("a[download]").count() >= 1
