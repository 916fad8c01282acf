"""The acceleration tab in a real browser: it opens with the measurement kept on this machine, and
"Measure now" shows a progress bar, then a fresh table and plot."""

from __future__ import annotations

import pytest
import torch
from conftest import CHROMIUM

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
