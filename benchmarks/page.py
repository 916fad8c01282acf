"""The page in a real browser: how soon the opened tab shows its first result, and what a
page load computes.

    python -m benchmarks.page [--repeats 3]

Each tab is opened by a `?tab=<id>` link in a fresh browser context, on a warm server (every
tab visited once first, so models are loaded). Reported per tab: the median time from the
page's load event to the tab's first result being visible, and the events the page queued
(each a model or playground computation): only the opened tab's should run. The Overview,
which the plain address opens, should queue none. Beside each tab: its ratio to the page
floor (`benchmarks/page_floor.py`, a one-tab Gradio page whose load event returns one
picture), opened the same way in the same run, which is what any Gradio page pays before
a tab's own work. Needs Playwright and Chromium (the dev requirements and `.ci/run`
install them); without them the rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

GOAL_FIRST_RESULT_MS = 1000.0  # the opened tab's first result after the page's load event, warm server
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# tab id -> CSS selector of the output that shows the tab's first result.
FIRST_RESULT = {
    "overview": "#overview .question-link",
    "detection": "#detection-gallery img",
    "cyclegan": "#cyclegan-slider img",
    "pose": "#pose-gallery img",
    "optimizers": "#optimizers-contour .js-plotly-plot",
    "roi": "#roi-overlay img",
    "limits": "#limits-gallery img",
    "convolution": "#compress-gallery img",
    "acceleration": "#acceleration-summary p",
    "models": "#models-table >> text=tiny-retinanet-focal",
}

SINCE_LOAD = "performance.now() - performance.getEntriesByType('navigation')[0].loadEventEnd"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_tab(browser: Any, url: str, tab: str, timeout_ms: float = 120_000,
             result: str | None = None) -> dict[str, Any]:
    """Open `url` on `tab` in a fresh context (the plain address for "overview" or when `result`,
    the selector of the first result, is given). Returns `ms` (load event to the first result),
    `queued` (the fn_index of every event the page put in the queue: the computations) and
    `events` (those and the events run outside the queue, such as the `?tab=` link's own)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    queued: list[int] = []
    events: list[int] = []

    def on_request(request: Any) -> None:
        path = urlsplit(request.url).path.rstrip("/")
        if request.method == "POST" and path.endswith(("/queue/join", "/run/predict")):
            events.append(json.loads(request.post_data or "{}").get("fn_index", -1))
            if path.endswith("/queue/join"):
                queued.append(events[-1])

    page.on("request", on_request)
    try:
        plain = tab == "overview" or result is not None
        page.goto(url.rstrip("/") + ("/" if plain else f"/?tab={tab}"), wait_until="load")
        page.wait_for_selector(result or FIRST_RESULT[tab], state="visible", timeout=timeout_ms)
        ms = max(0.0, float(page.evaluate(SINCE_LOAD)))
        page.wait_for_timeout(500)  # anything else the load would have started has been sent by now
        return {"ms": ms, "queued": list(queued), "events": list(events)}
    finally:
        context.close()


def measure_tabs(url: str, tabs: list[str], repeats: int = 3) -> dict[str, dict[str, Any]]:
    """For each tab: the median `ms` over `repeats` warm openings and the events one opening queued."""
    out: dict[str, dict[str, Any]] = {}
    with chromium() as browser:
        for tab in tabs:  # warm-up: every model the first results need is loaded once
            open_tab(browser, url, tab)
        for tab in tabs:
            runs = [open_tab(browser, url, tab) for _ in range(repeats)]
            out[tab] = {"ms": statistics.median(r["ms"] for r in runs), "queued": runs[-1]["queued"]}
    return out


def measure_floor(repeats: int = 3) -> float:
    """The page floor's median first-result time (ms), opened as the tabs are."""
    from benchmarks import page_floor
    from benchmarks.timing import launched_app

    with launched_app(script=[page_floor.__file__]) as floor, chromium() as browser:
        open_tab(browser, floor.url, "floor", result=page_floor.RESULT)  # warm-up
        return statistics.median(open_tab(browser, floor.url, "floor", result=page_floor.RESULT)["ms"]
                                 for _ in range(repeats))


def rows(url: str, tabs: list[str], repeats: int = 3) -> list[dict]:
    """Benchmark rows: the page floor, one per tab (first result after load, with its ratio to
    the floor) and the Overview's queued events."""
    from benchmarks.timing import row

    if chromium_path() is None:
        return []
    floor_ms = measure_floor(repeats)
    found = measure_tabs(url, tabs, repeats)
    out = [row("page floor: a one-tab Gradio page, load event to its one picture", floor_ms,
               device="browser")]
    for tab in tabs:
        if tab == "overview":
            n = len(found[tab]["queued"])
            out.append(row("page: events queued by opening the Overview", n, device="browser", unit="events",
                           goal="0", met=n == 0))
            continue
        ms, n = found[tab]["ms"], len(found[tab]["queued"])
        out.append(row(f"page: `?tab={tab}` first result after load ({n} queued; "
                       f"{ms / max(floor_ms, 1e-9):.1f}× the page floor)", ms, device="browser",
                       goal=f"≤ {GOAL_FIRST_RESULT_MS:.0f} ms", met=ms <= GOAL_FIRST_RESULT_MS))
    return out


def main() -> None:
    from benchmarks.__main__ import table
    from benchmarks.timing import launched_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if chromium_path() is None:
        raise SystemExit("Chromium is not installed: apt-get install chromium (see .ci/run).")
    with launched_app() as app:
        print(table(rows(app.url, list(FIRST_RESULT), args.repeats)))


if __name__ == "__main__":
    main()
